"""`ConvEncoder`: Kim (2014)'s sentence CNN over word vectors (`WordClassifier`).

```python
pooled = ConvEncoder((3, 4), 16)(tf.random.normal([2, 6, 8]))  # [2, 32]
```
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class ConvEncoder(keras.layers.Layer):
    """Kim (2014)'s sentence CNN: parallel convolutions, max over time.

    One `Conv1D` (ReLU) per filter size over the word vectors, each
    max-pooled over the windows that lie inside the text (padding excluded;
    a text shorter than a filter uses its one padded window), concatenated.

    Args:
        filter_sizes: window widths in words.
        filters: feature maps per width.

    Example:

    ```python
    pooled = ConvEncoder((3, 4, 5), 100)(embedded, mask=ids != 0)  # [batch, 300]
    ```
    """

    def __init__(self, filter_sizes=(3, 4, 5), filters=100, **kwargs):
        super().__init__(**kwargs)
        self.filter_sizes = tuple(int(size) for size in filter_sizes)
        self.filters = int(filters)
        self.convolutions = [
            keras.layers.Conv1D(
                self.filters,
                size,
                activation="relu",
                dtype=self.dtype_policy,
                name=f"conv_{size}",
            )
            for size in self.filter_sizes
        ]
        self.supports_masking = True

    def build(self, input_shape):
        for convolution in self.convolutions:
            convolution.build(input_shape)
        self.built = True

    def call(self, inputs, mask=None):
        widest = max(self.filter_sizes)
        steps = tf.shape(inputs)[1]
        if mask is None:
            lengths = tf.fill(tf.shape(inputs)[:1], steps)
        else:
            lengths = tf.reduce_sum(tf.cast(mask, "int32"), axis=1)
        # Every text gets at least one window per filter size.
        inputs = tf.pad(inputs, [[0, 0], [0, tf.maximum(widest - steps, 0)], [0, 0]])
        pooled = []
        for size, convolution in zip(self.filter_sizes, self.convolutions):
            features = convolution(inputs)  # [batch, windows, filters], >= 0
            windows = tf.range(tf.shape(features)[1])
            inside = windows[None, :] <= tf.maximum(lengths - size, 0)[:, None]
            features = features * tf.cast(inside, features.dtype)[:, :, None]
            pooled.append(tf.reduce_max(features, axis=1))
        return tf.concat(pooled, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.filters * len(self.filter_sizes))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"filter_sizes": list(self.filter_sizes), "filters": self.filters}
        )
        return config

"""`RecurrentEncoder`: a BiLSTM over word vectors, max-pooled (`WordClassifier`).

```python
pooled = RecurrentEncoder(16)(tf.random.normal([2, 6, 8]))  # [2, 32]
```
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RecurrentEncoder(keras.layers.Layer):
    """A bidirectional LSTM over the words, max-pooled over the real ones.

    Args:
        units: LSTM units in each direction (the output has `2 * units`).

    Example:

    ```python
    pooled = RecurrentEncoder(128)(embedded, mask=ids != 0)  # [batch, 256]
    ```
    """

    def __init__(self, units=128, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.recurrent = keras.layers.Bidirectional(
            keras.layers.LSTM(
                self.units, return_sequences=True, dtype=self.dtype_policy
            ),
            dtype=self.dtype_policy,
            name="bilstm",
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.recurrent.build(input_shape)
        self.built = True

    def call(self, inputs, mask=None):
        states = self.recurrent(inputs, mask=mask)  # [batch, steps, 2 * units]
        if mask is None:
            return tf.reduce_max(states, axis=1)
        mask = tf.cast(mask, "bool")[:, :, None]
        lowest = tf.cast(-1e9, states.dtype)
        pooled = tf.reduce_max(tf.where(mask, states, lowest), axis=1)
        return tf.where(tf.reduce_any(mask, axis=1), pooled, tf.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * self.units)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config

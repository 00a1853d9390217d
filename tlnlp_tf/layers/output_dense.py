"""The last Dense layer of every head."""

import keras


def output_dense(units, layer, name):
    """The last Dense of a head: BERT's initialiser, the head's dtype policy.

    ```python
    dense = output_dense(2, keras.layers.Layer(), "logits")
    ```
    """
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype=layer.dtype_policy,
        name=name,
    )

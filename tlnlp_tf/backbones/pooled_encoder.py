"""A backbone and a pooling layer as one model: text features to one vector.

Feature extraction (`tlnlp_tf.tasks.feature_cache`) and contrastive
training (`tlnlp_tf.training.contrastive`) both need the task's text
encoder without its output layer: the backbone, then the head's pooling.

Example:

```python
encoder = pooled_encoder(model.backbone, model.head.pool)
vectors = encoder(model.preprocessor(["a fine film"]))  # [1, hidden]
```
"""

import keras


def pooled_encoder(backbone, pool):
    """A `keras.Model` from `backbone`'s inputs to `pool`'s vector (shared layers)."""
    inputs = backbone.input
    outputs = backbone(inputs)
    if not isinstance(outputs, dict):
        outputs = {"sequence_output": outputs}
    pooled = pool({**outputs, "padding_mask": inputs["padding_mask"]})
    return keras.Model(inputs, pooled, name="pooled_encoder")

"""Keras layers: pooling and task heads, one public layer per file.

Heads take the backbone's output dict plus the padding mask, so the same
head works on any keras-hub encoder:

```python
outputs = backbone(inputs)
logits = ClassificationHead(num_classes=2, pooling="mean")(
    {**outputs, "padding_mask": inputs["padding_mask"]}
)
```
"""

from tlnlp_tf.layers.classification_head import ClassificationHead
from tlnlp_tf.layers.conv_encoder import ConvEncoder
from tlnlp_tf.layers.cosine_similarity_head import CosineSimilarityHead
from tlnlp_tf.layers.crf import CRF
from tlnlp_tf.layers.crf import CRFLoss
from tlnlp_tf.layers.crf_token_head import CRFTokenHead
from tlnlp_tf.layers.recurrent_encoder import RecurrentEncoder
from tlnlp_tf.layers.regression_head import RegressionHead
from tlnlp_tf.layers.sequence_pooling import POOLINGS
from tlnlp_tf.layers.sequence_pooling import SequencePooling
from tlnlp_tf.layers.sequence_pooling import pooled_layer_count
from tlnlp_tf.layers.span_head import SpanHead
from tlnlp_tf.layers.token_classification_head import TokenClassificationHead

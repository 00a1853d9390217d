"""Export: write models in formats other tools read.

```python
from tlnlp_tf.export import export_huggingface

model = tl.TextClassifier.from_backbone(
    "minilm", labels=["neg", "pos"], pooling="pooled"
)
export_huggingface(model, "reviews-hf")  # BertForSequenceClassification
```
"""

from tlnlp_tf.export.huggingface import export_huggingface
from tlnlp_tf.export.saved_model import export_saved_model

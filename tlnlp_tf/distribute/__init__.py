"""Distribution: `strategy()` for plain `model.fit` on one device, several, or a TPU.

```python
import tlnlp_tf as tl

with tl.distribute.strategy("auto").scope():
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
```
"""

from tlnlp_tf.distribute.strategies import KINDS
from tlnlp_tf.distribute.strategies import _auto_kind  # noqa: F401 (tests)
from tlnlp_tf.distribute.strategies import check_global_batch
from tlnlp_tf.distribute.strategies import install_keras_shims
from tlnlp_tf.distribute.strategies import strategy

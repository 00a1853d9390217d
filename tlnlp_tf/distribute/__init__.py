"""Distribution: `strategy()` for plain `model.fit` on one device, several, or a TPU.

```python
import tlnlp_tf as tl

with tl.distribute.strategy("auto").scope():
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
```

`strategy()` installs the Keras workarounds multi-worker training needs
(`keras_shims`), scoped to this library's models; importing installs nothing.
"""

from tlnlp_tf.distribute.keras_shims import install_keras_shims
from tlnlp_tf.distribute.keras_shims import is_library_model
from tlnlp_tf.distribute.strategies import KINDS
from tlnlp_tf.distribute.strategies import _auto_kind  # noqa: F401 (tests)
from tlnlp_tf.distribute.strategies import check_global_batch
from tlnlp_tf.distribute.strategies import strategy

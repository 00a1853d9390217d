"""tlnlp_tf: transfer learning for NLP on Keras 3 and TensorFlow.

```python
import tlnlp_tf as tl

train = tl.data.read_csv("train.tsv", text="sentence", label="label")
model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"], freeze="bottom-2")
model.fit(train.shuffle(10_000).batch(32), epochs=3)
model.predict(["a gripping, funny film"])
```

`tl.` holds the classes and verbs a user types; the modules are namespaces:
`tl.backbones`, `tl.layers`, `tl.data`, `tl.decoding`, `tl.training`, `tl.metrics`,
`tl.pretraining`, `tl.probes`, `tl.distribute`, `tl.export` (a SavedModel for
serving, a Hugging Face folder). Importing changes nothing in
Keras or the environment.
"""

from tlnlp_tf import backbones
from tlnlp_tf import data
from tlnlp_tf import decoding
from tlnlp_tf import distribute
from tlnlp_tf import export
from tlnlp_tf import layers
from tlnlp_tf import metrics
from tlnlp_tf import pretraining
from tlnlp_tf import probes
from tlnlp_tf import reports
from tlnlp_tf import tasks
from tlnlp_tf import training
from tlnlp_tf.backbones import describe_freezing
from tlnlp_tf.backbones import load_backbone
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.reports import transfer_report
from tlnlp_tf.tasks import EncoderDecoderLM
from tlnlp_tf.tasks import LanguageModel
from tlnlp_tf.tasks import MultiTaskModel
from tlnlp_tf.tasks import RoleLabeler
from tlnlp_tf.tasks import SpanExtractor
from tlnlp_tf.tasks import TextClassifier
from tlnlp_tf.tasks import TextRegressor
from tlnlp_tf.tasks import TokenClassifier
from tlnlp_tf.tasks import WordClassifier
from tlnlp_tf.tasks import WordTagger
from tlnlp_tf.training import L2SP
from tlnlp_tf.training import GradualUnfreezing

__version__ = "0.1.0"

__all__ = [
    # Namespaces.
    "backbones",
    "data",
    "decoding",
    "distribute",
    "export",
    "layers",
    "metrics",
    "pretraining",
    "probes",
    "reports",
    "tasks",
    "training",
    # Task models.
    "EncoderDecoderLM",
    "LanguageModel",
    "MultiTaskModel",
    "RoleLabeler",
    "SpanExtractor",
    "TextClassifier",
    "TextRegressor",
    "TokenClassifier",
    "WordClassifier",
    "WordTagger",
    # Verbs and training helpers.
    "GradualUnfreezing",
    "L2SP",
    "describe_freezing",
    "load_backbone",
    "transfer_report",
    # Errors.
    "BackboneError",
    "DataError",
    "PolicyError",
]


def __dir__():
    # Submodules imported later (`tlnlp_tf.errors`, `tlnlp_tf.cli`, ...) become
    # attributes of the package; `dir(tl)` and tab completion show the API only.
    return sorted(__all__ + ["__version__"])

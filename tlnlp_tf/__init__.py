"""tlnlp_tf: transfer learning for NLP on Keras 3 and TensorFlow.

```python
import tlnlp_tf as tl

train = tl.data.read_csv("train.tsv", text="sentence", label="label")
model = tl.TextClassifier.from_backbone("minilm", num_classes=2, freeze="bottom-2")
model.fit(train.shuffle(10_000).batch(32), epochs=3)
model.predict(["a gripping, funny film"])
```
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tlnlp_tf import data
from tlnlp_tf import distribute
from tlnlp_tf import forgetting
from tlnlp_tf import pretraining
from tlnlp_tf import transferability
from tlnlp_tf import word_vectors
from tlnlp_tf.backbones import load_backbone
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.freezing import apply_freeze
from tlnlp_tf.freezing import describe_freezing
from tlnlp_tf.freezing import layer_groups
from tlnlp_tf.freezing import parameter_counts
from tlnlp_tf.heads import ClassificationHead
from tlnlp_tf.heads import RegressionHead
from tlnlp_tf.heads import TokenClassificationHead
from tlnlp_tf.heads import SequencePooling
from tlnlp_tf.heads import SpanHead
from tlnlp_tf.metrics import PearsonCorrelation
from tlnlp_tf.metrics import SparseF1Score
from tlnlp_tf.tasks import MultiTaskModel
from tlnlp_tf.tasks import SpanExtractor
from tlnlp_tf.tasks import SpanExtractorPreprocessor
from tlnlp_tf.tasks import TextClassifier
from tlnlp_tf.tasks import TextRegressor
from tlnlp_tf.tasks import TokenClassifier
from tlnlp_tf.tasks import TokenClassifierPreprocessor
from tlnlp_tf.tasks import WordClassifier
from tlnlp_tf.training import GradualUnfreezing
from tlnlp_tf.training import L2SP
from tlnlp_tf.training import SlantedTriangular
from tlnlp_tf.training import WarmupCosineDecay
from tlnlp_tf.training import WarmupLinearDecay
from tlnlp_tf.training import fine_tuning_adamw

__version__ = "0.1.0"

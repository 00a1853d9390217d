"""Transferability scores: rank pretrained sources for a task before fine-tuning.

Encode the target data once with each candidate backbone (or layer), then
score how well the frozen features explain the labels. LogME (You et al.,
ICML 2021) is the main score; the H-score and a k-fold linear probe are
cheap baselines.

```python
import tlnlp_tf as tl

ranking = tl.probes.score_sources(
    ["minilm", "minilm@random"], texts, labels, layers=[2, -1]
)
features = tl.probes.extract_features("minilm", texts, layer=3)
tl.probes.logme(features, labels)
```
"""

from tlnlp_tf.probes.transferability.baselines import h_score
from tlnlp_tf.probes.transferability.baselines import linear_probe
from tlnlp_tf.probes.transferability.features import extract_features
from tlnlp_tf.probes.transferability.logme import logme
from tlnlp_tf.probes.transferability.ranking import score_sources

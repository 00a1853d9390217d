"""Probes: what transfer did and will do.

Forgetting reports measure what fine-tuning cost the source (zero-shot STS,
masked-LM loss, a language model's held-out loss); transferability scores
(LogME, H-score, a linear probe) rank sources before any fine-tuning. The
transfer report, which trains task models, is `tlnlp_tf.reports`.

```python
import tlnlp_tf as tl

ranking = tl.probes.score_sources(["minilm", "minilm@random"], texts, labels)
report = tl.probes.ForgettingReport(pairs, scores)  # a callback for fit
```
"""

from tlnlp_tf.probes.forgetting import ForgettingReport
from tlnlp_tf.probes.forgetting import MaskedLMForgettingReport
from tlnlp_tf.probes.forgetting import forgetting_report
from tlnlp_tf.probes.forgetting import masked_lm_probe
from tlnlp_tf.probes.forgetting import sentence_similarity_probe
from tlnlp_tf.probes.language_model_forgetting import LanguageModelForgettingReport
from tlnlp_tf.probes.transferability import extract_features
from tlnlp_tf.probes.transferability import h_score
from tlnlp_tf.probes.transferability import linear_probe
from tlnlp_tf.probes.transferability import logme
from tlnlp_tf.probes.transferability import score_sources

"""Decoding for text generation: keras-hub samplers by name, plus repetition control.

```python
sampler = make_sampler("beam", num_beams=4, no_repeat_ngram_size=3)
sampler = make_sampler("top_p", p=0.9, temperature=0.7, repetition_penalty=1.2)
```
"""

from tlnlp_tf.decoding.penalties import PenalizedSampler
from tlnlp_tf.decoding.penalties import block_repeated_ngrams
from tlnlp_tf.decoding.penalties import penalize_repetitions
from tlnlp_tf.decoding.samplers import SAMPLERS
from tlnlp_tf.decoding.samplers import make_sampler

"""Pretraining: continued masked-LM pretraining, new vocabularies, word vectors.

```python
import tlnlp_tf as tl

texts = tl.pretraining.read_corpus("reviews.txt")
masked_lm, report = tl.pretraining.pretrain_masked_lm("minilm", texts, epochs=1)
tl.pretraining.save_pretrained(masked_lm, "minilm-reviews/", report)
vectors = tl.pretraining.word_vectors.train_word2vec(texts)
```
"""

from tlnlp_tf.pretraining import word_vectors
from tlnlp_tf.pretraining.corpus import read_corpus
from tlnlp_tf.pretraining.corpus import stream_corpus
from tlnlp_tf.pretraining.folders import check_output_folder
from tlnlp_tf.pretraining.masked_lm import HEAD_FILE
from tlnlp_tf.pretraining.masked_lm import HEAD_MULTIPLIER
from tlnlp_tf.pretraining.masked_lm import REPORT_FILE
from tlnlp_tf.pretraining.masked_lm import masked_lm_scores
from tlnlp_tf.pretraining.masked_lm import pretrain_masked_lm
from tlnlp_tf.pretraining.masked_lm import save_pretrained
from tlnlp_tf.pretraining.masked_lm_head import LEGACY_HEAD_FILE
from tlnlp_tf.pretraining.masked_lm_head import find_head
from tlnlp_tf.pretraining.masked_lm_head import head_masked_batches
from tlnlp_tf.pretraining.masked_lm_head import load_masked_lm
from tlnlp_tf.pretraining.masked_lm_head import read_head
from tlnlp_tf.pretraining.masked_lm_head import score_masked_batches
from tlnlp_tf.pretraining.streamed_pretraining import masked_blocks
from tlnlp_tf.pretraining.streamed_pretraining import pretrain_masked_lm_stream
from tlnlp_tf.pretraining.vocabulary import new_backbone_preset

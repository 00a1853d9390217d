"""Readers from files and Python lists to `tf.data` of raw text.

```python
train = tlnlp_tf.data.read_csv("train.tsv", text="sentence", label="label")
model.fit(train.shuffle(10_000).batch(32))
shards = tlnlp_tf.data.stream_examples("shards/*.tsv.gz", "sentence", "label")
```
"""

from tlnlp_tf.data.batching import batch_by_length
from tlnlp_tf.data.batching import choose_batching
from tlnlp_tf.data.batching import shuffle_buffer
from tlnlp_tf.data.batching import training_batches
from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.data.conll import read_conll
from tlnlp_tf.data.examples import Examples
from tlnlp_tf.data.label_templates import templated_examples
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.loading import load_examples
from tlnlp_tf.data.loading import stream_examples
from tlnlp_tf.data.mixing import mix_tasks
from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.data.pairs import TextPairs
from tlnlp_tf.data.pairs import from_pairs
from tlnlp_tf.data.pairs import read_pairs
from tlnlp_tf.data.readers import from_lists
from tlnlp_tf.data.readers import load_jsonl
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.data.readers import read_csv
from tlnlp_tf.data.readers import read_jsonl
from tlnlp_tf.data.readers import read_tfds
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.squad import QuestionAnswers
from tlnlp_tf.data.squad import read_squad
from tlnlp_tf.data.srl import Propositions
from tlnlp_tf.data.srl import read_srl
from tlnlp_tf.data.streamed_examples import StreamedExamples
from tlnlp_tf.data.streamed_propositions import StreamedPropositions
from tlnlp_tf.data.streamed_sentences import StreamedSentences
from tlnlp_tf.data.text_blocks import pack_blocks
from tlnlp_tf.data.text_blocks import read_documents
from tlnlp_tf.data.word_splitter import WordSplitter
from tlnlp_tf.data.words import split_words

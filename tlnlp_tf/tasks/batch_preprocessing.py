"""`BatchPreprocessing`: raw examples to model batches, in `tf.data`, for `TextTask`.

A mixin of `TextTask`: `preprocess_samples` (the preprocessor traced once
per model and settings), `preprocess_batch` (tokenize, encode the targets),
dynamic padding (`batch_features`) and `tokenize_once` (the tokenizer's one
pass, cached in memory or on disk). Subclasses with windows or spans
(`TokenClassifier`, `SpanExtractor`) override `preprocess_batch`.

Example:

```python
import tensorflow as tf

import tlnlp_tf as tl

model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
data = tf.data.Dataset.from_tensor_slices((["good", "bad"], ["pos", "neg"]))
batches = data.batch(2).map(model.preprocess_samples)
tokens = model.tokenize_once(data)  # cached: later epochs skip the tokenizer
```
"""

import json

import keras
import tensorflow as tf

from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.data.token_cache import cached_tokens
from tlnlp_tf.data.token_cache import digest
from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import samples_encoder


class BatchPreprocessing:
    """Raw examples to model batches (a mixin of `TextTask`; see the module)."""

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """One batch of raw examples as the model takes it (`preprocess_batch`).

        In a `tf.data` map this is a `tf.function` traced once per model and
        preprocessing settings (`max_length`, the preprocessor's config,
        labels or tags, static shapes): each later `fit`, `evaluate` or
        `predict` reuses the traced tokenizer instead of tracing it again
        (seconds per call for the token and span tasks). Eager calls, as on
        NumPy arrays, run `preprocess_batch` directly.
        """
        if tf.executing_eagerly():
            return self.preprocess_batch(x, y, sample_weight)
        return self._traced("preprocess_batch")(x, y, sample_weight)

    def _traced(self, method):
        """`getattr(self, method)` as a `tf.function`, kept per model while the
        preprocessing settings stay the same (see `preprocess_samples`)."""
        key = (method, self._preprocessing_key())
        functions = vars(self).setdefault("_traced_functions", {})
        if key not in functions:
            functions[key] = tf.function(getattr(self, method))
        return functions[key]

    def _preprocessing_key(self):
        """What the graph of `preprocess_batch` depends on, as one string."""
        state = {
            "max_length": self.max_length,
            "static_shapes": self.static_shapes,
            "full_length": getattr(self, "_full_length", False),
            "labels": list(getattr(self, "labels", None) or []),
            "tags": list(getattr(self, "tags", None) or []),
        }
        if self.preprocessor is not None:
            state["preprocessor"] = self.preprocessor.get_config()
        return json.dumps(state, sort_keys=True, default=repr)

    def preprocess_batch(self, x, y=None, sample_weight=None):
        """Tokenize a batch of raw examples and encode its targets."""
        if is_tokenized(x):
            return self._batch_tokenized(x, y, sample_weight)
        if y is not None:
            y = self.encode_targets(y)
        if self.preprocessor is None:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        # `x=` by keyword: a positional `(texts, pairs)` tuple would be read
        # by the preprocessor as `(x, y)`.
        x = self.batch_features(self.preprocessor(x=x))
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def batch_features(self, features):
        """A preprocessed batch as the model takes it.

        Dynamic padding (the default): `max_length` caps truncation and each
        batch keeps only the columns its longest text needs. With
        `static_shapes=True` every batch keeps `max_length` columns: one
        shape, as XLA on TPUs wants (batch with `drop_remainder=True` too).
        """
        if self.static_shapes or getattr(self, "_full_length", False):
            return dict(
                features, padding_mask=tf.cast(features["padding_mask"], tf.int32)
            )
        return trim_padding(features)

    def tokenize_once(self, dataset, batch_size=256, cache_dir=None, cache_key=None):
        """Tokenize an unbatched dataset of raw examples once, cached in memory.

        Returns an unbatched dataset of `(token features, encoded targets)`
        that `fit`, `evaluate` and `predict` take like raw text: shuffle and
        batch it as usual; each batch is still padded only to its longest
        row. Epochs after the first read the cache instead of running the
        tokenizer again. The cache holds `max_length` int32 columns per
        example (SST-2, 67k sentences at length 72: about 58 MB); use it when
        that fits in memory. Chooses `max_length` from `dataset` if unset.
        Tasks that cut long inputs into windows (`TokenClassifier`,
        `SpanExtractor`) cache every window as an example: batched with
        `drop_remainder=True` under `static_shapes=True`, every batch then
        has one shape, whatever the number of windows per input.

        With `cache_dir`, the cache is on disk instead (`tf.data.Dataset.save`
        in chunks; `tlnlp_tf/data/token_cache.py`): memory holds a chunk
        while writing and a shuffle buffer while training, not the data. A
        later run with the same folder, the same tokenizer, `max_length` and
        labels, and the same `cache_key` (a string naming the data: the
        caller's to choose) loads it without tokenizing again, and one
        after a run killed while writing keeps the complete chunks.

        Example:

        ```python
        tokens = model.tokenize_once(train.to_dataset())
        model.fit(tokens.shuffle(len(train)).batch(32), epochs=3)
        on_disk = model.tokenize_once(train.to_dataset(), cache_dir="tokens/")
        ```
        """
        self._choose_max_length(dataset)
        if not has_raw_text(dataset):
            raise DataError(
                "tokenize_once takes an unbatched dataset of raw-text examples."
            )

        encode = samples_encoder(self)
        self._full_length = True
        try:
            if cache_dir is not None:
                tokens, _ = cached_tokens(
                    dataset,
                    cache_dir,
                    self._token_identity(cache_key),
                    encode=encode,
                    batch_size=batch_size,
                )
                return tokens
            tokens = dataset.batch(batch_size).map(encode, tf.data.AUTOTUNE)
        finally:
            self._full_length = False
        tokens = tokens.unbatch().cache()
        # Fill the cache now (the tokenizer's one pass) and count the
        # examples: windowed tasks may yield more than one per input.
        count = 0
        rows_of = lambda *element: tf.shape(element[0]["token_ids"])[0]
        filling = tokens.batch(batch_size).map(rows_of)
        for rows in progress(filling, "Tokenizing the data once", unit="batch"):
            count += int(rows)
        return tokens.apply(tf.data.experimental.assert_cardinality(count))

    def _token_identity(self, cache_key):
        """What cached tokens depend on: tokenizer, length, labels, the data."""
        preprocessor = keras.saving.serialize_keras_object(self.preprocessor)
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        vocabulary = getattr(tokenizer, "get_vocabulary", lambda: None)()
        return {
            "task": type(self).__name__,
            "max_length": self.max_length,
            "preprocessor": preprocessor,
            "vocabulary": digest(vocabulary),
            "labels": getattr(self, "labels", None),
            "tags": getattr(self, "tags", None),
            "data": cache_key,
        }

    def _batch_tokenized(self, x, y, sample_weight):
        """A batch from `tokenize_once`: trim the shared padding, targets too."""
        x = self.batch_features(x)
        length = tf.shape(x["token_ids"])[1]

        def cut(tensor):
            if tensor is None or tensor.shape.rank != 2:
                return tensor
            return tensor[:, :length]

        return keras.utils.pack_x_y_sample_weight(x, cut(y), cut(sample_weight))

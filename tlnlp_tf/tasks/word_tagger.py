"""`WordTagger`: a BiLSTM (optionally CRF) tagger on static word or character vectors.

The pre-transformer transfer baseline for sequence labelling (Lample et al.
2016): word2vec vectors initialise the `Embedding` of a bidirectional LSTM
that tags every token (IOB2), with an optional linear-chain CRF on top; with
`vectors=None` the same model starts from random embeddings. For Chinese NER
(MSRA, one character per line) the tokens are characters, and so are the
vectors: train them on text split into characters.

Example:

```python
from tlnlp_tf.data import TaggedSentences
from tlnlp_tf.pretraining.word_vectors import train_word2vec

lines = open("zh.txt", encoding="utf-8").read().split()  # Chinese text
characters = [" ".join(line) for line in lines]  # "这 部 电 影 …"
vectors = train_word2vec(characters, vector_size=16, min_count=1)
train = TaggedSentences([list("张三在北京看电影")],
                        [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "O"]])
model = WordTagger.from_vectors(vectors, train.words, train.tag_names(), crf=True)
model.fit(train, epochs=2)
model.predict(["李四在上海"])  # [[{"text": …, "type": …, "start": …, "end": …}, …]]
```
"""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.data.conll import to_iob2
from tlnlp_tf.data.word_splitter import WordSplitter
from tlnlp_tf.data.word_splitter import as_word_splitter
from tlnlp_tf.decoding.tag_paths import TagDecoding
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers.crf import CRF
from tlnlp_tf.layers.crf import CRFLoss
from tlnlp_tf.metrics.entities import entity_scores
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.pretraining import word_vectors
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.target_checks import target_errors
from tlnlp_tf.tasks.task import compile_from_saved
from tlnlp_tf.tasks.word_inputs import check_vocabulary
from tlnlp_tf.tasks.word_spans import located_entities
from tlnlp_tf.tasks.word_spans import word_lists
from tlnlp_tf.tasks.word_tagger_inputs import BATCH
from tlnlp_tf.tasks.word_tagger_inputs import WordTaggerInputs
from tlnlp_tf.tasks.word_tagger_inputs import tagged_sentences
from tlnlp_tf.tasks.word_tagger_inputs import token_vocabulary
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class WordTagger(TagDecoding, WordTaggerInputs, keras.Model):
    """Tag every token with a BiLSTM (and optional CRF) on static embeddings.

    Layers: `Embedding` (`mask_zero`, id 0 padding, 1 `[UNK]`) → dropout →
    bidirectional LSTM over the whole sentence → one logit per tag, and with
    `crf=True` a linear-chain `CRF` (trained on `CRFLoss`, decoded by Viterbi
    under the IOB2 constraints). The model maps token ids `[batch, tokens]`
    to tag scores; a `StringLookup` maps tokens to ids in the `tf.data`
    pipeline (lower-cased first with `lowercase=True`). Tokens are not split
    again: a token (a word, or one Chinese character) is one vocabulary entry.

    **No length limit.** Each batch pads to its longest sentence and the LSTM
    reads all of it: nothing is truncated and there are no windows. Padding is
    masked out of the LSTM, the loss, the accuracy metric and the CRF.

    `fit` and `evaluate` take `TaggedSentences`, a batched dataset of
    `(sentence, tags)` space-joined strings (`TaggedSentences.to_dataset()`),
    or lists of sentences and tags; a tag outside the model's tags is a
    `DataError` naming the sentence. `predict_tags`, `score` and `predict` are
    those of `TokenClassifier`.

    Args:
        vocabulary: the tokens, `""` (padding) and `"[UNK]"` first.
        tags: the IOB2 tag names, `"O"` included.
        embedding_dim: the width of the embeddings.
        units: LSTM units in each direction.
        crf: a CRF output layer (default `False`: per-token cross-entropy).
        decoding: without a CRF, how tag scores become tags: `"auto"` (the
            default: the most probable sequence the tag scheme allows, or
            each token's argmax for tags with no scheme), `"argmax"` or
            `"allowed"` (`tlnlp_tf.decoding.tag_paths`). Measured on Resume
            NER: 0.8593 by argmax, 0.8924 by the allowed path, the same model.
        freeze_embeddings: keep the embedding matrix fixed in training.
        dropout: dropout on the embeddings.
        lowercase: lower-case tokens before the lookup.
        word_splitter: how `predict` splits raw text into tokens: a
            `tl.data.WordSplitter` (or its config dict); by default `fit`
            fits one on the words of its first `TaggedSentences` or lists
            (so "U.S." stays one token if training had it), else
            `split_words`.

    Example:

    ```python
    train = tl.data.read_conll("train.txt")
    model = WordTagger.from_vectors(None, train.words, train.tag_names(), units=16)
    model.fit(train, epochs=2, batch_size=4)
    model.predict_tags([["Merkel", "visited", "Paris"]])[0]  # [["B-PER", "O", "B-LOC"]]
    model.score(train)["f1"]
    ```
    """

    def __init__(
        self,
        vocabulary,
        tags,
        embedding_dim=100,
        units=128,
        crf=False,
        freeze_embeddings=False,
        dropout=0.5,
        lowercase=True,
        word_splitter=None,
        decoding="auto",
        **kwargs,
    ):
        vocabulary = check_vocabulary(vocabulary)
        word_splitter = as_word_splitter(word_splitter)
        tags = [str(tag) for tag in tags]
        if "O" not in tags or len(set(tags)) != len(tags):
            raise PolicyError(f"tags must be distinct IOB2 tags with 'O', got {tags}.")
        if not isinstance(crf, bool):
            raise PolicyError(f"crf must be True or False, got {crf!r}.")
        # === Layers ===
        self.lookup = keras.layers.StringLookup(
            vocabulary=vocabulary[2:],
            mask_token=word_vectors.PADDING,
            oov_token=word_vectors.UNKNOWN,
            name="lookup",
        )
        self.lookup.build(None)  # stateless but for its vocabulary: built
        self.embedding = keras.layers.Embedding(
            len(vocabulary), embedding_dim, mask_zero=True, name="embeddings"
        )
        self.embedding.trainable = not freeze_embeddings
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.recurrent = keras.layers.Bidirectional(
            keras.layers.LSTM(int(units), return_sequences=True), name="bilstm"
        )
        self.output_dense = keras.layers.Dense(len(tags), name="logits")
        # The CRF reads the tags now: a tag set IOB2 cannot read fails here.
        self.crf_layer = None
        if crf:
            self.crf_layer = CRF(tags, dtype="float32", name="crf")
            self.crf_layer.supports_masking = True  # emissions pass through

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        states = self.recurrent(self.dropout_layer(self.embedding(token_ids)))
        outputs = self.output_dense(states)
        if crf:
            outputs = self.crf_layer(outputs)
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)

        # === Config ===
        self.vocabulary = vocabulary
        self.tags = tags
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.crf = crf
        self.decoding = decoding  # checked now ("allowed" needs a tag scheme)
        self.freeze_embeddings = bool(freeze_embeddings)
        self.dropout = dropout
        self.lowercase = bool(lowercase)
        self._word_splitter_fixed = word_splitter is not None
        self.word_splitter = word_splitter or WordSplitter()
        self.vectors_found = None  # rows taken from word vectors (set by from_vectors)
        self._viterbi_function = self._logits_function = None
        self.compile()

    @classmethod
    def from_vectors(
        cls,
        vectors,
        sentences,
        tags,
        crf=False,
        freeze_embeddings=False,
        units=128,
        max_tokens=20000,
        seed=0,
        lowercase=True,
        **kwargs,
    ):
        """A tagger with the vocabulary of `sentences` and embeddings from `vectors`.

        The vocabulary: the training tokens as they are (lower-cased with
        `lowercase=True`, never split or stripped: "，" and "." stay), most
        frequent first, then (with vectors) the vectors' own keys in file
        order, up to `max_tokens` rows with padding and `[UNK]`. The rows
        follow `word_vectors.embedding_matrix` (padding and `[UNK]` zero,
        missing tokens random with the vectors' variance, `vectors=None` all
        random, seeded by `seed`), except that a token that is a key of the
        vectors always starts at exactly that key's vector.

        Args:
            vectors: a gensim `KeyedVectors` (`train_word2vec`,
                `load_vectors`), a path for `load_vectors`, or `None`.
            sentences: the training sentences (lists of tokens), or
                `TaggedSentences`.
            tags: the IOB2 tag names (`TaggedSentences.tag_names()`).
            crf, freeze_embeddings, units, lowercase: as for the constructor.
            max_tokens: the most vocabulary rows.
            seed: the seed of the random rows.
            **kwargs: `embedding_dim` (without vectors; default 100),
                `dropout`, `name`.

        `model.vectors_found` counts the rows taken from the vectors.

        Example:

        ```python
        vectors = tl.pretraining.word_vectors.load_vectors("glove.6B.100d.txt")
        sentences = [["the", "film", "was", "good", "."]]
        model = WordTagger.from_vectors(vectors, sentences, ["O", "B-X", "I-X"])
        model.vectors_found  # the rows that start at a vector
        ```
        """
        if isinstance(vectors, (str, bytes)) or hasattr(vectors, "__fspath__"):
            vectors = word_vectors.load_vectors(vectors)
        if vectors is not None and not hasattr(vectors, "key_to_index"):
            raise PolicyError(
                "vectors must be a gensim KeyedVectors, a vectors file path or "
                f"None; got {type(vectors).__name__}."
            )
        if isinstance(sentences, TaggedSentences):
            sentences = sentences.words
        sentences = word_lists(sentences)
        dim = kwargs.pop("embedding_dim", None)
        if vectors is not None and dim is not None and dim != vectors.vector_size:
            raise PolicyError(
                f"embedding_dim={dim} differs from the vectors' dimension "
                f"{vectors.vector_size}; leave embedding_dim out."
            )
        vocabulary = token_vocabulary(sentences, max_tokens, vectors, lowercase)
        matrix, found = word_vectors.embedding_matrix(
            vocabulary, vectors, seed=seed, dim=dim
        )
        if vectors is not None:  # an exact key wins over the tokenized match
            for row, token in enumerate(vocabulary[2:], start=2):
                index = vectors.key_to_index.get(token)
                if index is not None:
                    matrix[row] = vectors.vectors[index]
                    found[row] = True
        model = cls(
            vocabulary,
            tags,
            embedding_dim=matrix.shape[1],
            units=units,
            crf=crf,
            freeze_embeddings=freeze_embeddings,
            lowercase=lowercase,
            **kwargs,
        )
        model.embedding.embeddings.assign(matrix)
        model.vectors_found = int(found.sum())
        return model

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        learning_rate="auto",
        weighted_metrics="auto",
        jit_compile=False,
        **kwargs,
    ):
        """Compile with defaults: Adam at 1e-3 (global norm clipped at 5), the
        cross-entropy or (with `crf=True`) `CRFLoss`, token accuracy. XLA is
        off by default: batches pad to their own longest sentence, and XLA
        would compile again for every new width.

        A `CRFLoss` without its layer (as `load_model` restores it) is bound to
        this model's CRF again.
        """
        if optimizer == "auto":
            rate = 1e-3 if learning_rate == "auto" else learning_rate
            optimizer = keras.optimizers.Adam(rate, global_clipnorm=5.0)
        if isinstance(loss, CRFLoss) and self.crf and loss.crf is None:
            loss = "auto"
        if loss == "auto":
            loss = (
                CRFLoss(self.crf_layer)
                if self.crf
                else keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, reduction="mean_with_sample_weight"
                )
            )
        if self.crf and (
            isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
            or (isinstance(loss, str) and "crossentropy" in loss.lower())
        ):
            raise PolicyError(
                f"loss={loss!r} with crf=True: the CRF trains on its own "
                "likelihood; pass loss='auto' (CRFLoss), or build with crf=False."
            )
        if isinstance(loss, CRFLoss) and loss.crf is not self.crf_layer:
            raise PolicyError(
                "loss=CRFLoss: pass loss='auto' (CRFLoss(model.crf_layer)); "
                "a model without a CRF trains on the cross-entropy."
            )
        if weighted_metrics == "auto":  # weighted: padding does not count
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy("accuracy")]
        super().compile(
            optimizer=optimizer,
            loss=loss,
            weighted_metrics=weighted_metrics,
            jit_compile=jit_compile,
            **kwargs,
        )

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    @property
    def layers(self):
        # The lookup runs in tf.data, not in the model's graph.
        return [layer for layer in super().layers if layer is not self.lookup]

    # === Fit, evaluate, predict ===

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on `TaggedSentences`, a batched `(sentence, tags)`
        dataset, or lists of sentences and tags (token ids pass through)."""
        if isinstance(x, (list, tuple)) and y is not None:
            x, y = tagged_sentences(x, y), None
        if isinstance(x, TaggedSentences) and not self._word_splitter_fixed:
            self.word_splitter = WordSplitter().fit(x.words[:20000])
            self._word_splitter_fixed = True  # fitted once, on the first data
        data = self._pipeline(x, y, batch_size, shuffle=kwargs.get("shuffle", True))
        validation = kwargs.get("validation_data")
        if isinstance(validation, tuple) and isinstance(validation[0], list):
            kwargs["validation_data"] = self._pipeline(*validation[:2])
        elif isinstance(validation, (TaggedSentences, tf.data.Dataset)):
            kwargs["validation_data"] = self._pipeline(validation)
        if data is None:
            return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)
        kwargs["shuffle"] = False  # the dataset shuffles itself
        data = one_iterator(data, epochs, kwargs)  # not a pipeline per epoch
        build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
        with target_errors():  # a tag the model lacks, found in the graph
            return super().fit(data, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, return_dict=False, **kwargs):
        """`keras.Model.evaluate`; on `TaggedSentences` or lists it adds the
        entity scores of `score` (precision, recall, F1 and per type), as
        `TokenClassifier.evaluate` does. With `crf=True` the `accuracy`
        metric is the argmax of the emissions; `score` decodes the Viterbi
        path."""
        if isinstance(x, (list, tuple)) and y is not None:
            x, y = tagged_sentences(x, y), None
        data = None if x is None else self._pipeline(x, y, batch_size)
        if data is None:
            return super().evaluate(
                x, y, batch_size=batch_size, return_dict=return_dict, **kwargs
            )
        with target_errors():
            logs = super().evaluate(data, return_dict=True, **kwargs)
        if isinstance(x, TaggedSentences):
            logs.update(self.score(x, batch_size=batch_size or BATCH))
        if return_dict:
            return logs
        values = [value for value in logs.values() if not isinstance(value, dict)]
        return values[0] if len(values) == 1 else values

    # === Prediction ===

    def predict_tags(self, sentences, batch_size=BATCH):
        """IOB2 tags and their probabilities for pre-split sentences.

        Args:
            sentences: lists of tokens; a string is split by the model's
                `word_splitter` (a Chinese character is a token of its own).

        Returns:
            `(tags, scores)` as `TokenClassifier.predict_tags`: per sentence,
            one tag per token (the Viterbi path with `crf=True`, else the
            argmax) and the softmax probability of the tag scores there.
        """
        sentences = word_lists(sentences, self.word_splitter)
        order = np.argsort([len(words) for words in sentences], kind="stable")
        tags, scores = [None] * len(sentences), [None] * len(sentences)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            tokens = [word for k in chunk for word in sentences[k]]
            ragged = tf.RaggedTensor.from_row_lengths(
                tf.constant(tokens, tf.string, shape=[len(tokens)]),
                [len(sentences[k]) for k in chunk],
            )
            ids = self.token_ids(ragged)
            logits = np.asarray(self._logits(ids), "float32")
            probs = np.asarray(keras.ops.softmax(logits))
            if self.crf:
                paths = np.asarray(self._viterbi(logits, ids.numpy() != 0))
            else:
                paths = np.zeros(probs.shape[:2], np.int64)
                for row, k in enumerate(chunk):
                    count = len(sentences[k])
                    paths[row, :count] = self.decode(probs[row, :count])
            for row, k in enumerate(chunk):
                path = paths[row, : len(sentences[k])]
                tags[k] = to_iob2([self.tags[i] for i in path], "iob1")
                scores[k] = probs[row, np.arange(len(path)), path]
        return tags, scores

    def _logits(self, ids):
        """The tag scores of token ids, a `tf.function` traced once per model."""
        if self._logits_function is None:
            self._logits_function = tf.function(
                lambda ids: self(ids, training=False),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
            )
        return self._logits_function(ids)

    def _viterbi(self, emissions, mask):
        if self._viterbi_function is None:
            self._viterbi_function = tf.function(
                self.crf_layer.decode, reduce_retracing=True
            )
        return self._viterbi_function(emissions, mask)

    def score(self, data, batch_size=BATCH):
        """Entity precision, recall and F1 (`tl.metrics.entity_scores`) on
        `TaggedSentences`."""
        if data.tags is None:
            raise DataError(f"{data.source}: has no tags to score against.")
        self.check_tags(data)
        predicted, _ = self.predict_tags(data.words, batch_size=batch_size)
        return rounded(entity_scores(data.tags, predicted))

    def predict(self, x=None, batch_size=BATCH, **kwargs):
        """Entities in raw texts: per text, `{"text", "type", "start", "end",
        "score"}` with `text == input[start:end]` (split by `word_splitter`).
        Token ids (an array) give the tag scores, as `keras.Model.predict`."""
        if not (isinstance(x, str) or (isinstance(x, list) and x)):
            return super().predict(x, batch_size=batch_size, **kwargs)
        texts = [x] if isinstance(x, str) else list(x)
        check_texts(texts)
        split = [self.word_splitter.split(text) for text in texts]
        tags, scores = self.predict_tags(
            [[w for w, _, _ in words] for words in split], batch_size=batch_size
        )
        return [located_entities(*text) for text in zip(texts, split, tags, scores)]

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary": list(self.vocabulary),
            "tags": list(self.tags),
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "crf": self.crf,
            "decoding": self.decoding,
            "freeze_embeddings": self.freeze_embeddings,
            "dropout": self.dropout,
            "lowercase": self.lowercase,
            "word_splitter": (
                self.word_splitter.get_config() if self._word_splitter_fixed else None
            ),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

"""`WordClassifier`: a CNN or BiLSTM on static word embeddings, fit on raw text.

The pre-transformer transfer path: word2vec, GloVe or fastText vectors
(`tlnlp_tf.pretraining.word_vectors`) initialise the `Embedding` of a small text
classifier (Kim 2014's CNN, or a bidirectional LSTM), frozen or trained.
"""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers.conv_encoder import ConvEncoder
from tlnlp_tf.layers.recurrent_encoder import RecurrentEncoder
from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.pretraining import word_vectors
from tlnlp_tf.tasks.inputs import samples_encoder
from tlnlp_tf.tasks.task import compile_from_saved
from tlnlp_tf.tasks.text_classifier import TextClassifier
from tlnlp_tf.tasks.text_classifier import _label_names
from tlnlp_tf.tasks.text_classifier import label_predictions
from tlnlp_tf.tasks.word_inputs import check_string_batches
from tlnlp_tf.tasks.word_inputs import check_vocabulary
from tlnlp_tf.tasks.word_inputs import choose_word_length
from tlnlp_tf.tasks.word_inputs import is_texts
from tlnlp_tf.tasks.word_inputs import training_texts
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator

ENCODERS = ("cnn", "bilstm")


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class WordClassifier(keras.Model):
    """Classify texts with a CNN or BiLSTM on static word embeddings.

    Words are the tokens of a `TextVectorization` layer (lower-cased,
    punctuation stripped, split on whitespace: `word_vectors.standardize`,
    the tokenization `train_word2vec` uses too) that runs inside the
    `tf.data` pipeline: `fit`, `evaluate` and `predict` take raw strings (a
    batched `tf.data.Dataset` of `(text, label)`, or Python lists), labels as
    names or class indices; the model itself maps token ids (`[batch,
    words]`, 0 for padding) to logits.

    Build it with `from_vectors`, which sets the vocabulary and the embedding
    rows from word vectors (the out-of-vocabulary policy is stated there);
    the constructor gives random embeddings.

    Args:
        vocabulary: the words, index 0 padding (`""`) and 1 `[UNK]` first
            (as `word_vectors.build_vocabulary` returns).
        labels: the label names, or the number of classes.
        embedding_dim: the width of the word vectors.
        encoder: `"cnn"` (Kim 2014: filter widths 3, 4 and 5, 100 feature
            maps each, max over time) or `"bilstm"` (128 units each way,
            max over the real words).
        freeze_embeddings: keep the embedding matrix fixed (Kim's "static").
        sequence_length: the most words read per text (longer texts are
            truncated); `None` reads all. Batches pad to their longest text.
        dropout: dropout on the pooled vector (Kim: 0.5).

    Examples:

    Raw strings, with word2vec vectors trained on unlabelled text:
    ```python
    vectors = tlnlp_tf.pretraining.word_vectors.train_word2vec(unlabelled_texts)
    model = WordClassifier.from_vectors(vectors, texts=texts, labels=["neg", "pos"])
    model.fit(tl.data.from_lists(texts, labels).shuffle(1000).batch(32), epochs=5)
    model.predict(["a gripping, funny film"])["label"]
    ```

    Token ids (0 padding, 1 unknown):
    ```python
    logits = model(np.array([[5, 9, 2, 0]]))
    ids = model.token_ids(tf.constant(["a gripping, funny film"]))
    ```

    Random embeddings, a BiLSTM:
    ```python
    model = WordClassifier.from_vectors(None, texts=texts, num_classes=2,
                                        encoder="bilstm", embedding_dim=100)
    ```
    """

    def __init__(
        self,
        vocabulary,
        labels,
        embedding_dim=100,
        encoder="cnn",
        freeze_embeddings=False,
        sequence_length=None,
        dropout=0.5,
        **kwargs,
    ):
        labels = _label_names(labels)
        vocabulary = check_vocabulary(vocabulary)
        if encoder not in ENCODERS:
            raise PolicyError(
                f"encoder must be one of {', '.join(ENCODERS)}; got '{encoder}'."
            )
        if sequence_length is not None and (
            not isinstance(sequence_length, (int, np.integer)) or sequence_length < 1
        ):
            raise PolicyError(
                "sequence_length must be a positive integer or None, got "
                f"{sequence_length!r}."
            )
        # === Layers ===
        self.vectorizer = keras.layers.TextVectorization(
            standardize=word_vectors.standardize,
            split="whitespace",
            vocabulary=vocabulary[2:],
            name="vectorizer",
        )
        self.vectorizer.build()  # stateless but for its vocabulary: built
        self.embedding = keras.layers.Embedding(
            len(vocabulary), embedding_dim, mask_zero=True, name="embeddings"
        )
        self.embedding.trainable = not freeze_embeddings
        if encoder == "cnn":
            self.encoder = ConvEncoder((3, 4, 5), 100, name="encoder")
        else:
            self.encoder = RecurrentEncoder(128, name="encoder")
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.output_dense = keras.layers.Dense(len(labels), name="logits")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        pooled = self.encoder(self.embedding(token_ids))
        logits = self.output_dense(self.dropout_layer(pooled))
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)

        # === Config ===
        self.vocabulary = vocabulary
        self.labels = labels
        self.embedding_dim = int(embedding_dim)
        self.encoder_name = encoder
        self.freeze_embeddings = bool(freeze_embeddings)
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.dropout = dropout
        self.vectors_found = None  # rows taken from word vectors (set by from_vectors)
        self.compile()

    @classmethod
    def from_vectors(
        cls,
        vectors,
        texts,
        labels=None,
        num_classes=None,
        encoder="cnn",
        freeze_embeddings=False,
        max_tokens=20000,
        sequence_length=None,
        seed=0,
        **kwargs,
    ):
        """A classifier whose vocabulary and embeddings come from `texts` and `vectors`.

        The vocabulary (`word_vectors.build_vocabulary`): the training texts'
        words, most frequent first, then (with vectors) the vectors' own
        words in file order, up to `max_tokens` rows in all.

        The out-of-vocabulary policy (`word_vectors.embedding_matrix`):

        - row 0 is padding and row 1 `[UNK]`, for every word outside the
          vocabulary: both start at zero;
        - a vocabulary word found in the vectors starts at exactly its vector
          (looked up as is, else as the most frequent key that tokenizes to
          it; a fastText `.bin` model composes one from character n-grams);
        - a vocabulary word missing from the vectors starts at a random row,
          U[-a, a] with the vectors' variance (`seed`);
        - `vectors=None`: random rows, U[-0.05, 0.05].

        With `freeze_embeddings=True` none of these rows moves in training
        (random rows included); otherwise all of them train.

        Args:
            vectors: a gensim `KeyedVectors` (`load_vectors`,
                `train_word2vec`), a path for `load_vectors`, or `None` for
                random embeddings.
            texts: the training texts (a list, or a `tf.data.Dataset` of
                texts or `(text, label)`).
            num_classes / labels: the number of classes, or their names.
            encoder: `"cnn"` or `"bilstm"`.
            freeze_embeddings: keep the embedding matrix fixed in training.
            max_tokens: the most vocabulary rows (padding and `[UNK]` included).
            sequence_length: the most words per text; `None` chooses the
                longest training text (rounded up to a multiple of 8, at most
                512).
            seed: the seed of the random rows.
            **kwargs: `embedding_dim` (without vectors; default 100),
                `dropout`, `name`.

        `model.vectors_found` counts the rows taken from the vectors.

        Example:

        ```python
        vectors = tlnlp_tf.pretraining.word_vectors.load_vectors("glove.6B.100d.txt")
        model = WordClassifier.from_vectors(
            vectors, texts=train_texts, labels=["neg", "pos"], freeze_embeddings=True
        )
        ```
        """
        if (num_classes is None) == (labels is None):
            raise ValueError("Pass exactly one of num_classes or labels.")
        if isinstance(vectors, (str, bytes)) or hasattr(vectors, "__fspath__"):
            vectors = word_vectors.load_vectors(vectors)
        if vectors is not None and not hasattr(vectors, "index_to_key"):
            raise PolicyError(
                "vectors must be a gensim KeyedVectors, a vectors file path "
                f"or None; got {type(vectors).__name__}."
            )
        texts = training_texts(texts)
        dim = kwargs.pop("embedding_dim", None)
        if vectors is not None and dim is not None and dim != vectors.vector_size:
            raise PolicyError(
                f"embedding_dim={dim} differs from the vectors' dimension "
                f"{vectors.vector_size}; leave embedding_dim out."
            )
        vocabulary = word_vectors.build_vocabulary(texts, max_tokens, vectors)
        matrix, found = word_vectors.embedding_matrix(
            vocabulary, vectors, seed=seed, dim=dim
        )
        if sequence_length is None:
            sequence_length = choose_word_length(texts)
        model = cls(
            vocabulary,
            labels if labels is not None else num_classes,
            embedding_dim=matrix.shape[1],
            encoder=encoder,
            freeze_embeddings=freeze_embeddings,
            sequence_length=sequence_length,
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
        metrics="auto",
        learning_rate="auto",
        **kwargs,
    ):
        """Compile with defaults: Adam at 1e-3, cross-entropy, accuracy and F1.

        Example:

        ```python
        model.compile(learning_rate=5e-4)
        ```
        """
        if optimizer == "auto":
            rate = 1e-3 if learning_rate == "auto" else learning_rate
            optimizer = keras.optimizers.Adam(rate)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [
                keras.metrics.SparseCategoricalAccuracy("accuracy"),
                SparseF1Score(len(self.labels)),
            ]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    @property
    def layers(self):
        # The vectorizer runs in tf.data, not in the model's graph.
        return [layer for layer in super().layers if layer is not self.vectorizer]

    # === Data ===

    def token_ids(self, texts):
        """Token ids of a batch of texts (`[batch]` strings), in the graph.

        Padded with 0 to the longest text of the batch (at most
        `sequence_length` words); a text with no words reads as one `[UNK]`.

        Example:

        ```python
        model.token_ids(tf.constant(["a gripping, funny film"]))  # [[14, 1, 230, 9]]
        ```
        """
        texts = tf.convert_to_tensor(texts)
        if texts.shape.rank == 2 and texts.shape[-1] == 1:
            texts = tf.squeeze(texts, -1)
        ids = tf.cast(self.vectorizer(texts), "int32")
        if self.sequence_length is not None:
            ids = ids[:, : self.sequence_length]
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        empty = tf.reduce_all(tf.equal(ids, 0), axis=1, keepdims=True)
        first = tf.one_hot(tf.zeros_like(ids[:, 0]), tf.shape(ids)[1], dtype="int32")
        return tf.where(empty, first, ids)  # an empty text: [UNK] (1) at position 0

    # Label names (or class indices) to class indices, in the graph.
    encode_targets = TextClassifier.encode_targets

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """One batch of `(texts, labels)` as the model takes it (a `tf.data` map)."""
        if x.dtype == tf.string:
            x = self.token_ids(x)
        if y is not None:
            y = self.encode_targets(y)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _pipeline(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False):
        """A batched dataset of token ids (and targets) from raw text."""
        if isinstance(x, tf.data.Dataset):
            check_string_batches(x, "WordClassifier takes a batched dataset of texts")
            data = x
        elif is_texts(x):
            texts = [x] if isinstance(x, str) else list(x)
            for index, text in enumerate(texts):
                if not isinstance(text, str):
                    raise DataError(
                        f"Input {index} is {type(text).__name__}, expected a string."
                    )
            columns = [tf.constant(texts, tf.string)]
            for extra in (y, sample_weight):
                if extra is not None:
                    if len(extra) != len(texts):
                        raise DataError(
                            f"{len(texts)} texts but {len(extra)} labels or "
                            "weights; expected one per text."
                        )
                    values = list(extra)
                    columns.append(
                        tf.constant(
                            [str(v) for v in values]
                            if isinstance(values[0], str)
                            else values
                        )
                    )
            data = tf.data.Dataset.from_tensor_slices(tuple(columns))
            if shuffle:
                data = data.shuffle(len(texts), reshuffle_each_iteration=True)
            data = data.batch(batch_size or 32)
        else:
            return None  # token ids or arrays: Keras takes them as they are

        encode = samples_encoder(self)
        return data.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE
        )

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on raw text (a batched dataset, or lists of texts, labels).

        Example:

        ```python
        model.fit(tl.data.from_lists(texts, labels).shuffle(1000).batch(32), epochs=5)
        model.fit(texts, labels, batch_size=32, epochs=5)
        ```
        """
        data = self._pipeline(
            x,
            y,
            kwargs.pop("sample_weight", None),
            batch_size,
            shuffle=kwargs.get("shuffle", True),
        )
        validation = kwargs.get("validation_data")
        if validation is not None:
            if isinstance(validation, tuple) and is_texts(validation[0]):
                validation = self._pipeline(*validation)
            elif isinstance(validation, tf.data.Dataset):
                validation = self._pipeline(validation)
            kwargs["validation_data"] = validation
        build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
        if data is None:
            return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)
        kwargs["shuffle"] = False  # the dataset shuffles itself
        data = one_iterator(data, epochs, kwargs)  # not a pipeline per epoch
        return super().fit(data, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        data = (
            None
            if x is None
            else self._pipeline(x, y, kwargs.pop("sample_weight", None), batch_size)
        )
        if data is None:
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        return super().evaluate(data, **kwargs)

    def predict_outputs(self, x=None, batch_size=None, **kwargs):
        """The logits (`[examples, classes]`) for raw text or token ids."""
        data = self._pipeline(x, batch_size=batch_size)
        if data is None:
            return super().predict(x, batch_size=batch_size, **kwargs)
        return super().predict(data, **kwargs)

    def predict(self, x=None, batch_size=None, **kwargs):
        """Predict labels and probabilities for raw text.

        Args:
            x: a list of texts, or a batched `tf.data.Dataset` (labels in it
                are ignored).

        Returns:
            A dict: `"label"` (the label name of each example), `"score"` (its
            probability) and `"probabilities"` (`[examples, classes]`), as
            `TextClassifier.predict`.

        Example:

        ```python
        model.predict(["a gripping, funny film", "two hours lost"])["label"]
        ```
        """
        return label_predictions(
            self.predict_outputs(x, batch_size=batch_size, **kwargs), self.labels
        )

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary": list(self.vocabulary),
            "labels": list(self.labels),
            "embedding_dim": self.embedding_dim,
            "encoder": self.encoder_name,
            "freeze_embeddings": self.freeze_embeddings,
            "sequence_length": self.sequence_length,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

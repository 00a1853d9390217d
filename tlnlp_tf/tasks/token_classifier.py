"""`TokenClassifier`: a tag for every word (NER, POS, chunking), spans with offsets."""

import re

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.data.conll import to_iob2
from tlnlp_tf.data.word_splitter import WordSplitter
from tlnlp_tf.data.word_splitter import as_word_splitter
from tlnlp_tf.decoding.tag_paths import TagDecoding
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers import TokenClassificationHead
from tlnlp_tf.layers.crf import CRFLoss
from tlnlp_tf.layers.crf_token_head import CRFTokenHead
from tlnlp_tf.metrics.entities import entity_scores
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.inputs import texts_of
from tlnlp_tf.tasks.task import TextTask
from tlnlp_tf.tasks.task_training import LOGIT_LOSSES
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor
from tlnlp_tf.tasks.token_rates import choose_token_rates
from tlnlp_tf.tasks.token_rates import dataset_token_profile
from tlnlp_tf.tasks.word_spans import located_entities
from tlnlp_tf.tasks.word_spans import windowed
from tlnlp_tf.tasks.word_spans import word_lists

_PREDICT_BATCH = 32
_SPLITTER_SAMPLE = 20_000  # training sentences read to fit the word splitter


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassifier(TagDecoding, TextTask):
    """Tag every word of a sentence (IOB2 tags), and decode entities with offsets.

    Training data is `(sentence, tags)`: the words of a sentence joined by
    single spaces and their tags likewise (see `read_conll`). Each word's tag
    is learned on its first sub-word; the other sub-words are masked out of
    the loss. `predict` takes raw text and returns entities whose `start` and
    `end` slice the input text; long texts are split into overlapping
    windows, never truncated.

    **Raw text is split as the training data was.** The first time the
    model reads training sentences (`fit`, `tokenize_once`, a multi-task
    dataset) it fits its `word_splitter` (a `tl.data.WordSplitter`) on
    their words: the words `split_words` would cut ("U.S.", "cross-border",
    "3.5") and the shapes of those with punctuation inside ("a-a", "0.0").
    `predict` and `predict_tags` on strings then keep such words whole
    instead of tagging "U", ".", "S", "." the model never saw. The
    splitter is saved with the model and not fitted again by later calls;
    before it is fitted it splits as `split_words`.

    **CRF.** With `crf=True` the head is a `CRFTokenHead`: the tag scores
    (emissions) feed a linear-chain `CRF` over the words (first sub-words),
    trained on its likelihood (`CRFLoss`, the default loss) and decoded by
    Viterbi under the tag scheme's constraints (IOB2: no `O` → `I-X`), so
    predicted spans are well formed. Tags the scheme cannot read are a
    `PolicyError` at construction. The CRF is saved with the model; a
    `.keras` file reloads with its loss re-bound to its layer, ready to
    train again. The `accuracy` metric stays the argmax of the emissions
    (a proxy: `predict` and `score` use the Viterbi path), and a prediction's
    `score` is the softmax probability of the emissions at the chosen tag.

    Args:
        backbone: a `keras_hub.models.Backbone`.
        tags: the IOB2 tag names (`"O"`, `"B-PER"`, `"I-PER"`, …).
        preprocessor: a `TokenClassifierPreprocessor`.
        dropout, freeze, max_length: as for `TextClassifier`.
        crf: a CRF output layer over the tag scores (default `False`).
        word_splitter: how `predict` splits raw text into words: a
            `tl.data.WordSplitter` (or its config dict), used as given; by
            default (`None`) one fitted on the first training data.
        decoding: how a softmax head's tag scores become tags in `predict`,
            `predict_tags`, `score` and the SavedModel's serving signature:
            `"auto"` (the default: `"allowed"` when the tags follow a scheme,
            else `"argmax"`), `"argmax"` (each word's most probable tag; an
            `I-X` that continues nothing is read as `B-X`) or `"allowed"` (the
            most probable sequence the tag scheme allows,
            `tlnlp_tf.decoding.tag_paths`; a tag set with no scheme is a
            `PolicyError`). CoNLL-2003, 4,000 training sentences: test F1
            0.8136 by argmax, 0.8329 by the allowed path, the same model. A
            CRF head decodes by its own Viterbi.

    Example:

    ```python
    train = tl.data.read_conll("train.txt")
    model = TokenClassifier.from_backbone("minilm", tags=train.tag_names())
    model.fit(train.to_dataset().shuffle(20_000).batch(32), epochs=3)
    model.predict(["Angela Merkel visited Paris ."])
    # [[{"text": "Angela Merkel", "type": "PER", "start": 0, "end": 13, "score": …}, …]]
    ```

    With a CRF:

    ```python
    train = tl.data.read_conll("train.txt")
    model = TokenClassifier.from_backbone("minilm", tags=train.tag_names(), crf=True)
    model.fit(train.to_dataset().batch(32), epochs=3)  # loss: CRFLoss(model.head.crf)
    ```
    """

    windows_long_inputs = True  # long sentences are windowed, never truncated

    # CoNLL-2003 sweep (docs/freezing.md): 2e-4 with layer decay 0.9 beat 1e-4;
    # they held on small and sparse draws, whose entity density raises the
    # update minimum below on the first `fit` (tasks/token_rates.py).
    small_backbone_learning_rate = 2e-4
    fine_tuning_layer_decay = 0.9
    rates_from_data = True
    targets_are_weighted = True  # the weights mask all but first sub-words
    # Few sentences at few epochs learn nothing (`fit` warns below this; the
    # first `fit` raises it on its model for data sparser than CoNLL).
    min_updates = 300
    few_updates_evidence = (
        "CoNLL-2003 with 185 training sentences, MiniLM, batch 32: test entity "
        "F1 0.000 after 18 updates (3 epochs, 2 seeds), 0.659 and 0.708 after 300; "
        "benchmarks/RESULTS.md, few_sentences_ner"
    )

    def __init__(
        self,
        backbone,
        tags,
        preprocessor=None,
        dropout=0.1,
        freeze="none",
        max_length=None,
        crf=False,
        word_splitter=None,
        decoding="auto",
        **kwargs,
    ):
        tags = [str(tag) for tag in tags]
        if "O" not in tags or len(set(tags)) != len(tags):
            raise ValueError(
                f"tags must be distinct IOB2 tags including 'O', got {tags}."
            )
        if not isinstance(crf, bool):
            raise PolicyError(f"crf must be True or False, got {crf!r}.")
        if crf:  # the CRF reads the tags now: a bad tag set fails here
            head = CRFTokenHead(
                tags, dropout=dropout, dtype=backbone.dtype_policy, name="crf_head"
            )
        else:
            head = TokenClassificationHead(
                len(tags),
                dropout=dropout,
                dtype=backbone.dtype_policy,
                name="token_classification_head",
            )
        self._build(
            backbone, head, preprocessor, "none", dropout, freeze, max_length, **kwargs
        )
        self.tags = tags
        self.crf = crf
        # Checked now, as the CRF reads its tags: a tag set with no scheme fails.
        self.decoding = decoding
        word_splitter = as_word_splitter(word_splitter)
        # Given (or restored), a splitter is kept as it is; else fitted once.
        self._word_splitter_fixed = word_splitter is not None
        self.word_splitter = word_splitter or WordSplitter()
        self.compile()

    @classmethod
    def from_backbone(cls, spec, tags, freeze="none", weights="pretrained", **kwargs):
        """Build a tagger on a backbone spec (see `TextClassifier.from_backbone`).

        Keyword arguments go to the constructor (`crf=True`, `max_length`, …).

        ```python
        model = TokenClassifier.from_backbone("minilm", tags=tags, crf=True)
        ```
        """
        backbone, text_preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        preprocessor = TokenClassifierPreprocessor(
            text_preprocessor.tokenizer,
            sequence_length=getattr(backbone, "max_sequence_length", 512),
        )
        return cls(backbone, tags, preprocessor, freeze=freeze, **kwargs)

    def default_loss(self):
        if self.crf:
            return CRFLoss(self.head.crf)
        # Averaged over the first sub-words only, whatever the padding.
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        )

    def resolve_loss(self, loss):
        """The loss `compile` uses; with `crf=True`, `"auto"` is `CRFLoss(head.crf)`.

        A `CRFLoss` without its layer (as `keras.saving.load_model` restores
        one) is bound to this model's CRF. With `crf=True` a cross-entropy
        (by name or object) is a `PolicyError`: the CRF trains on its own
        likelihood. A `CRFLoss` on a model without a CRF is one too.

        ```python
        model.resolve_loss("auto")  # the cross-entropy, or CRFLoss with crf=True
        ```
        """
        if isinstance(loss, CRFLoss):
            if not self.crf:
                raise PolicyError(
                    "loss=CRFLoss: this model has no CRF layer; build it with "
                    "crf=True, or compile with loss='auto'."
                )
            if loss.crf is None:  # restored by load_model: bind it again
                return CRFLoss(self.head.crf, name=loss.name)
            if loss.crf is not self.head.crf:
                raise PolicyError(
                    "loss=CRFLoss(crf): crf is not this model's CRF layer; pass "
                    "loss='auto' or CRFLoss(model.head.crf)."
                )
            return loss
        if self.crf:
            name = None
            if isinstance(loss, str):
                name = re.sub(r"(?<!^)(?=[A-Z])", "_", loss).lower()
            if name in LOGIT_LOSSES or isinstance(loss, tuple(LOGIT_LOSSES.values())):
                shown = loss if isinstance(loss, str) else type(loss).__name__
                raise PolicyError(
                    f"loss={shown!r} with crf=True: the CRF trains on its own "
                    "likelihood; pass loss='auto' (CRFLoss), or build the model "
                    "with crf=False for a cross-entropy."
                )
        return super().resolve_loss(loss)

    def default_metrics(self):
        return None

    def default_weighted_metrics(self):
        # Weighted: only first sub-words count (Keras's `metrics` ignore weights).
        return [keras.metrics.SparseCategoricalAccuracy("accuracy")]

    def encode_targets(self, y):
        """Space-joined tag names (or ragged tag ids) to ragged tag ids, in graph."""
        if isinstance(y, tf.RaggedTensor) and y.dtype != tf.string:
            return tf.cast(y, tf.int32)
        words = tf.strings.split(y)
        names = tf.constant(self.tags)
        matches = tf.equal(tf.expand_dims(words.flat_values, -1), names)
        valid = tf.reduce_any(matches, axis=-1)
        ids = tf.argmax(tf.cast(matches, tf.int32), axis=-1, output_type=tf.int32)
        check = tf.debugging.Assert(
            tf.reduce_all(valid),
            [
                f"Unknown tag; the model's tags are {self.tags}",
                tf.boolean_mask(words.flat_values, ~valid),
            ],
            summarize=5,
        )
        with tf.control_dependencies([check]):
            ids = tf.identity(ids)
        return words.with_flat_values(ids)

    def preprocess_batch(self, x, y=None, sample_weight=None):
        if is_tokenized(x):
            return self._batch_tokenized(x, y, sample_weight)
        if y is None:
            return self.batch_features(self.preprocessor(x=x))
        features, tags, weights = self.preprocessor(
            x=x, y=self.encode_targets(y), sample_weight=sample_weight
        )
        features = self.batch_features(features)
        length = tf.shape(features["token_ids"])[1]
        return features, tags[:, :length], weights[:, :length]

    def _choose_max_length(self, x):
        if not self._word_splitter_fixed:  # the first training data: fit once
            self.fit_word_splitter(x)
        return super()._choose_max_length(x)

    def fit_word_splitter(self, x):
        """Fit `word_splitter` on the words of training sentences `x`.

        `fit` (and `tokenize_once`) call it on their first training data,
        unless the model has a splitter already (given to the constructor,
        restored with the model, or fitted before); call it yourself to
        fit one to other data, e.g. for a model saved before splitters
        existed. Reads up to 20,000 sentences (a list of strings or a
        dataset of `(sentence, tags)`; words joined by spaces, as
        `read_conll` gives them); token features hold no words and leave
        the splitter as it is.

        ```python
        model.fit_word_splitter(["He went to the U.S. today .", "It is 3.5 ."])
        model.word_splitter.whole  # frozenset({"U.S.", "3.5"})
        ```
        """
        texts, _ = texts_of(x, _SPLITTER_SAMPLE)
        if not texts:
            return
        self.word_splitter = WordSplitter().fit(sentence.split() for sentence in texts)
        self._word_splitter_fixed = True

    def training_profile(self, x):
        return dataset_token_profile(self, x)

    def choose_rates(self, profile, updates):
        return choose_token_rates(profile, updates, type(self).min_updates)

    # === Prediction ===

    def score(self, data, batch_size=_PREDICT_BATCH):
        """Entity precision, recall and F1 (overall and per type) on `TaggedSentences`.

        ```python
        model.score(tl.data.read_conll("valid.txt"))["f1"]
        ```
        """
        if data.tags is None:
            raise DataError(f"{data.source}: has no tags to score against.")
        data.check_tags(self.tags)
        predicted, _ = self.predict_tags(data.words, batch_size=batch_size)
        return rounded(entity_scores(data.tags, predicted))

    def task_scores(self, data, batch_size):
        return self.score(data, batch_size)

    def labelled(self, x, y=None, steps=None):
        """`TaggedSentences` from themselves, lists or a dataset of raw sentences."""
        if isinstance(x, TaggedSentences):
            if x.tags is None:
                raise DataError(f"{x.source}: has no tags to evaluate against.")
            return x.check_tags(self.tags)
        if y is not None and isinstance(x, list):
            words = [s.split() if isinstance(s, str) else list(s) for s in x]
            tags = [t.split() if isinstance(t, str) else list(t) for t in y]
            return _tagged(words, tags, "<evaluate>").check_tags(self.tags)
        if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
            return None
        words, tags = [], []
        for sentence, sentence_tags in examples_of(x, steps):
            if sentence_tags is None:
                return None
            words.append(text(sentence).split())
            if isinstance(sentence_tags, (bytes, str)):
                tags.append(text(sentence_tags).split())
            else:  # tag ids
                tags.append([self.tags[int(i)] for i in np.reshape(sentence_tags, -1)])
        return _tagged(words, tags, "the evaluation dataset").check_tags(self.tags)

    def check_targets(self, targets, where):
        """Every tag (space-joined per sentence, or lists) is one of the model's."""
        allowed = set(self.tags)
        for index, sentence in enumerate(targets):
            if isinstance(sentence, (bytes, str)):
                sentence = text(sentence).split()
            elif not isinstance(sentence, (list, tuple, np.ndarray)):
                continue  # tag ids: checked in the graph
            for tag in sentence:
                if isinstance(tag, (bytes, str)) and text(tag) not in allowed:
                    raise DataError(
                        f"{where}, sentence {index + 1}: tag '{text(tag)}' is not one "
                        f"of the model's tags {self.tags}."
                    )

    def predict_tags(self, sentences, batch_size=_PREDICT_BATCH):
        """IOB2 tags (and their probabilities) for pre-split sentences.

        Args:
            sentences: a list of sentences, each a list of words. A sentence
                given as one string is split into words as `predict` splits
                them (the model's `word_splitter`, fitted on its training
                words: "U.S." is one word, "Paris." two).

        Returns:
            `(tags, scores)`: per sentence, one tag and one probability per
            word (the softmax of the tag scores at the chosen tag; with
            `crf=True` the tags are the Viterbi path of each window).

        Example:

        ```python
        tags, scores = model.predict_tags([["Angela", "Merkel", "visited", "Paris"]])
        ```
        """
        sentences = word_lists(sentences, self.word_splitter)
        counts = self._piece_counts(sentences)
        ids, scores = windowed(
            sentences,
            counts,
            self.sequence_length() - 2,
            lambda texts, window_counts: self._window_tags(
                texts, window_counts, batch_size
            ),
        )
        tags = [[self.tags[i] for i in sentence] for sentence in ids]
        # An I-X that continues nothing becomes B-X: the IOB1 reading of the tags.
        return [to_iob2(sentence, "iob1") for sentence in tags], scores

    def predict(self, x=None, batch_size=_PREDICT_BATCH, **kwargs):
        """Entities in raw texts.

        Args:
            x: a list of texts (or one text), split into words by the
                model's `word_splitter` (as its training data was split).

        Returns:
            Per text, a list of `{"text", "type", "start", "end", "score"}`;
            `text == input[start:end]`, `score` the mean tag probability.
        """
        texts = [x] if isinstance(x, str) else list(x)
        check_texts(texts)
        split = [self.word_splitter.split(text) for text in texts]
        tags, scores = self.predict_tags(
            [[w for w, _, _ in words] for words in split], batch_size=batch_size
        )
        return [located_entities(*text) for text in zip(texts, split, tags, scores)]

    def _piece_counts(self, sentences):
        words = [word for sentence in sentences for word in sentence]
        counts = np.zeros(0, dtype=int)
        if words:
            pieces = self.preprocessor.word_pieces(tf.constant(words))
            counts = pieces.row_lengths().numpy()
        splits = np.cumsum([0] + [len(s) for s in sentences])
        return [counts[a:b] for a, b in zip(splits[:-1], splits[1:])]

    def _window_tags(self, inputs, counts, batch_size):
        """Per window: the tag id and its probability at each word's first sub-word.

        `inputs[k]` is window `k` as the model takes it (a sentence of
        space-joined words; see `_batch_inputs`), `counts[k]` its words'
        sub-word counts. With the CRF, the ids are the Viterbi path over the
        first sub-words; otherwise `decode` of each window's word
        probabilities: the most probable path the tag scheme allows, or each
        word's argmax, as `decoding` says (`tlnlp_tf.decoding.tag_paths`).
        """
        lengths = [int(np.sum(c)) for c in counts]
        order = np.argsort(lengths, kind="stable")  # similar lengths batch together
        results = [None] * len(inputs)
        for chunk_start in range(0, len(order), batch_size):
            chunk = order[chunk_start : chunk_start + batch_size]
            logits = np.asarray(
                self.predict_on_batch(self._batch_inputs([inputs[k] for k in chunk])),
                "float32",
            )
            probs = np.asarray(keras.ops.softmax(logits))
            firsts = [
                np.minimum(
                    1 + np.concatenate([[0], np.cumsum(counts[k])[:-1]]).astype(int),
                    logits.shape[1] - 1,
                )
                for k in chunk
            ]
            if self.crf:
                mask = np.zeros(logits.shape[:2], bool)
                for row, positions in enumerate(firsts):
                    mask[row, positions] = True
                paths = np.asarray(self._viterbi(logits, mask))
            for row, k in enumerate(chunk):
                positions = firsts[row]
                if self.crf:
                    ids = paths[row, positions]
                else:
                    ids = self.decode(probs[row, positions])
                results[k] = (ids, probs[row, positions, ids])
        return results

    def _viterbi(self, emissions, mask):
        """`head.crf.decode` as a `tf.function`, traced once per model."""
        if getattr(self, "_viterbi_function", None) is None:
            self._viterbi_function = tf.function(
                self.head.crf.decode, reduce_retracing=True
            )
        return self._viterbi_function(emissions, mask)

    def _batch_inputs(self, inputs):
        """A batch of windows as `predict_on_batch` takes it: a string tensor."""
        return tf.constant(inputs)

    def get_config(self):
        config = super().get_config()
        config.pop("pooling")
        config["tags"] = list(self.tags)
        config["crf"] = self.crf
        config["decoding"] = self.decoding
        config["word_splitter"] = (
            self.word_splitter.get_config() if self._word_splitter_fixed else None
        )
        return config


def _tagged(words, tags, source):
    if len(words) != len(tags) or any(len(w) != len(t) for w, t in zip(words, tags)):
        raise DataError(f"{source}: give one tag per word of every sentence.")
    return TaggedSentences(words, tags, source=source)

"""`RoleLabeler`: semantic role labelling as predicate-conditioned word tagging.

One instance is a sentence and one of its predicates; the model tags every
word with the BIO role it plays for that predicate (`B-ARG0`, `I-ARGM-TMP`,
`B-V` on the predicate), and the arguments are read from the tags as spans.
The predicate marker goes into the encoder (`RoleLabelerPreprocessor`), so
the same sentence gets different roles for different predicates.

```python
open("srl.tsv", "w").write(
    "the\\t0\\tB-ARG0\\ncast\\t0\\tI-ARG0\\nloved\\t1\\tB-V\\nthe\\t0\\tB-ARG1\\n"
    "film\\t0\\tI-ARG1\\n"
)
train = tl.data.read_srl("srl.tsv")
model = RoleLabeler.from_backbone("minilm", tags=train.tag_names())
model.predict("the cast loved the film", 2)  # [{"role": "ARG0", …}, …]
```
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.conll import to_iob2
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.srl import Propositions
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.metrics.srl import srl_scores
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.role_labeler_preprocessor import PREDICATE_ENCODINGS
from tlnlp_tf.tasks.role_labeler_preprocessor import RoleLabelerPreprocessor
from tlnlp_tf.tasks.token_classifier import TokenClassifier
from tlnlp_tf.tasks.word_spans import located_entities
from tlnlp_tf.tasks.word_spans import word_lists

_PREDICT_BATCH = 32
_PREDICATE_ROLES = ("V", "C-V")  # the predicate's own spans, not arguments


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RoleLabeler(TokenClassifier):
    """Label the arguments of a predicate (who did what to whom, when, where).

    A `TokenClassifier` whose input is a sentence *and* the index of its
    predicate word: training data is `((sentence, predicate), tags)`, as
    `Propositions.to_dataset()` yields it (`read_srl`), one instance per
    predicate. Everything else is the tagger's: each word's role tag is
    learned on its first sub-word, `crf=True` adds a CRF output layer, the
    tags become argument spans as entities do. `score` and `evaluate` give
    CoNLL-2005 argument precision, recall and F1 (the predicate's own `V`
    span left out) and per-role scores (`tl.metrics.srl_scores`).

    The predicate is marked by the preprocessor's `predicate_encoding`:
    `"segment"` (segment id 1 on the predicate's sub-words; the default on
    backbones with a segment embedding, as BERT and MiniLM) or `"pair"`
    (`[CLS] sentence [SEP] predicate [SEP]`).

    Args:
        backbone: a `keras_hub.models.Backbone`.
        tags: the IOB2 role tags (`"O"`, `"B-ARG0"`, `"I-ARG0"`, …, `"B-V"`).
        preprocessor: a `RoleLabelerPreprocessor`.
        dropout, freeze, max_length, crf: as for `TokenClassifier`.
        decoding: as for `TokenClassifier` (`"auto"`: the most probable
            role sequence the BIO scheme allows; EWT test argument F1 0.6442
            against 0.5808 by argmax, the same model).

    Example:

    ```python
    open("srl.tsv", "w").write(
        "the\\t0\\tB-ARG0\\ncast\\t0\\tI-ARG0\\nloved\\t1\\tB-V\\nthe\\t0\\tB-ARG1\\n"
        "film\\t0\\tI-ARG1\\n\\n"
        "the\\t0\\tB-ARG1\\nfilm\\t0\\tI-ARG1\\nwas\\t0\\tO\\nloved\\t1\\tB-V\\n"
    )
    train = tl.data.read_srl("srl.tsv")
    model = RoleLabeler.from_backbone("minilm", tags=train.tag_names(), crf=True)
    model.fit(train.to_dataset().batch(32), epochs=3)
    model.score(train)  # {"precision": …, "recall": …, "f1": …, "per_role": {…}}
    model.predict("the film was loved", 3)
    # [{"text": "the film", "role": "ARG1", "start": 0, "end": 8, "score": …}]
    ```
    """

    # Role labelling needs more updates than NER at the same entity density
    # (EWT: a third of the words are inside arguments, twice CoNLL's share):
    # `fit` warns below this, `tlnlp fit` without `--epochs` reaches it.
    min_updates = 1000
    few_updates_evidence = (
        "EWT PropBank, MiniLM, peak 2e-4, batch 32: test argument F1 0.049 "
        "after 321 updates (3,400 instances, 3 epochs), 0.644 after 1,000 "
        "(16,000 instances, 2 epochs), 0.729 after 2,524 (all 40,373, 2 "
        "epochs); benchmarks/RESULTS.md, token_defaults and srl"
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
        decoding="auto",
        **kwargs,
    ):
        if preprocessor is not None:
            _check_preprocessor(backbone, preprocessor)
        super().__init__(
            backbone,
            tags,
            preprocessor=preprocessor,
            dropout=dropout,
            freeze=freeze,
            max_length=max_length,
            crf=crf,
            decoding=decoding,
            **kwargs,
        )

    @classmethod
    def from_backbone(
        cls,
        spec,
        tags,
        freeze="none",
        weights="pretrained",
        predicate_encoding="auto",
        **kwargs,
    ):
        """A role labeller on a backbone spec (see `TextClassifier.from_backbone`).

        `predicate_encoding="auto"` is `"segment"` when the backbone takes
        `segment_ids` with at least two segments, else `"pair"`. Other
        keyword arguments go to the constructor (`crf=True`, …).

        ```python
        model = RoleLabeler.from_backbone("minilm", tags=["O", "B-ARG0", "I-ARG0",
                                                          "B-V", "I-V"])
        ```
        """
        backbone, text_preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        if predicate_encoding == "auto":
            predicate_encoding = "segment" if _has_segments(backbone) else "pair"
        preprocessor = RoleLabelerPreprocessor(
            text_preprocessor.tokenizer,
            sequence_length=getattr(backbone, "max_sequence_length", 512),
            predicate_encoding=predicate_encoding,
        )
        return cls(backbone, tags, preprocessor, freeze=freeze, **kwargs)

    @property
    def predicate_encoding(self):
        """How the predicate is marked: `"segment"` or `"pair"` (the preprocessor's)."""
        return getattr(self.preprocessor, "predicate_encoding", None)

    # === Scoring ===

    def score(self, data, batch_size=_PREDICT_BATCH):
        """CoNLL-2005 argument precision, recall, F1 (and per role) on `Propositions`.

        ```python
        open("srl.tsv", "w").write("it 0 B-ARG0\\nloved 1 B-V\\nfilm 0 B-ARG1\\n")
        data = tl.data.read_srl("srl.tsv")
        model = RoleLabeler.from_backbone("minilm", tags=data.tag_names())
        model.score(data)["f1"]
        ```
        """
        if data.tags is None:
            raise DataError(f"{data.source}: has no tags to score against.")
        data.check_tags(self.tags)
        predicted, _ = self.predict_tags(data.words, data.predicates, batch_size)
        return rounded(srl_scores(data.tags, predicted))

    def labelled(self, x, y=None, steps=None):
        """`Propositions`, or read from a dataset of `((sentence, index), tags)`."""
        if isinstance(x, Propositions):
            if x.tags is None:
                raise DataError(f"{x.source}: has no tags to evaluate against.")
            return x.check_tags(self.tags)
        if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
            return None
        words, predicates, tags = [], [], []
        for features, instance_tags in examples_of(x, steps):
            if instance_tags is None or not isinstance(features, tuple):
                return None
            words.append(text(features[0]).split())
            predicates.append(int(features[1]))
            if isinstance(instance_tags, (bytes, str)):
                tags.append(text(instance_tags).split())
            else:  # tag ids
                tags.append([self.tags[int(i)] for i in np.reshape(instance_tags, -1)])
        if any(len(w) != len(t) for w, t in zip(words, tags)):
            raise DataError("the evaluation dataset: give one tag per word.")
        data = Propositions(words, predicates, tags, source="the evaluation dataset")
        return data.check_tags(self.tags)

    # === Prediction ===

    def predict_tags(self, sentences, predicates, batch_size=_PREDICT_BATCH):
        """IOB2 role tags (and their probabilities) for sentences and predicates.

        Args:
            sentences: a list of sentences, each a list of words (a string
                is split by the model's `word_splitter`, fitted on the
                training words).
            predicates: the index of each sentence's predicate word.

        Returns:
            `(tags, scores)`: per instance, one tag and one probability per
            word. A sentence longer than `max_length` sub-words is read in
            one window of words centred on the predicate; the words outside
            it are tagged `O`, with a warning that counts them.

        Example:

        ```python
        model = RoleLabeler.from_backbone("minilm", tags=["O", "B-ARG0", "I-ARG0",
                                                          "B-V", "I-V"])
        tags, scores = model.predict_tags([["the", "cast", "loved", "it"]], [2])
        ```
        """
        sentences = word_lists(sentences, self.word_splitter)
        for index, words in enumerate(sentences):
            if any(len(word.split()) != 1 for word in words):
                raise DataError(
                    f"Sentence {index}: a word holds a space; give words without "
                    "spaces (the predicate index counts them)."
                )
        predicates = _check_predicates(sentences, predicates)
        counts = self._piece_counts(sentences)
        limit = self.sequence_length()
        windows, left_out = [], 0
        for words, predicate, pieces in zip(sentences, predicates, counts):
            budget = limit - 2
            if self.predicate_encoding == "pair":
                budget = max(limit - 3 - int(pieces[predicate]), 1)
            start, end = _predicate_window(pieces, predicate, budget)
            windows.append((start, end))
            left_out += len(words) - (end - start)
        if left_out:
            warnings.warn(
                f"{left_out} words lie outside the max_length={limit}-token "
                "window around their predicate and were tagged O; a larger "
                "max_length reads them.",
                stacklevel=2,
            )
        outputs = self._window_tags(
            [
                (" ".join(words[start:end]), predicate - start)
                for words, predicate, (start, end) in zip(
                    sentences, predicates, windows
                )
            ],
            [pieces[start:end] for pieces, (start, end) in zip(counts, windows)],
            batch_size,
        )
        outside = self.tags.index("O")
        tags, scores = [], []
        for words, (start, end), (ids, window_scores) in zip(
            sentences, windows, outputs
        ):
            all_ids = np.full(len(words), outside)
            all_ids[start:end] = ids
            all_scores = np.zeros(len(words))
            all_scores[start:end] = window_scores
            # An I-X that continues nothing becomes B-X (the IOB1 reading).
            tags.append(to_iob2([self.tags[i] for i in all_ids], "iob1"))
            scores.append(all_scores)
        return tags, scores

    def predict(
        self, x=None, predicate_index=None, batch_size=_PREDICT_BATCH, **kwargs
    ):
        """The arguments of a predicate, with roles and character offsets.

        Args:
            x: a sentence (a string, split into words by the model's
                `word_splitter`, fitted on the training words; or a list of words, read
                as the words joined by single spaces), or a list of them.
            predicate_index: the index of the predicate word (an int for one
                sentence, a list of ints for a list of sentences).

        Returns:
            For one sentence, its arguments: a list of `{"text", "role",
            "start", "end", "score"}`, where `text == sentence[start:end]`
            (the joined words for a list of words) and `score` is the mean
            tag probability of its words; the predicate's own `V` span is
            not an argument. For a list of sentences, a list of such lists.

        Example:

        ```python
        model = RoleLabeler.from_backbone("minilm", tags=["O", "B-ARG0", "I-ARG0",
                                                          "B-V", "I-V"])
        model.predict("the cast loved the film", 2)  # one sentence
        model.predict(["the cast loved it", ["it", "was", "fun"]], [2, 1])  # a batch
        ```
        """
        single = not isinstance(predicate_index, (list, tuple, np.ndarray))
        if single:
            if not isinstance(x, (str, list, tuple)):
                raise DataError(
                    "predict takes a sentence (a string or a list of words) and "
                    "the index of its predicate word."
                )
            sentences, predicates = [x], [predicate_index]
        else:
            if not isinstance(x, (list, tuple)) or len(x) != len(predicate_index):
                raise DataError(
                    "predict takes a list of sentences and a list of predicate "
                    "indices of the same length."
                )
            sentences, predicates = list(x), list(predicate_index)
        located = [
            _located_words(sentence, index, self.word_splitter)
            for index, sentence in enumerate(sentences)
        ]
        tags, scores = self.predict_tags(
            [[word for word, _, _ in words] for _, words in located],
            predicates,
            batch_size=batch_size,
        )
        results = []
        for (source, words), instance_tags, instance_scores in zip(
            located, tags, scores
        ):
            spans = located_entities(source, words, instance_tags, instance_scores)
            results.append(
                [
                    {"text": s["text"], "role": s["type"], "start": s["start"]}
                    | {"end": s["end"], "score": s["score"]}
                    for s in spans
                    if s["type"] not in _PREDICATE_ROLES
                ]
            )
        return results[0] if single else results

    def _batch_inputs(self, inputs):
        sentences = tf.constant([sentence for sentence, _ in inputs])
        predicates = tf.constant([int(index) for _, index in inputs], tf.int32)
        return (sentences, predicates)

    def _choose_max_length(self, x):
        # The pair encoding repeats the predicate after the sentence: count it.
        if self.predicate_encoding == "pair" and not self._word_splitter_fixed:
            self.fit_word_splitter(x)
        if (
            self.predicate_encoding != "pair"
            or self.max_length is not None
            or not isinstance(x, tf.data.Dataset)
        ):
            return super()._choose_max_length(x)
        texts, pairs = [], []
        for features, _ in examples_of(x.take(LENGTH_SAMPLE)):
            if not isinstance(features, tuple):
                return super()._choose_max_length(x)
            texts.append(text(features[0]))
            pairs.append(texts[-1].split()[int(features[1])])
            if len(texts) >= LENGTH_SAMPLE:
                break
        if not texts:
            return None
        limit = getattr(self.backbone, "max_sequence_length", 512)
        self.max_length = choose_sequence_length(
            self.preprocessor.tokenizer, texts, pairs, limit=limit
        )
        self.preprocessor.sequence_length = self.max_length
        return None


def _has_segments(backbone):
    """Whether a backbone takes `segment_ids` with at least two segments."""
    inputs = backbone.input if isinstance(backbone.input, dict) else {}
    return "segment_ids" in inputs and getattr(backbone, "num_segments", 2) >= 2


def _check_preprocessor(backbone, preprocessor):
    encoding = getattr(preprocessor, "predicate_encoding", None)
    if encoding not in PREDICATE_ENCODINGS:
        raise PolicyError(
            f"RoleLabeler takes a RoleLabelerPreprocessor (it marks the predicate), "
            f"got {type(preprocessor).__name__}."
        )
    if encoding == "segment" and not _has_segments(backbone):
        raise PolicyError(
            f"predicate_encoding='segment': the backbone {type(backbone).__name__} "
            "has no segment embedding (segment_ids); use predicate_encoding='pair'."
        )


def _check_predicates(sentences, predicates):
    if isinstance(predicates, (int, np.integer)) or len(predicates) != len(sentences):
        raise DataError(
            f"{len(sentences)} sentences: give one predicate index per sentence."
        )
    checked = []
    for index, (words, predicate) in enumerate(zip(sentences, predicates)):
        if isinstance(predicate, bool) or not isinstance(predicate, (int, np.integer)):
            raise DataError(
                f"Sentence {index}: the predicate index is {predicate!r}; expected "
                "the index of a word (an int)."
            )
        if not 0 <= predicate < len(words):
            raise DataError(
                f"Sentence {index}: predicate index {predicate} is not a word of "
                f"the sentence (it has {len(words)} words, indices 0-"
                f"{len(words) - 1})."
            )
        checked.append(int(predicate))
    return checked


def _predicate_window(counts, predicate, budget):
    """The word window `(start, end)` around `predicate` of at most `budget` sub-words.

    Grows one word at a time on either side, nearest first; the predicate
    word is always in it.
    """
    start, end, used = predicate, predicate + 1, int(counts[predicate])
    while True:
        grown = False
        left, right = predicate - start, end - 1 - predicate
        for side in (0, 1) if left <= right else (1, 0):
            if side == 0 and start > 0 and used + counts[start - 1] <= budget:
                start, used, grown = start - 1, used + int(counts[start - 1]), True
            elif side == 1 and end < len(counts) and used + counts[end] <= budget:
                end, used, grown = end + 1, used + int(counts[end]), True
        if not grown:
            return start, end


def _located_words(sentence, index, splitter):
    """`(text, [(word, start, end)])` of a sentence given as a string or words."""
    if isinstance(sentence, str):
        words = splitter.split(sentence)
        if not words:
            raise DataError(f"Sentence {index} has no words.")
        return sentence, words
    if not isinstance(sentence, (list, tuple)) or not all(
        isinstance(word, str)
        and word.strip()
        and word == word.strip()
        and len(word.split()) == 1
        for word in sentence
    ):
        raise DataError(
            f"Sentence {index}: expected a string or a list of words (non-empty "
            "strings without spaces)."
        )
    words, position = [], 0
    for word in sentence:
        words.append((word, position, position + len(word)))
        position += len(word) + 1
    return " ".join(sentence), words

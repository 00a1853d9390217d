"""`TokenClassifier`: a tag for every word (NER, POS, chunking), spans with offsets."""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.data.conll import to_iob2
from tlnlp_tf.data.words import split_words
from tlnlp_tf.errors import DataError
from tlnlp_tf.layers import TokenClassificationHead
from tlnlp_tf.metrics.entities import entity_scores
from tlnlp_tf.metrics.entities import get_entities
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.task import TextTask
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor

_PREDICT_BATCH = 32


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassifier(TextTask):
    """Tag every word of a sentence (IOB2 tags), and decode entities with offsets.

    Training data is `(sentence, tags)`: the words of a sentence joined by
    single spaces and their tags likewise (see `read_conll`). Each word's tag
    is learned on its first sub-word; the other sub-words are masked out of
    the loss. `predict` takes raw text and returns entities whose `start` and
    `end` slice the input text; long texts are split into overlapping
    windows, never truncated.

    Args:
        backbone: a `keras_hub.models.Backbone`.
        tags: the IOB2 tag names (`"O"`, `"B-PER"`, `"I-PER"`, …).
        preprocessor: a `TokenClassifierPreprocessor`.
        dropout, freeze, max_length: as for `TextClassifier`.

    Example:

    ```python
    train = tl.data.read_conll("train.txt")
    model = TokenClassifier.from_backbone("minilm", tags=train.tag_names())
    model.fit(train.to_dataset().shuffle(20_000).batch(32), epochs=3)
    model.predict(["Angela Merkel visited Paris ."])
    # [[{"text": "Angela Merkel", "type": "PER", "start": 0, "end": 13, "score": …}, …]]
    ```
    """

    # CoNLL-2003 sweep (docs/freezing.md): 2e-4 with layer decay 0.9 beat 1e-4.
    small_backbone_learning_rate = 2e-4
    fine_tuning_layer_decay = 0.9
    targets_are_weighted = True  # the weights mask all but first sub-words

    def __init__(
        self,
        backbone,
        tags,
        preprocessor=None,
        dropout=0.1,
        freeze="none",
        max_length=None,
        **kwargs,
    ):
        tags = [str(tag) for tag in tags]
        if "O" not in tags or len(set(tags)) != len(tags):
            raise ValueError(
                f"tags must be distinct IOB2 tags including 'O', got {tags}."
            )
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
        self.compile()

    @classmethod
    def from_backbone(cls, spec, tags, freeze="none", weights="pretrained", **kwargs):
        """Build a tagger on a backbone spec (see `TextClassifier.from_backbone`)."""
        backbone, text_preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        preprocessor = TokenClassifierPreprocessor(
            text_preprocessor.tokenizer,
            sequence_length=getattr(backbone, "max_sequence_length", 512),
        )
        return cls(backbone, tags, preprocessor, freeze=freeze, **kwargs)

    def default_loss(self):
        # Averaged over the first sub-words only, whatever the padding.
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        )

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

    def preprocess_samples(self, x, y=None, sample_weight=None):
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
                them (`tlnlp_tf.data.split_words`: "Paris." is two words).

        Returns:
            `(tags, scores)`: per sentence, one tag and one probability per word.

        Example:

        ```python
        tags, scores = model.predict_tags([["Angela", "Merkel", "visited", "Paris"]])
        ```
        """
        sentences = [
            [w for w, _, _ in split_words(s)] if isinstance(s, str) else list(s)
            for s in ([sentences] if isinstance(sentences, str) else sentences)
        ]
        for index, words in enumerate(sentences):
            if not all(isinstance(word, str) and word.strip() for word in words):
                raise DataError(
                    f"Sentence {index}: expected a list of words (non-empty "
                    "strings) or a string to split."
                )
        counts = self._piece_counts(sentences)
        budget = self.sequence_length() - 2
        segments = []  # (sentence, first word, end word)
        for index in range(len(sentences)):
            for start, end in _windows(counts[index], budget):
                segments.append((index, start, end))
        probabilities = self._segment_probabilities(
            sentences, counts, segments, batch_size
        )
        best = [np.zeros((len(words), len(self.tags))) for words in sentences]
        centrality = [np.full(len(words), -1.0) for words in sentences]
        for (index, start, end), probs in zip(segments, probabilities):
            for offset, word in enumerate(range(start, end)):
                distance = min(word - start, end - 1 - word)  # prefer central windows
                if distance > centrality[index][word]:
                    centrality[index][word] = distance
                    best[index][word] = probs[offset]
        tags = [[self.tags[i] for i in p.argmax(-1)] for p in best]
        scores = [p.max(-1) if len(p) else p[:, 0] for p in best]
        # An I-X that continues nothing becomes B-X: the IOB1 reading of the tags.
        return [to_iob2(sentence, "iob1") for sentence in tags], scores

    def predict(self, x=None, batch_size=_PREDICT_BATCH, **kwargs):
        """Entities in raw texts.

        Args:
            x: a list of texts (or one text).

        Returns:
            Per text, a list of `{"text", "type", "start", "end", "score"}`;
            `text == input[start:end]`, `score` the mean tag probability.
        """
        texts = [x] if isinstance(x, str) else list(x)
        check_texts(texts)
        split = [split_words(text) for text in texts]
        tags, scores = self.predict_tags(
            [[w for w, _, _ in words] for words in split], batch_size=batch_size
        )
        results = []
        for source, words, sentence_tags, sentence_scores in zip(
            texts, split, tags, scores
        ):
            entities = []
            for kind, first, end in get_entities(sentence_tags):
                start, stop = words[first][1], words[end - 1][2]
                entities.append(
                    {
                        "text": source[start:stop],
                        "type": kind,
                        "start": start,
                        "end": stop,
                        "score": round(float(np.mean(sentence_scores[first:end])), 6),
                    }
                )
            results.append(entities)
        return results

    def _piece_counts(self, sentences):
        words = [word for sentence in sentences for word in sentence]
        counts = np.zeros(0, dtype=int)
        if words:
            pieces = self.preprocessor.word_pieces(tf.constant(words))
            counts = pieces.row_lengths().numpy()
        splits = np.cumsum([0] + [len(s) for s in sentences])
        return [counts[a:b] for a, b in zip(splits[:-1], splits[1:])]

    def _segment_probabilities(self, sentences, counts, segments, batch_size):
        """Per segment, the tag probabilities of each word's first sub-word."""
        lengths = [int(counts[i][a:b].sum()) for i, a, b in segments]
        order = np.argsort(lengths, kind="stable")  # similar lengths batch together
        results = [None] * len(segments)
        for chunk_start in range(0, len(order), batch_size):
            chunk = order[chunk_start : chunk_start + batch_size]
            texts = [
                " ".join(sentences[segments[k][0]][segments[k][1] : segments[k][2]])
                for k in chunk
            ]
            logits = self.predict_on_batch(tf.constant(texts))
            probs = np.asarray(keras.ops.softmax(np.asarray(logits, "float32")))
            for row, k in enumerate(chunk):
                index, start, end = segments[k]
                firsts = 1 + np.concatenate(
                    [[0], np.cumsum(counts[index][start:end])[:-1]]
                )
                firsts = np.minimum(firsts, probs.shape[1] - 1)
                results[k] = probs[row, firsts]
        return results

    def get_config(self):
        config = super().get_config()
        config.pop("pooling")
        config["tags"] = list(self.tags)
        return config


def _tagged(words, tags, source):
    if len(words) != len(tags) or any(len(w) != len(t) for w, t in zip(words, tags)):
        raise DataError(f"{source}: give one tag per word of every sentence.")
    return TaggedSentences(words, tags, source=source)


def _windows(counts, budget):
    """Overlapping `(start, end)` word windows of at most `budget` sub-words."""
    total = len(counts)
    if total == 0:
        return []
    if int(np.sum(counts)) <= budget:
        return [(0, total)]
    windows, start = [], 0
    while True:
        end, used = start, 0
        while end < total and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        end = max(end, start + 1)  # a single over-long word stands alone
        windows.append((start, end))
        if end >= total:
            return windows
        start = max(start + 1, start + (end - start) // 2)  # half-window stride

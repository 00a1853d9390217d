"""`SpanExtractor`: extractive question answering (SQuAD style), with offsets."""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.squad import QuestionAnswers
from tlnlp_tf.data.words import split_words
from tlnlp_tf.errors import DataError
from tlnlp_tf.layers import SpanHead
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.metrics.squad import squad_scores
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.span_extractor_preprocessor import SpanExtractorPreprocessor
from tlnlp_tf.tasks.task import TextTask

# Default and largest window: BERT's SQuAD setting.
DEFAULT_MAX_LENGTH = 384
# Start and end candidates per window in n-best decoding.
N_BEST = 20


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SpanExtractor(TextTask):
    """Find the answer to a question as a span of its context.

    Training data is `({"question", "context"}, [first word, last word])` as
    `QuestionAnswers.to_dataset()` writes it. Long contexts are cut into
    overlapping windows (`max_length`, `doc_stride`); `predict` decodes the
    best span over all windows of an example (n-best start/end candidates,
    at most `max_answer_length` tokens), and, when `allow_no_answer`, returns
    the empty answer if the [CLS] "no answer" score beats every span.

    Args:
        backbone: a `keras_hub.models.Backbone`.
        preprocessor: a `SpanExtractorPreprocessor`.
        dropout, freeze: as for `TextClassifier`.
        max_length: tokens per window; `None` chooses from the training data
            (at most 384).
        max_answer_length: the longest answer, in tokens.
        allow_no_answer: whether the model may answer "" (SQuAD v2).

    Example:

    ```python
    train, dev = tl.data.read_squad("dev-v1.1.json").split_articles(38)
    model = SpanExtractor.from_backbone("minilm")
    model.fit(train.to_dataset().shuffle(10_000).batch(16), epochs=2)
    model.predict([{"question": "Who spoke?", "context": "Merkel spoke in Paris."}])
    # [{"answer": "Merkel", "start": 0, "end": 6, "score": 0.93}]
    ```
    """

    windows_long_inputs = True  # long contexts are windowed, never truncated

    def __init__(
        self,
        backbone,
        preprocessor=None,
        dropout=0.1,
        freeze="none",
        max_length=None,
        max_answer_length=30,
        allow_no_answer=False,
        **kwargs,
    ):
        head = SpanHead(dropout=dropout, dtype=backbone.dtype_policy, name="span_head")
        self._build(
            backbone, head, preprocessor, "none", dropout, freeze, max_length, **kwargs
        )
        self.max_answer_length = int(max_answer_length)
        self.allow_no_answer = bool(allow_no_answer)
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        freeze="none",
        weights="pretrained",
        doc_stride=128,
        max_question_length=64,
        **kwargs,
    ):
        """A span extractor on a backbone spec (see `TextClassifier.from_backbone`)."""
        backbone, text_preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        preprocessor = SpanExtractorPreprocessor(
            text_preprocessor.tokenizer,
            sequence_length=min(DEFAULT_MAX_LENGTH, _backbone_limit(backbone)),
            doc_stride=doc_stride,
            max_question_length=max_question_length,
        )
        return cls(backbone, preprocessor, freeze=freeze, **kwargs)

    def default_loss(self):
        # Start and end positions: a cross-entropy over the tokens of each window.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        # None: a window-level accuracy counts the windows trained to point
        # at [CLS] (most of them); `evaluate` reports exact match and F1.
        return None

    def encode_targets(self, y):
        return y

    def preprocess_batch(self, x, y=None, sample_weight=None):
        if is_tokenized(x):  # windows already (`tokenize_once`, `predict`)
            return self._batch_tokenized(x, y, sample_weight)
        if self.preprocessor is None or not isinstance(x, dict) or "question" not in x:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        features, positions, windows = self.preprocessor.windows(x, y)
        features = self.batch_features(features)
        if sample_weight is not None:
            sample_weight = tf.gather(sample_weight, windows["example"])
        return keras.utils.pack_x_y_sample_weight(features, positions, sample_weight)

    def _prediction_windows(self, batch):
        """The windows of a batch of `{"question", "context"}` (no targets)."""
        return self.preprocessor.windows(batch)[::2]

    def _choose_max_length(self, x):
        if self.max_length is not None or self.preprocessor is None:
            return
        questions, contexts = _sample_pairs(x)
        if not questions:
            return
        limit = min(DEFAULT_MAX_LENGTH, _backbone_limit(self.backbone))
        self.max_length = choose_sequence_length(
            self.preprocessor.tokenizer,
            questions,
            contexts,
            limit=limit,
            warn=not self.windows_long_inputs,
        )
        self.preprocessor.sequence_length = self.max_length

    # === Prediction ===

    def score(self, data, batch_size=32):
        """SQuAD exact match and F1 on `QuestionAnswers`.

        ```python
        model.score(tl.data.read_squad("dev.json"))
        ```
        """
        answers = self.predict(data.inputs(), batch_size=batch_size)
        predicted = [answer["answer"] for answer in answers]
        return rounded(squad_scores(predicted, data.answer_texts()))

    def task_scores(self, data, batch_size):
        return self.score(data, batch_size)

    def labelled(self, x, y=None, steps=None):
        """`QuestionAnswers` from themselves or a dataset of raw examples.

        A dataset (`QuestionAnswers.to_dataset()`) holds each question's
        first answer as a span of the context's words: the gold answer is
        those words. Score the `QuestionAnswers` to count every answer.
        """
        if isinstance(x, QuestionAnswers):
            return x
        if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
            return None
        questions, contexts, answers = [], [], []
        for features, span in examples_of(x, steps):
            if span is None or not isinstance(features, dict):
                return None
            words = text(features["context"]).split()
            context = " ".join(words)
            first, last = (int(i) for i in np.reshape(span, -1)[:2])
            answer = []
            if first >= 0:
                start = len(" ".join(words[:first])) + (1 if first else 0)
                answer = [{"text": " ".join(words[first : last + 1]), "start": start}]
            questions.append(text(features["question"]))
            contexts.append(context)
            answers.append(answer)
        count = len(questions)
        return QuestionAnswers(
            [str(i) for i in range(count)],
            [""] * count,
            questions,
            contexts,
            answers,
            source="the evaluation dataset",
        )

    def predict(self, x=None, batch_size=32, **kwargs):
        """Answers to questions on contexts.

        Args:
            x: `{"question", "context"}` or a list of them.

        Returns:
            Per question, `{"answer", "start", "end", "score"}`:
            `answer == context[start:end]`; `score` is the span's probability
            (start × end, within its window). A "no answer" (only with
            `allow_no_answer`) is `{"answer": "", "start": None, "end": None}`.
        """
        items = [x] if isinstance(x, dict) else list(x)
        questions, contexts = _check_inputs(items)
        words = [split_words(context) for context in contexts]
        joined = [" ".join(w for w, _, _ in ws) for ws in words]
        data = (
            tf.data.Dataset.from_tensor_slices(
                {
                    "question": tf.constant(questions, tf.string),
                    "context": tf.constant(joined, tf.string),
                }
            )
            .batch(batch_size)
            .map(self._traced("_prediction_windows"))
        )
        best = [None] * len(items)
        no_answer = np.full(len(items), np.inf)  # lowest [CLS] score over windows
        no_answer_probability = np.zeros(len(items))
        offset = 0
        for features, windows in data:
            features = self.batch_features(features)
            logits = np.asarray(self.predict_on_batch(features), "float32")
            token_words = windows["token_words"].numpy()[:, : logits.shape[-1]]
            examples = windows["example"].numpy()
            for row, example in enumerate(examples):
                index = offset + int(example)
                start, end = logits[row]
                if start[0] + end[0] < no_answer[index]:
                    no_answer[index] = start[0] + end[0]
                    no_answer_probability[index] = _softmax(start)[0] * _softmax(end)[0]
                candidate = self._best_span(start, end, token_words[row])
                if candidate and (best[index] is None or candidate[0] > best[index][0]):
                    best[index] = candidate
            offset += int(examples.max()) + 1 if len(examples) else 0
        results = []
        for index, context in enumerate(contexts):
            span = best[index]
            if span is None or (self.allow_no_answer and no_answer[index] > span[0]):
                results.append(
                    {
                        "answer": "",
                        "start": None,
                        "end": None,
                        "score": round(float(no_answer_probability[index]), 6),
                    }
                )
                continue
            _, first, last, probability = span
            begin, stop = words[index][first][1], words[index][last][2]
            results.append(
                {
                    "answer": context[begin:stop],
                    "start": begin,
                    "end": stop,
                    "score": round(float(probability), 6),
                }
            )
        return results

    def _best_span(self, start, end, token_words):
        """`(score, first word, last word, probability)` of a window's best span."""
        context = np.flatnonzero(token_words >= 0)
        if not len(context):
            return None
        starts = context[np.argsort(-start[context], kind="stable")[:N_BEST]]
        ends = context[np.argsort(-end[context], kind="stable")[:N_BEST]]
        pairs = [
            (i, j) for i in starts for j in ends if i <= j < i + self.max_answer_length
        ]
        if not pairs:
            return None
        i, j = max(pairs, key=lambda p: start[p[0]] + end[p[1]])
        probability = _softmax(start)[i] * _softmax(end)[j]
        return (
            float(start[i] + end[j]),
            int(token_words[i]),
            int(token_words[j]),
            probability,
        )

    def get_config(self):
        config = super().get_config()
        config.pop("pooling")
        config.update(
            {
                "max_answer_length": self.max_answer_length,
                "allow_no_answer": self.allow_no_answer,
            }
        )
        return config


def _backbone_limit(backbone):
    return int(getattr(backbone, "max_sequence_length", None) or 512)


def _softmax(values):
    values = values - values.max()
    exp = np.exp(values)
    return exp / exp.sum()


def _check_inputs(items):
    questions, contexts = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not {"question", "context"} <= set(item):
            raise DataError(
                f"Input {index}: expected a dict with 'question' and 'context', "
                f"found {type(item).__name__}."
            )
        for field in ("question", "context"):
            value = item[field]
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"Input {index}: the {field} is empty or not a string.")
        questions.append(item["question"])
        contexts.append(item["context"])
    return questions, contexts


def _sample_pairs(x):
    """Up to `LENGTH_SAMPLE` (questions, contexts) from a dataset or lists."""
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], list):
        return x[0][:LENGTH_SAMPLE], x[1][:LENGTH_SAMPLE]
    if not isinstance(x, tf.data.Dataset):
        return [], []
    questions, contexts = [], []
    for element in x.take(LENGTH_SAMPLE):
        features, _, _ = keras.utils.unpack_x_y_sample_weight(element)
        if not isinstance(features, dict) or "question" not in features:
            return [], []
        questions.extend(
            t.decode("utf-8") for t in np.reshape(features["question"].numpy(), -1)
        )
        contexts.extend(
            t.decode("utf-8") for t in np.reshape(features["context"].numpy(), -1)
        )
        if len(questions) >= LENGTH_SAMPLE:
            break
    return questions[:LENGTH_SAMPLE], contexts[:LENGTH_SAMPLE]

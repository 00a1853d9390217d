"""The serving function of a `SpanExtractor`: question and context in, answer out.

Everything `SpanExtractor.predict` does, in TF ops: the context split into
words (`split_words`), the preprocessor's overlapping windows (a long
context is read whole, window by window, never truncated), n-best span
decoding in each window, the best window, and the answer's character
offsets in the context.

```python
model = tl.SpanExtractor.from_backbone("minilm")
serve, signature, trackables = answer_serving(model)
serve(tf.constant(["Who spoke?"]), tf.constant(["Merkel spoke in Paris."]))
# trained: {"answer": [b"Merkel"], "start": [0], "end": [6], "score": [0.93]}
```
"""

import tensorflow as tf

from tlnlp_tf.export.graph_words import GraphWordSplitter
from tlnlp_tf.export.graph_words import checked_texts
from tlnlp_tf.tasks.span_extractor import N_BEST


def answer_serving(model):
    """`(serve, input_signature, trackables)` for a `SpanExtractor`.

    `serve(question, context)` takes `[batch]` strings and returns what
    `model.predict` does: `answer` (string `[batch]`, `context[start:end]`),
    `start`, `end` (int64 character offsets into the context; -1 for no
    answer) and `score` (float32: the span's probability, start × end in
    its window; for no answer, the [CLS] probability). Questions are cut
    to the preprocessor's `max_question_length` tokens, as in `predict`.

    ```python
    extractor = tl.SpanExtractor.from_backbone("minilm", allow_no_answer=True)
    serve, _, _ = answer_serving(extractor)
    serve(tf.constant(["Who left?"]), tf.constant(["Ann left Paris."]))["answer"]
    ```
    """
    splitter = GraphWordSplitter()
    longest = int(model.max_answer_length)
    allow_no_answer = bool(model.allow_no_answer)

    def serve(question, context):
        question = checked_texts(question, "question")
        context = checked_texts(context, "context")
        words, starts, ends = splitter(context)
        joined = tf.strings.reduce_join(words, axis=1, separator=" ")
        features, _, windows = model.preprocessor.windows(
            {"question": question, "context": joined}
        )
        features = model.batch_features(features)
        logits = tf.cast(model(features, training=False), tf.float32)  # [W, 2, T]
        token_words = windows["token_words"][:, : tf.shape(logits)[2]]
        example = windows["example"]
        rows = tf.size(question)
        probabilities = tf.nn.softmax(logits, axis=-1)
        score, first, last, probability = _best_spans(
            logits, probabilities, token_words, longest
        )
        # The best span over an example's windows (the first on a tie).
        span_score, span_window = _segment_best(score, example, rows)
        # "No answer": the window with the lowest [CLS] score (start + end).
        empty_score, empty_window = _segment_best(
            -(logits[:, 0, 0] + logits[:, 1, 0]), example, rows
        )
        found = span_score > -float("inf")
        if allow_no_answer:
            found &= ~(-empty_score > span_score)
        window = tf.where(found, span_window, 0)
        offset = words.row_starts()
        first_word = offset + tf.cast(tf.gather(first, window), tf.int64)
        last_word = offset + tf.cast(tf.gather(last, window), tf.int64)
        start = tf.gather(starts.flat_values, tf.where(found, first_word, 0))
        end = tf.gather(ends.flat_values, tf.where(found, last_word, 0))
        empty_probability = tf.gather(
            probabilities[:, 0, 0] * probabilities[:, 1, 0],
            tf.where(empty_window < 0, 0, empty_window),
        )
        answer = tf.strings.substr(context, start, end - start, unit="UTF8_CHAR")
        return {
            "answer": tf.where(found, answer, ""),
            "start": tf.where(found, start, -1),
            "end": tf.where(found, end, -1),
            "score": tf.where(found, tf.gather(probability, window), empty_probability),
        }

    signature = [
        tf.TensorSpec([None], tf.string, name="question"),
        tf.TensorSpec([None], tf.string, name="context"),
    ]
    return serve, signature, [splitter]


def _best_spans(logits, probabilities, token_words, longest):
    """Per window: `(score, first word, last word, probability)` of its best span.

    `SpanExtractor._best_span`: the `N_BEST` best starts and ends among the
    context tokens, pairs with `start <= end < start + longest`, the pair of
    highest start + end logit. A window without such a pair scores -inf.
    """
    context = token_words >= 0
    count = tf.minimum(N_BEST, tf.shape(logits)[2])
    candidates = tf.where(context[:, None], logits, -float("inf"))
    values, positions = tf.math.top_k(candidates, k=count)  # [W, 2, n]
    valid = tf.gather(context, positions, batch_dims=1)
    i, j = positions[:, 0, :, None], positions[:, 1, None, :]
    allowed = valid[:, 0, :, None] & valid[:, 1, None, :] & (i <= j) & (j < i + longest)
    pairs = tf.where(
        allowed, values[:, 0, :, None] + values[:, 1, None, :], -float("inf")
    )
    pairs = tf.reshape(pairs, [tf.shape(pairs)[0], -1])
    best = tf.argmax(pairs, axis=1, output_type=tf.int32)
    start = tf.gather(positions[:, 0], best // count, batch_dims=1)
    end = tf.gather(positions[:, 1], best % count, batch_dims=1)
    probability = tf.gather(probabilities[:, 0], start, batch_dims=1) * tf.gather(
        probabilities[:, 1], end, batch_dims=1
    )
    return (
        tf.reduce_max(pairs, axis=1),
        tf.gather(token_words, start, batch_dims=1),
        tf.gather(token_words, end, batch_dims=1),
        probability,
    )


def _segment_best(values, segments, count):
    """Per segment: the highest value and the first index holding it (-1 if none)."""
    best = tf.math.unsorted_segment_max(values, segments, count)
    index = tf.range(tf.size(values))
    holds = tf.equal(values, tf.gather(best, segments))
    first = tf.math.unsorted_segment_min(
        tf.where(holds, index, tf.size(values)), segments, count
    )
    return best, tf.where(first >= tf.size(values), -1, first)

"""The serving function of a `TextClassifier`: raw texts in, labels out.

```python
model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
serve, signature, trackables = label_serving(model)
serve(tf.constant(["a gripping, funny film"]))["label"]  # trained: [b"pos"]
```
"""

import tensorflow as tf

from tlnlp_tf.export.graph_words import checked_texts


def label_serving(model, text_pairs=False):
    """`(serve, input_signature, trackables)` for a `TextClassifier`.

    `serve(text)` (or `serve(text, text_pair)` with `text_pairs=True`) takes
    `[batch]` strings and returns what `model.predict` does, as tensors:
    `label` (string `[batch]`), `score` (float32 `[batch]`, the label's
    probability), `probabilities` (float32 `[batch, classes]`), `labels`
    (string `[batch, classes]`: the column names of `probabilities`, the
    same in every row) and `truncated` (bool `[batch]`: the input was longer
    than `max_length` tokens and was cut, as `predict` warns).

    ```python
    serve, _, _ = label_serving(model, text_pairs=True)
    serve(tf.constant(["a man sleeps"]), tf.constant(["a person rests"]))
    ```
    """
    labels = tf.constant(list(model.labels))
    limit = model.sequence_length()
    tokenizer = model.preprocessor.tokenizer

    def outputs(x, tokens):
        logits = model(model.preprocess_batch(x), training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        index = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        rows = tf.shape(probabilities)[0]
        return {
            "label": tf.gather(labels, index),
            "score": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
            "labels": tf.tile(labels[None], [rows, 1]),
            "truncated": tokens > limit,
        }

    def count(texts):
        return tf.cast(_ragged(tokenizer(texts)).row_lengths(), tf.int32)

    if text_pairs:

        def serve(text, text_pair):
            text = checked_texts(text, "text")
            text_pair = checked_texts(text_pair, "text_pair")
            return outputs((text, text_pair), count(text) + count(text_pair) + 3)

        signature = [_strings("text"), _strings("text_pair")]
    else:

        def serve(text):
            text = checked_texts(text, "text")
            return outputs(text, count(text) + 2)

        signature = [_strings("text")]
    return serve, signature, []


def _strings(name):
    return tf.TensorSpec([None], tf.string, name=name)


def _ragged(tokens):
    if isinstance(tokens, tf.RaggedTensor):
        return tokens
    if isinstance(tokens, tf.Tensor):  # a tokenizer that pads
        return tf.RaggedTensor.from_tensor(tokens)
    return tf.ragged.constant(tokens, tf.int32, ragged_rank=1)  # eager: lists

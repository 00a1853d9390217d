"""`export_saved_model`: a TensorFlow SavedModel that serves raw strings.

The `serving_default` signature takes raw text and returns what
`model.predict` returns, as tensors: the tokenizer, word splitting,
windows and decoding run inside the graph, so a server needs TensorFlow
and tensorflow-text only (`import tensorflow_text` before
`tf.saved_model.load`; TF Serving's model server links tensorflow-text's
ops), not `tlnlp_tf` nor keras-hub.

```python
model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
export_saved_model(model, "serving/reviews/1")  # or model.export(...)

# Where it is served: TensorFlow and tensorflow-text, nothing else.
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the ops the graph uses)

serve = tf.saved_model.load("serving/reviews/1").signatures["serving_default"]
serve(text=tf.constant(["a gripping, funny film"]))["label"]  # trained: [b"pos"]
```
"""

import os

import keras

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.export.answer_serving import answer_serving
from tlnlp_tf.export.entity_serving import entity_serving
from tlnlp_tf.export.label_serving import label_serving
from tlnlp_tf.tasks import RoleLabeler
from tlnlp_tf.tasks import SpanExtractor
from tlnlp_tf.tasks import TextClassifier
from tlnlp_tf.tasks import TokenClassifier


def export_saved_model(model, path, text_pairs=False, verbose=False):
    """Write `model` as a SavedModel whose `serving_default` takes raw strings.

    The signature, per task (all tensors have the batch as first axis, so
    TF Serving's row format `{"instances": [...]}` works):

    - `TextClassifier`: input `text` (`text` and `text_pair` with
      `text_pairs=True`); outputs `label` (string), `score` (float32, the
      label's probability), `probabilities` (float32 `[batch, classes]`),
      `labels` (string `[batch, classes]`, the columns of `probabilities`)
      and `truncated` (bool: the input was longer than `max_length` tokens
      and was cut, as `predict` warns).
    - `TokenClassifier`: input `text`; outputs `entity_text`,
      `entity_label` (string `[batch, entities]`, `""` as padding),
      `entity_start`, `entity_end` (int64 character offsets into `text`, -1
      as padding), `entity_score` (float32, 0 as padding) and
      `entity_count` (int64 `[batch]`). Long texts are cut into overlapping
      word windows as `predict` cuts them: nothing is truncated.
    - `SpanExtractor`: inputs `question` and `context`; outputs `answer`
      (string), `start`, `end` (int64 character offsets into `context`, -1
      for no answer) and `score` (float32). Long contexts are read in the
      preprocessor's overlapping windows (`max_length`, `doc_stride`), in
      the graph: nothing is truncated; questions are cut to
      `max_question_length` tokens, as in `predict`.

    An empty (or all-whitespace) input fails the request with an
    `InvalidArgumentError` naming the input, as `predict` refuses it. The
    words are split as `predict` splits them, the `TokenClassifier`'s
    fitted `word_splitter` too (`GraphWordSplitter`: the same words and
    offsets for every character Python's Unicode database knows).

    Args:
        model: a `TextClassifier`, `TokenClassifier` or `SpanExtractor`
            with its preprocessor.
        path: the SavedModel folder to write (TF Serving reads
            `<model_base_path>/<version>/`, e.g. `"serving/reviews/1"`).
        text_pairs: for a `TextClassifier` fitted on pairs of texts.
        verbose: print Keras's summary of the exported endpoint.

    Returns:
        `path`.

    Example:

    ```python
    tagger = tl.TokenClassifier.from_backbone("minilm", tags=["O", "B-PER", "I-PER"])
    export_saved_model(tagger, "serving/ner/1")
    # served: {"instances": [{"text": "Angela Merkel spoke ."}]} gives per text
    # entity_text, entity_label, entity_start, entity_end, entity_score (padded)
    # and entity_count.
    ```
    """
    serve, signature, trackables = _serving(model, text_pairs)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for trackable in trackables:
        archive.track(trackable)
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.write_out(os.fspath(path), verbose=verbose)
    return path


def _serving(model, text_pairs):
    """`(serve, input_signature, trackables)` for the task of `model`."""
    name = type(model).__name__
    if isinstance(model, TextClassifier):
        serving = label_serving
    elif isinstance(model, TokenClassifier) and not isinstance(model, RoleLabeler):
        serving = entity_serving
    elif isinstance(model, SpanExtractor):
        serving = answer_serving
    else:
        raise PolicyError(
            f"A serving signature on raw text exists for TextClassifier, "
            f"TokenClassifier and SpanExtractor; {name} has none yet. Save it "
            "with model.save('model.keras'), or export the network alone on "
            "token features with model.export(path, format='tf_saved_model', "
            "input_signature=...)."
        )
    if model.preprocessor is None:
        raise PolicyError(
            f"{name} has no preprocessor: the serving signature tokenizes raw "
            "text with it. Set model.preprocessor (the one it was trained "
            "with) before exporting."
        )
    if text_pairs:
        if serving is not label_serving:
            raise PolicyError(
                f"text_pairs=True: only a TextClassifier serves pairs of texts, "
                f"not a {name}."
            )
        return label_serving(model, text_pairs=True)
    return serving(model)

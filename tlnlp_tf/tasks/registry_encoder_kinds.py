"""How the encoder task kinds read their data, name their targets and predict.

The hooks of "text-classification", "regression", "token-classification" and
"question-answering" in the task registry (`tlnlp_tf.tasks.registry`): the
column options, readers, target checks, preprocessors for a shared backbone,
target placeholders (`MultiTaskModel`) and the JSON records of `tlnlp predict`.
A new kind shaped like these reuses them (the registry's docstring shows how).

Example:

```python
columns = {"text_column": "sentence", "label_column": "label"}
train = read_text_examples("train.tsv", columns)
label_targets(train, None)  # the label names, at least two
```
"""

import json
import sys

import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.tasks.span_extractor import DEFAULT_MAX_LENGTH
from tlnlp_tf.tasks.span_extractor_preprocessor import SpanExtractorPreprocessor
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor

# === Column options: the data layout keys (CLI flags, multi-task config keys) ===

TEXT_COLUMNS = {
    "text_column": {"help": "text column (text tasks)"},
    "text_pair_column": {"help": "second text column, for pairs"},
    "label_column": {"help": "label or target column (text tasks)"},
}
CONLL_COLUMNS = {
    "token_column": {
        "type": int,
        "help": "CoNLL column of the tokens (default 0, the first)",
    },
    "tag_column": {
        "type": int,
        "help": "CoNLL column of the tags (default -1, the last)",
    },
    "scheme": {
        "choices": ("auto", "iob1", "iob2", "bioes", "bmes"),
        "help": "CoNLL tag scheme (default: detected)",
    },
}
SQUAD_COLUMNS = {
    "skip_mismatched_answers": {
        "action": "store_true",
        "default": None,
        "help": "SQuAD: count and skip answers whose answer_start does not "
        "match the context (default: an error)",
    },
}


# === Readers ===


def load_text_examples(
    path,
    text,
    label=None,
    pair=None,
    limit=None,
    seed=0,
    on_bad_line="error",
    stream=False,
):
    """`Examples` of .csv/.tsv/.jsonl files (`.gz`, globs, shards: `load_examples`)."""
    from tlnlp_tf.data.loading import load_examples

    if text is None:
        raise DataError(f"{path}: name the text column with --text-column.")
    return load_examples(
        path,
        text,
        label,
        pair,
        limit=limit,
        seed=seed,
        on_bad_line=on_bad_line,
        stream=stream,
    )


def read_text_examples(
    path, columns, limit=None, seed=0, on_bad_line="error", stream=False
):
    """Labelled `Examples` of a text task: `text_column` and `label_column` needed.

    A large, gzip or sharded input is streamed; `limit` then samples it as
    it is read, and `stream=True` without `limit` keeps only counts
    (`StreamedExamples`; `tl.data.load_examples`).
    """
    for option in ("text_column", "label_column"):
        if columns.get(option) is None:
            flag = "--" + option.replace("_", "-")
            raise DataError(
                f"{path}: name the {option.split('_')[0]} column with {flag}."
            )
    return load_text_examples(
        path,
        columns["text_column"],
        columns["label_column"],
        columns.get("text_pair_column"),
        limit=limit,
        seed=seed,
        on_bad_line=on_bad_line,
        stream=stream,
    )


def read_tagged(path, columns, limit=None, seed=0, stream=False):
    """`TaggedSentences` of a CoNLL file (or shards); `StreamedSentences`
    for a large or sharded input read whole with `stream=True`."""
    from tlnlp_tf.data.conll import read_conll

    token, tag = columns.get("token_column"), columns.get("tag_column")
    return read_conll(
        path,
        token_column=0 if token is None else token,
        tag_column=-1 if tag is None else tag,
        scheme=columns.get("scheme") or "auto",
        limit=limit,
        seed=seed,
        stream=stream,
    )


def read_questions(path, columns):
    """`QuestionAnswers` of a SQuAD .json file."""
    from tlnlp_tf.data.squad import read_squad

    return read_squad(
        path, skip_mismatched=bool(columns.get("skip_mismatched_answers"))
    )


# === Targets ===


def label_targets(train, validation):
    """The label names of `train` (at least two), checked on `validation`."""
    names = train.label_names()
    if len(names) < 2:
        found = f"only the label {names[0]!r}" if names else "no labels"
        raise DataError(
            f"{train.source}: found {found}; a classifier needs at least two "
            "labels in its training data."
        )
    if validation is not None:
        validation.check_labels(names)
    return names


def numeric_targets(train, validation):
    """Checks every target is a finite number; no names (`None`)."""
    for examples in (train, validation):
        if examples is not None:
            examples.check_numeric()
    return None


def tag_targets(train, validation):
    """The tag names of `train`, checked on `validation`."""
    names = train.tag_names()
    if validation is not None:
        validation.check_tags(names)
    return names


def answer_targets(train, validation):
    """`{"allow_no_answer": …}`: whether training has unanswerable questions."""
    return {"allow_no_answer": train.has_impossible}


# === Preprocessors on a shared backbone (MultiTaskModel) ===


def new_text_preprocessor(text_preprocessor, limit, options):
    """A raw-text preprocessor with the backbone's tokenizer, for a new head."""
    return type(text_preprocessor)(
        tokenizer=text_preprocessor.tokenizer, sequence_length=limit
    )


def new_token_preprocessor(text_preprocessor, limit, options):
    """A `TokenClassifierPreprocessor` with the backbone's tokenizer."""
    return TokenClassifierPreprocessor(
        text_preprocessor.tokenizer, sequence_length=limit
    )


def new_span_preprocessor(text_preprocessor, limit, options):
    """A `SpanExtractorPreprocessor` (takes `doc_stride` out of `options`)."""
    return SpanExtractorPreprocessor(
        text_preprocessor.tokenizer,
        sequence_length=min(DEFAULT_MAX_LENGTH, limit),
        doc_stride=options.pop("doc_stride", 128),
    )


# === Target placeholders (MultiTaskModel) ===


def label_spec(rows, length):
    """Targets: int class ids, one per row."""
    return tf.int32, [rows], [rows]


def value_spec(rows, length):
    """Targets: float targets, one per row."""
    return tf.float32, [rows], [rows]


def tag_spec(rows, length):
    """Targets: int tag ids, one per token."""
    return tf.int32, [rows, length], [rows, length]


def span_spec(rows, length):
    """Targets: (start, end) token positions per window."""
    return tf.int32, [rows, 2], [rows]


# === Predictions: JSON records for `tlnlp predict` ===


def read_input_lines(path):
    """The lines of `path`, or of standard input for `"-"`."""
    from tlnlp_tf.data.readers import read_text
    from tlnlp_tf.data.readers import split_lines

    if path == "-":
        return split_lines(sys.stdin.read())
    return split_lines(read_text(path))


def read_input_texts(path, columns):
    """Texts to label: a .csv/.tsv/.jsonl column, else one text per line."""
    from tlnlp_tf.data.examples import Examples

    if path != "-" and path.lower().endswith((".csv", ".tsv", ".jsonl")):
        return load_text_examples(
            path, columns.get("text_column"), None, columns.get("text_pair_column")
        )
    source = "<stdin>" if path == "-" else path
    kept = [
        (number, line)
        for number, line in enumerate(read_input_lines(path), 1)
        if line.strip()
    ]
    if not kept:
        raise DataError(f"{source}: no texts to predict.")
    return Examples(
        texts=[line for _, line in kept],
        source=source,
        lines=[number for number, _ in kept],
    )


def predict_labels(model, examples, batch_size):
    """`{"text"[, "text_pair"], "label", "score"}` or `{…, "value"}` per input."""
    result = model.predict(examples.features(), batch_size=batch_size, verbose=0)
    records = []
    for index, text in enumerate(examples.texts):
        record = {"text": text}
        if examples.pairs is not None:
            record["text_pair"] = examples.pairs[index]
        if "value" in result:
            record["value"] = round(float(result["value"][index]), 6)
        else:
            record["label"] = result["label"][index]
            record["score"] = round(float(result["score"][index]), 6)
        records.append(record)
    return records


def predict_entities(model, examples, batch_size):
    """`{"text", "entities"}` per input text."""
    result = model.predict(examples.texts, batch_size=batch_size)
    return [
        {"text": text, "entities": entities}
        for text, entities in zip(examples.texts, result)
    ]


def read_input_questions(path, columns):
    """Questions of a SQuAD .json file or JSONL of {"question", "context"[, "id"]}."""
    from tlnlp_tf.data.squad import read_squad

    if path != "-" and path.lower().endswith(".json"):
        data = read_squad(path, skip_mismatched=True)
        items = [{"id": i, **item} for i, item in zip(data.ids, data.inputs())]
    else:
        source = "<stdin>" if path == "-" else path
        items = []
        for number, line in enumerate(read_input_lines(path), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{source}, line {number}: not valid JSON ({error.msg})."
                ) from None
            if not isinstance(item, dict) or not {"question", "context"} <= set(item):
                raise DataError(
                    f"{source}, line {number}: expected an object with "
                    "'question' and 'context'."
                )
            for field in ("question", "context"):
                if not isinstance(item[field], str) or not item[field].strip():
                    raise DataError(f"{source}, line {number}: the {field} is empty.")
            items.append(item)
        if not items:
            raise DataError(f"{source}: no questions to answer.")
    return items


def predict_answers(model, items, batch_size):
    """`{["id",] "question", "context", "answer", …}` per question."""
    answers = model.predict(
        [{"question": i["question"], "context": i["context"]} for i in items],
        batch_size=batch_size,
    )
    return [{**item, **answer} for item, answer in zip(items, answers)]

"""The task registry: a task kind names its model class, reader, scorer and options.

`tlnlp fit --task KIND`, `tlnlp evaluate`, `tlnlp predict`, the multi-task
config (`type: KIND`) and `MultiTaskModel.from_backbone({name: {"kind": KIND}})`
all read this one table; nothing else lists the task kinds.

```python
from tlnlp_tf.tasks import registry

registry.task_kinds()  # ('text-classification', 'regression', ...)
spec = registry.get_task("text-classification")
train = spec.read("train.tsv", {"text_column": "sentence", "label_column": "label"})
labels = spec.targets(train, None)  # label names, checked
model = spec.build("minilm", labels, freeze="bottom-2")
spec.score(model, train, 64)  # {"accuracy": …, "f1": …, "loss": …}
```

## Adding a task

One new file, the model: a `TextTask` subclass with `score(data, batch_size)`,
registered with `keras.saving.register_keras_serializable`. Then one entry,
here or in the user's own code before `tlnlp_tf.cli.main(...)` runs:

```python
import keras

import tlnlp_tf as tl
from tlnlp_tf.tasks import registry


@keras.saving.register_keras_serializable(package="my_tasks")
class SentimentClassifier(tl.TextClassifier):
    pass  # a text classifier under its own task kind


registry.register_task(registry.TaskSpec(
    "sentiment",                           # --task sentiment; type: sentiment
    SentimentClassifier,                   # the model class
    read=registry.read_text_examples,      # (path, columns) -> labelled data
    targets=registry.label_targets,        # (train, validation) -> names, checked
    target_options=lambda names: {"labels": names},  # -> constructor kwargs
    columns=registry.TEXT_COLUMNS,         # data layout options (flags, YAML keys)
    read_inputs=registry.read_input_texts, # `tlnlp predict --input` -> inputs
    predict=registry.predict_labels,       # (model, inputs, batch_size) -> records
    make_preprocessor=registry.new_text_preprocessor,  # shared backbone
    target_spec=registry.label_spec,       # target placeholders (multi-task)
))
```

or, for a task shaped like an existing one, one line:
`register_task(like("text-classification", "sentiment", SentimentClassifier))`.
The command line (`--task` choices, column flags, evaluate and predict), the
multi-task YAML config and `MultiTaskModel` pick it up with no other edit
(tests/test_registry.py shows it).
"""

import dataclasses
import inspect
import json
import sys
from typing import Callable
from typing import Mapping

import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM
from tlnlp_tf.tasks.language_model import LanguageModel
from tlnlp_tf.tasks.role_labeler import RoleLabeler
from tlnlp_tf.tasks.role_labeler_preprocessor import RoleLabelerPreprocessor
from tlnlp_tf.tasks.span_extractor import DEFAULT_MAX_LENGTH
from tlnlp_tf.tasks.span_extractor import SpanExtractor
from tlnlp_tf.tasks.span_extractor_preprocessor import SpanExtractorPreprocessor
from tlnlp_tf.tasks.text_classifier import TextClassifier
from tlnlp_tf.tasks.text_regressor import TextRegressor
from tlnlp_tf.tasks.token_classifier import TokenClassifier
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


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What the library needs to know about one task kind.

    Args:
        kind: the name (`tlnlp fit --task KIND`, `type: KIND`, `{"kind": KIND}`).
        model_class: the task model; takes `backbone=`, `preprocessor=`,
            `freeze=` and `target_options(names)` as keyword arguments, and
            has `from_backbone(spec, **options)` and `score(data, batch_size)`.
        read: `(path, columns) -> data`, `columns` a dict of the `columns`
            options (missing ones `None`); the data has `sample(n, seed)`,
            `to_dataset()` and `__len__`. A reader that also takes
            `limit=` and `seed=` draws the sample itself (`read_sample`).
        targets: `(train, validation or None) -> names`: the label (or tag)
            names from training, checked on validation; what
            `target_options` turns into constructor arguments.
        target_options: `names -> {constructor keyword: value}`.
        columns: `{option: argparse keywords}` of the data layout options
            that apply (each is a `--flag` of fit/evaluate and a key of the
            multi-task config).
        read_inputs: `(path, columns) -> inputs`: what `tlnlp predict`
            reads from its `--input` file (`"-"`: standard input).
        predict: `(model, inputs, batch_size) -> [record]`, the JSON
            records of `tlnlp predict`.
        fit_options: extra `tlnlp fit` options passed to the constructor.
        required: constructor keywords `MultiTaskModel` requires.
        pooled: the head pools the sequence (takes `pooling=`).
        token_level: one target per token or span (batching, probes).
        tokenize_once: `model.tokenize_once` applies to its datasets.
        validate_in_fit: Keras's own `validation_data` metrics make sense
            (otherwise the task is only scored after `fit`).
        target_spec: `(rows, length) -> (dtype, target shape, weight shape)`
            of one batch of targets (for `MultiTaskModel`'s placeholders).
        generative: the model generates text (`generate`; `tlnlp generate`);
            it does not join a `MultiTaskModel`.
        builder: `(backbone spec, names, **options) -> model`, when building
            takes more than `from_backbone(spec, **target_options(names))`.
        forgetting_probes: the `tlnlp fit --forgetting-probe` values that
            apply, the default first (`()`: none does).
        help: one line for `tlnlp fit --help`.
    """

    kind: str
    model_class: type
    read: Callable
    targets: Callable
    target_options: Callable
    columns: Mapping[str, dict]
    read_inputs: Callable
    predict: Callable
    make_preprocessor: Callable
    target_spec: Callable
    fit_options: tuple = ()
    required: tuple = ()
    pooled: bool = False
    token_level: bool = False
    tokenize_once: bool = True
    validate_in_fit: bool = True
    generative: bool = False
    builder: Callable = None
    forgetting_probes: tuple = ("sts", "mlm")
    help: str = ""

    def read_sample(
        self, path, columns, limit=None, seed=0, on_bad_line="error", stream=False
    ):
        """`read(path, columns).sample(limit, seed)`; a reader that takes
        `limit=` (the text readers) samples while it streams the file, one
        that takes `on_bad_line=` can skip bad lines (`"skip"`), and one
        that takes `stream=` keeps a large input on disk (`stream=True`)."""
        parameters = inspect.signature(self.read).parameters
        options = {"stream": True} if stream and "stream" in parameters else {}
        if on_bad_line != "error":
            if "on_bad_line" not in parameters:
                raise PolicyError(
                    f"skipping bad lines (--on-bad-line skip) is not available "
                    f"for --task {self.kind}; it is for the .csv/.tsv/.jsonl "
                    "files of the text tasks."
                )
            options["on_bad_line"] = on_bad_line
        if "limit" in parameters:
            return self.read(path, columns, limit=limit, seed=seed, **options)
        return self.read(path, columns, **options).sample(limit, seed=seed)

    def build(self, backbone, names, **options):
        """A new model of this kind on backbone spec `backbone` (`from_backbone`)."""
        if self.builder is not None:
            return self.builder(backbone, names, **options)
        return self.model_class.from_backbone(
            backbone, **self.target_options(names), **options
        )

    def build_on(self, backbone, text_preprocessor, source, freeze, options):
        """A model of this kind on an already loaded (shared) `backbone`."""
        if self.generative:
            raise PolicyError(
                f"{self.kind} generates text: it does not join a MultiTaskModel "
                "(train it on its own)."
            )
        options = dict(options)
        for key in self.required:
            if key not in options:
                raise PolicyError(f"needs {key!r}.")
        limit = getattr(backbone, "max_sequence_length", 512)
        preprocessor = self.make_preprocessor(text_preprocessor, limit, options)
        if self.pooled:
            from tlnlp_tf.backbones.loading import default_pooling

            options.setdefault("pooling", default_pooling(source))
        return self.model_class(
            backbone=backbone, preprocessor=preprocessor, freeze=freeze, **options
        )

    def score(self, model, data, batch_size):
        """The task's metrics on labelled `data` (what `tlnlp evaluate` prints)."""
        return model.score(data, batch_size=batch_size)


_REGISTRY = {}


def register_task(spec):
    """Add (or replace) a task kind. Returns `spec`."""
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_task takes a TaskSpec, got {type(spec).__name__}.")
    _REGISTRY[spec.kind] = spec
    return spec


def unregister_task(kind):
    """Remove a task kind (for tests and plug-ins)."""
    _REGISTRY.pop(kind, None)


def get_task(kind):
    """The `TaskSpec` of `kind`; a `PolicyError` naming the kinds if unknown."""
    if kind not in _REGISTRY:
        raise PolicyError(
            f"Unknown task kind {kind!r}; expected one of {', '.join(task_kinds())}."
        )
    return _REGISTRY[kind]


def task_kinds():
    """The registered kinds, in registration order."""
    return tuple(_REGISTRY)


def task_classes():
    """The registered model classes."""
    return tuple(dict.fromkeys(spec.model_class for spec in _REGISTRY.values()))


def kind_of(model):
    """The kind of a task model: its exact class, else its nearest registered base."""
    for cls in type(model).__mro__:
        for spec in reversed(list(_REGISTRY.values())):
            if spec.model_class is cls:
                return spec
    raise PolicyError(
        f"{type(model).__name__} is not a registered task model; expected one of "
        f"{', '.join(c.__name__ for c in task_classes())}."
    )


def column_options():
    """`{option: argparse keywords}` over every kind (first definition wins)."""
    options = {}
    for spec in _REGISTRY.values():
        for name, keywords in spec.columns.items():
            options.setdefault(name, keywords)
    return options


def like(kind, new_kind, model_class, **changes):
    """A copy of `kind`'s spec for a new kind and model class (then `register_task`)."""
    return dataclasses.replace(
        get_task(kind), kind=new_kind, model_class=model_class, **changes
    )


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


# === The built-in kinds ===

register_task(
    TaskSpec(
        "text-classification",
        TextClassifier,
        read=read_text_examples,
        targets=label_targets,
        target_options=lambda names: {"labels": names},
        columns=TEXT_COLUMNS,
        read_inputs=read_input_texts,
        predict=predict_labels,
        make_preprocessor=new_text_preprocessor,
        target_spec=label_spec,
        required=("labels",),
        pooled=True,
        help="text-classification (labels)",
    )
)
register_task(
    TaskSpec(
        "regression",
        TextRegressor,
        read=read_text_examples,
        targets=numeric_targets,
        target_options=lambda names: {},
        columns=TEXT_COLUMNS,
        read_inputs=read_input_texts,
        predict=predict_labels,
        make_preprocessor=new_text_preprocessor,
        target_spec=value_spec,
        pooled=True,
        help="regression (numeric targets)",
    )
)
register_task(
    TaskSpec(
        "token-classification",
        TokenClassifier,
        read=read_tagged,
        targets=tag_targets,
        target_options=lambda names: {"tags": names},
        columns=CONLL_COLUMNS,
        read_inputs=read_input_texts,
        predict=predict_entities,
        make_preprocessor=new_token_preprocessor,
        target_spec=tag_spec,
        required=("tags",),
        fit_options=("crf",),
        token_level=True,
        validate_in_fit=False,
        help="token-classification (CoNLL files, one tag per word)",
    )
)
register_task(
    TaskSpec(
        "question-answering",
        SpanExtractor,
        read=read_questions,
        targets=answer_targets,
        target_options=lambda names: dict(names),
        columns=SQUAD_COLUMNS,
        read_inputs=read_input_questions,
        predict=predict_answers,
        make_preprocessor=new_span_preprocessor,
        target_spec=span_spec,
        fit_options=("doc_stride",),
        token_level=True,
        tokenize_once=False,
        validate_in_fit=False,
        help="question-answering (SQuAD JSON, v1.1 or v2)",
    )
)


# === Semantic role labelling: one block per predicate (token, marker, tag) ===

SRL_COLUMNS = {
    "token_column": CONLL_COLUMNS["token_column"],
    "predicate_column": {
        "type": int,
        "help": "semantic-role-labeling: column of the predicate marker, 1 on "
        "the predicate's token and 0 elsewhere (default 1, the second)",
    },
    "tag_column": CONLL_COLUMNS["tag_column"],
}


def read_propositions(path, columns, limit=None, seed=0, stream=False):
    """`Propositions` of a per-predicate SRL file or shards (`read_srl`);
    `StreamedPropositions` for a large or sharded input read whole with
    `stream=True`."""
    from tlnlp_tf.data.srl import read_srl

    token, predicate, tag = (
        columns.get(name) for name in ("token_column", "predicate_column", "tag_column")
    )
    return read_srl(
        path,
        token_column=0 if token is None else token,
        predicate_column=1 if predicate is None else predicate,
        tag_column=-1 if tag is None else tag,
        limit=limit,
        seed=seed,
        stream=stream,
    )


def read_input_propositions(path, columns):
    """Predicate instances to label: a per-predicate file; a tag column is ignored."""
    from tlnlp_tf.data.srl import read_srl

    if path == "-":
        raise DataError(
            "semantic-role-labeling: --input must be a file of predicate blocks "
            "(a token and a 0/1 predicate-marker column); standard input is not "
            "read."
        )
    token, predicate = columns.get("token_column"), columns.get("predicate_column")
    return read_srl(
        path,
        token_column=0 if token is None else token,
        predicate_column=1 if predicate is None else predicate,
        tag_column=None,
    )


def predict_roles(model, data, batch_size):
    """`{"text", "predicate", "arguments"}` per instance (offsets into `text`)."""
    results = model.predict(data.words, list(data.predicates), batch_size=batch_size)
    records = []
    for words, index, arguments in zip(data.words, data.predicates, results):
        start = len(" ".join(words[:index])) + (1 if index else 0)
        predicate = {
            "index": index,
            "text": words[index],
            "start": start,
            "end": start + len(words[index]),
        }
        records.append(
            {"text": " ".join(words), "predicate": predicate, "arguments": arguments}
        )
    return records


def new_role_preprocessor(text_preprocessor, limit, options):
    """A `RoleLabelerPreprocessor` (takes `predicate_encoding` out of `options`)."""
    return RoleLabelerPreprocessor(
        text_preprocessor.tokenizer,
        sequence_length=limit,
        predicate_encoding=options.pop("predicate_encoding", "segment"),
    )


register_task(
    TaskSpec(
        "semantic-role-labeling",
        RoleLabeler,
        read=read_propositions,
        targets=tag_targets,
        target_options=lambda names: {"tags": names},
        columns=SRL_COLUMNS,
        read_inputs=read_input_propositions,
        predict=predict_roles,
        make_preprocessor=new_role_preprocessor,
        target_spec=tag_spec,
        required=("tags",),
        fit_options=("crf",),
        token_level=True,
        validate_in_fit=False,
        help="semantic-role-labeling (one block per predicate: token, 0/1 "
        "predicate marker and BIO role tag columns)",
    )
)


# === Generation: summarization, translation (encoder-decoder), language modeling ===

PAIR_COLUMNS = {
    "source_column": {
        "help": "summarization, translation: the source text column of a "
        ".csv/.tsv/.jsonl file (default: source)"
    },
    "target_column": {
        "help": "summarization, translation: the target text column (default: target)"
    },
}
DOCUMENT_COLUMNS = {
    "text_column": TEXT_COLUMNS["text_column"],
    "prompt_column": {
        "help": "language-modeling: instruction tuning on a .csv/.tsv/.jsonl "
        "file of prompts and responses, the loss on the responses only: the "
        "prompt column (with --response-column)"
    },
    "response_column": {
        "help": "language-modeling: the response column (with --prompt-column)"
    },
}


def read_text_pairs(path, columns):
    """`TextPairs` of a .csv/.tsv/.jsonl file (`read_pairs`)."""
    from tlnlp_tf.data.pairs import read_pairs

    return read_pairs(
        path,
        source=columns.get("source_column") or "source",
        target=columns.get("target_column") or "target",
    )


def read_documents(path, columns, limit=None, seed=0, on_bad_line="error"):
    """`Examples` of a language-modeling file: one document per line of a text
    file, or the `text_column` of .csv/.tsv/.jsonl files (streamed when large);
    `TextPairs` of prompts and responses with `prompt_column` and
    `response_column` (instruction tuning: the loss on the responses)."""
    prompt, response = columns.get("prompt_column"), columns.get("response_column")
    if prompt is not None or response is not None:
        return read_instructions(path, columns).sample(limit, seed=seed)
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv", ".jsonl")):
        return load_text_examples(
            path,
            columns.get("text_column"),
            limit=limit,
            seed=seed,
            on_bad_line=on_bad_line,
        )
    if on_bad_line != "error":
        raise PolicyError(
            f"{path}: --on-bad-line skip is for .csv/.tsv/.jsonl files; a text "
            "file's lines are all documents."
        )
    return read_input_texts(path, columns).sample(limit, seed=seed)


def read_instructions(path, columns):
    """`TextPairs` of a prompt column and a response column (both needed)."""
    from tlnlp_tf.data.pairs import read_pairs

    prompt, response = columns.get("prompt_column"), columns.get("response_column")
    if prompt is None or response is None:
        raise PolicyError(
            "instruction tuning takes both --prompt-column and --response-column "
            f"(got {'--prompt-column' if response is None else '--response-column'} "
            "alone)."
        )
    if columns.get("text_column") is not None:
        raise PolicyError(
            "--text-column trains on whole texts; --prompt-column and "
            "--response-column on responses: give one or the other."
        )
    return read_pairs(path, source=prompt, target=response)


def read_prompts(path, columns):
    """Inputs to continue: the `prompt_column` of a model tuned on
    instructions, else the `text_column` (or one text per line)."""
    prompt = columns.get("prompt_column")
    if prompt is not None and columns.get("text_column") is None:
        columns = {**columns, "text_column": prompt}
    return read_input_texts(path, columns)


def read_input_sources(path, columns):
    """Sources to generate from: a `source_column` (or `text_column`), else lines."""
    column = columns.get("source_column") or columns.get("text_column")
    return read_input_texts(path, {"text_column": column or "source"})


def target_texts(train, validation):
    """The training targets (a tuple: a new target vocabulary learns from them)."""
    return tuple(train.targets)


def generated_records(model, inputs, batch_size):
    """`{"input", "generated"}` per input (greedy; `tlnlp generate` for more)."""
    texts = list(inputs.texts)
    generated = model.generate(texts, batch_size=batch_size)
    return [{"input": t, "generated": g} for t, g in zip(texts, generated)]


def build_encoder_decoder(metric):
    """`TaskSpec.builder` of the encoder-decoder kinds (`EncoderDecoderLM`)."""

    def build(spec, targets, **options):
        from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM

        weights = options.pop("weights", "pretrained")
        variant = options.pop("variant", None) or (
            "rnd2rnd" if weights == "random" else "bert2bert"
        )
        if weights == "random" and variant != "rnd2rnd":
            raise PolicyError(
                f"--weights random is the rnd2rnd variant; got --variant {variant}."
            )
        size = options.pop("target_vocabulary", None)
        vocabulary = None
        if size is not None:
            vocabulary = EncoderDecoderLM.learn_vocabulary(list(targets), size)
        options.pop("attention_dropout", None)  # the backbone's own
        return EncoderDecoderLM.from_backbone(
            spec,
            variant=variant,
            target_vocabulary=vocabulary,
            source_length=options.pop("max_length", None),
            metric=metric,
            **options,
        )

    return build


def build_language_model(spec, targets, **options):
    """`TaskSpec.builder` of language modeling (`LanguageModel`)."""
    from tlnlp_tf.tasks.language_model import LanguageModel

    options.pop("attention_dropout", None)
    return LanguageModel.from_backbone(spec, **options)


def _no_preprocessor(text_preprocessor, limit, options):
    raise PolicyError("generation tasks do not join a MultiTaskModel.")


def _no_target_spec(rows, length):
    raise PolicyError("generation tasks do not join a MultiTaskModel.")


for _kind, _metric, _help in (
    ("summarization", "rouge", "summarization (source, target pairs; ROUGE)"),
    ("translation", "bleu", "translation (source, target pairs; BLEU, chrF)"),
):
    register_task(
        TaskSpec(
            _kind,
            EncoderDecoderLM,
            read=read_text_pairs,
            targets=target_texts,
            target_options=lambda names: {},
            columns=PAIR_COLUMNS,
            read_inputs=read_input_sources,
            predict=generated_records,
            make_preprocessor=_no_preprocessor,
            target_spec=_no_target_spec,
            fit_options=("variant", "target_vocabulary", "target_length"),
            tokenize_once=False,
            token_level=True,
            generative=True,
            builder=build_encoder_decoder(_metric),
            forgetting_probes=(),
            help=_help,
        )
    )
register_task(
    TaskSpec(
        "language-modeling",
        LanguageModel,
        read=read_documents,
        targets=lambda train, validation: (),
        target_options=lambda names: {},
        columns=DOCUMENT_COLUMNS,
        read_inputs=read_prompts,
        predict=generated_records,
        make_preprocessor=_no_preprocessor,
        target_spec=_no_target_spec,
        tokenize_once=False,
        token_level=True,
        generative=True,
        builder=build_language_model,
        forgetting_probes=("lm",),
        help="language-modeling (text, one document per line, or prompt and "
        "response columns; perplexity; --backbone smollm2 or a causal LM preset)",
    )
)

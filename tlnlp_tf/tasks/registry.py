"""The task registry: a task kind names its model class, reader, scorer and options.

`tlnlp fit --task KIND`, `tlnlp evaluate`, `tlnlp predict`, the multi-task
config (`type: KIND`) and `MultiTaskModel.from_backbone({name: {"kind": KIND}})`
all read this one table; nothing else lists the task kinds.

The built-in kinds' hooks (readers, target checks, predictors) live beside
it, a file per family: `registry_encoder_kinds.py`, `registry_srl_kind.py`,
`registry_generation_kinds.py`; this file holds `TaskSpec`, the verbs and
the registrations.

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
from typing import Callable
from typing import Mapping

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM
from tlnlp_tf.tasks.language_model import LanguageModel
from tlnlp_tf.tasks.registry_encoder_kinds import CONLL_COLUMNS
from tlnlp_tf.tasks.registry_encoder_kinds import SQUAD_COLUMNS
from tlnlp_tf.tasks.registry_encoder_kinds import TEXT_COLUMNS
from tlnlp_tf.tasks.registry_encoder_kinds import answer_targets
from tlnlp_tf.tasks.registry_encoder_kinds import label_spec
from tlnlp_tf.tasks.registry_encoder_kinds import label_targets
from tlnlp_tf.tasks.registry_encoder_kinds import new_span_preprocessor
from tlnlp_tf.tasks.registry_encoder_kinds import new_text_preprocessor
from tlnlp_tf.tasks.registry_encoder_kinds import new_token_preprocessor
from tlnlp_tf.tasks.registry_encoder_kinds import numeric_targets
from tlnlp_tf.tasks.registry_encoder_kinds import predict_answers
from tlnlp_tf.tasks.registry_encoder_kinds import predict_entities
from tlnlp_tf.tasks.registry_encoder_kinds import predict_labels
from tlnlp_tf.tasks.registry_encoder_kinds import read_input_questions
from tlnlp_tf.tasks.registry_encoder_kinds import read_input_texts
from tlnlp_tf.tasks.registry_encoder_kinds import read_questions
from tlnlp_tf.tasks.registry_encoder_kinds import read_tagged
from tlnlp_tf.tasks.registry_encoder_kinds import read_text_examples
from tlnlp_tf.tasks.registry_encoder_kinds import span_spec
from tlnlp_tf.tasks.registry_encoder_kinds import tag_spec
from tlnlp_tf.tasks.registry_encoder_kinds import tag_targets
from tlnlp_tf.tasks.registry_encoder_kinds import value_spec
from tlnlp_tf.tasks.registry_generation_kinds import DOCUMENT_COLUMNS
from tlnlp_tf.tasks.registry_generation_kinds import PAIR_COLUMNS
from tlnlp_tf.tasks.registry_generation_kinds import build_encoder_decoder
from tlnlp_tf.tasks.registry_generation_kinds import build_language_model
from tlnlp_tf.tasks.registry_generation_kinds import generated_records
from tlnlp_tf.tasks.registry_generation_kinds import no_preprocessor
from tlnlp_tf.tasks.registry_generation_kinds import no_target_spec
from tlnlp_tf.tasks.registry_generation_kinds import read_documents
from tlnlp_tf.tasks.registry_generation_kinds import read_input_sources
from tlnlp_tf.tasks.registry_generation_kinds import read_prompts
from tlnlp_tf.tasks.registry_generation_kinds import read_text_pairs
from tlnlp_tf.tasks.registry_generation_kinds import target_texts
from tlnlp_tf.tasks.registry_srl_kind import SRL_COLUMNS
from tlnlp_tf.tasks.registry_srl_kind import new_role_preprocessor
from tlnlp_tf.tasks.registry_srl_kind import predict_roles
from tlnlp_tf.tasks.registry_srl_kind import read_input_propositions
from tlnlp_tf.tasks.registry_srl_kind import read_propositions
from tlnlp_tf.tasks.role_labeler import RoleLabeler
from tlnlp_tf.tasks.span_extractor import SpanExtractor
from tlnlp_tf.tasks.text_classifier import TextClassifier
from tlnlp_tf.tasks.text_regressor import TextRegressor
from tlnlp_tf.tasks.token_classifier import TokenClassifier


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
        fit_options=("crf", "decoding"),
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
        fit_options=("crf", "decoding"),
        token_level=True,
        validate_in_fit=False,
        help="semantic-role-labeling (one block per predicate: token, 0/1 "
        "predicate marker and BIO role tag columns)",
    )
)


# === Generation: summarization, translation (encoder-decoder), language modeling ===

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
            make_preprocessor=no_preprocessor,
            target_spec=no_target_spec,
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
        make_preprocessor=no_preprocessor,
        target_spec=no_target_spec,
        tokenize_once=False,
        token_level=True,
        generative=True,
        builder=build_language_model,
        forgetting_probes=("lm",),
        help="language-modeling (text, one document per line, or prompt and "
        "response columns; perplexity; --backbone smollm2 or a causal LM preset)",
    )
)

"""Every ```python example in the docstrings and in docs/ runs, on tiny backbones.

Each block is its own test, in a fresh namespace and a scratch folder with
tiny data files under the names the examples use (tests/examples_harness.py).
Backbone specs (`"minilm"`, keras-hub preset names) resolve to a tiny BERT
preset for these tests only. A block that cannot run here is marked in its
source with the reason (```` ```python no-run: needs a TPU ````); the marked
blocks are counted, and an unmarked block that fails fails its test.
"""

import functools
import inspect
import os
import re
import shutil

import examples_harness as harness
import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from conftest import HEADS
from conftest import HIDDEN
from conftest import INTERMEDIATE
from conftest import VOCAB
from conftest import tiny_causal_lm

import tlnlp_tf
from tlnlp_tf.tasks import registry

DOCSTRING_BLOCKS = harness.docstring_blocks()
PAGE_BLOCKS = harness.page_blocks()
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]

# What `import tlnlp_tf as tl` shows: the verbs and classes a user types, and
# the namespaces. A new public name is a decision: add it here.
PUBLIC_SURFACE = {
    "BackboneError",
    "DataError",
    "EncoderDecoderLM",
    "GradualUnfreezing",
    "L2SP",
    "LanguageModel",
    "MultiTaskModel",
    "PolicyError",
    "RoleLabeler",
    "SpanExtractor",
    "TextClassifier",
    "TextRegressor",
    "TokenClassifier",
    "WordClassifier",
    "WordTagger",
    "backbones",
    "data",
    "decoding",
    "describe_freezing",
    "distribute",
    "export",
    "layers",
    "load_backbone",
    "metrics",
    "pretraining",
    "probes",
    "reports",
    "tasks",
    "training",
    "transfer_report",
}


# --------------------------------------------------------------------------
# Tiny backbones for every spec, for these tests only.


@pytest.fixture(scope="module")
def example_preset(tmp_path_factory):
    """A BERT preset folder as deep as MiniLM (6 layers), 16 wide, 512 positions."""
    folder = str(tmp_path_factory.mktemp("example_preset"))
    keras.utils.set_random_seed(1)
    keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=6,
        num_heads=HEADS,
        hidden_dim=HIDDEN,
        intermediate_dim=INTERMEDIATE,
        max_sequence_length=512,
    ).save_to_preset(folder)
    keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=keras_hub.models.BertTokenizer(vocabulary=VOCAB),
        sequence_length=128,
    ).save_to_preset(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_specs(example_preset):
    """`"minilm"` and keras-hub preset names load `example_preset`."""
    from tlnlp_tf.backbones import loading

    original = loading.resolve_spec
    presets = set(keras_hub.models.Backbone.presets)

    def resolve_spec(spec):
        if isinstance(spec, str) and (spec == loading.MINILM or spec in presets):
            return example_preset
        return original(spec)

    patch = pytest.MonkeyPatch()
    patch.setattr(loading, "_minilm_folder", lambda: example_preset)
    import sys

    for module in list(sys.modules.values()):
        if (module.__name__ or "").startswith("tlnlp_tf") and (
            getattr(module, "resolve_spec", None) is original
        ):
            patch.setattr(module, "resolve_spec", resolve_spec)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def quick():
    """Examples train one step per epoch, eagerly: no graph tracing per model.

    `fit` keeps the epochs an example asks for (callbacks such as gradual
    unfreezing act per epoch) but takes one batch of each; the examples show
    the calls, these tests check that the calls work.
    """
    keras_fit = keras.Model.fit

    def fit(self, *args, **kwargs):
        kwargs.setdefault("steps_per_epoch", 1)
        kwargs.setdefault("verbose", 0)
        return keras_fit(self, *args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(keras.Model, "fit", fit)
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)
    patch.undo()


# --------------------------------------------------------------------------
# The names examples take from their page or class.


class Artifacts:
    """Files that examples read and other examples write, built once."""

    def __init__(self, folder):
        self.folder = folder
        self._pretrained = None

    def pretrained(self):
        """`(masked_lm, report)` of one short masked-LM run, shared (read only)."""
        if self._pretrained is None:
            from tlnlp_tf import pretraining

            texts, _ = harness.toy_texts(16)
            self._pretrained = pretraining.pretrain_masked_lm(
                "minilm", texts, epochs=1, batch_size=8
            )
        return self._pretrained

    def copy(self, name, build, destination):
        source = os.path.join(self.folder, name)
        if not os.path.exists(source):
            build(source)
        target = os.path.join(destination, name)
        if os.path.isdir(source):
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return Artifacts(str(tmp_path_factory.mktemp("example_artifacts")))


def _model_kind(block):
    code, path = block.code, block.path
    if "adapters" in code:
        return "lora"
    if "LanguageModel" in code:
        return "lm"
    by_path = {
        "language_model": "lm",
        "causal_generation": "lm",
        "response_loss": "lm",
        "word_classifier": "words",
        "multi_task": "multi",
        "mixing": "multi",
        "token_classifier": "tagger",
        "conll": "tagger",
        "streamed_sentences": "tagger",
        "streamed_propositions": "roles",
        "span_extractor": "span",
        "squad": "span",
        "text_regressor": "regressor",
        "regression": "regressor",
    }
    for part, kind in by_path.items():
        if part in path:
            return kind
    return "classifier"


def _build_model(kind):
    tl = tlnlp_tf
    texts, _ = harness.toy_texts(16)
    if kind == "classifier":
        return tl.TextClassifier.from_backbone("minilm", labels=["0", "1"])
    if kind == "lora":
        return tl.TextClassifier.from_backbone(
            "minilm", labels=["0", "1"], freeze="lora-8"
        )
    if kind == "words":
        return tl.WordClassifier.from_vectors(
            None, texts=texts, labels=["neg", "pos"], embedding_dim=8
        )
    if kind == "multi":
        return tl.MultiTaskModel.from_backbone(
            "minilm",
            {
                "sst2": {"kind": "text-classification", "labels": ["0", "1"]},
                "stsb": {"kind": "regression"},
            },
        )
    if kind == "tagger":
        return tl.TokenClassifier.from_backbone("minilm", tags=TAGS)
    if kind == "roles":
        return tl.RoleLabeler.from_backbone(
            "minilm", tags=["O", "B-ARG0", "I-ARG0", "B-V", "I-V"]
        )
    if kind == "span":
        return tl.SpanExtractor.from_backbone("minilm")
    if kind == "regressor":
        return tl.TextRegressor.from_backbone("minilm")
    if kind == "lm":
        return tl.LanguageModel(tiny_causal_lm())  # as in its own example
    raise ValueError(kind)


def _masked_lm_folder(artifacts):
    def build(path):
        from tlnlp_tf import pretraining

        masked_lm, report = artifacts.pretrained()
        pretraining.save_pretrained(masked_lm, path, report)

    return build


def _adapters_file(path):
    _build_model("lora").save_adapters(path)


def factories(block, artifacts, scratch):
    """`{name: () -> value}` for the names an example may take from its context."""
    tl = tlnlp_tf
    code = block.code
    texts, labels = harness.toy_texts(16)
    held_out, _ = harness.toy_texts(8, offset=16)
    if re.search(r"\blabels=labels\b", code):
        # `labels` given to a model is its label names (as docs/freezing.md).
        labels = ["0", "1"]

    # Files that other examples write, when this one only reads them.
    for name, build, writer in (
        ("minilm-reviews", _masked_lm_folder(artifacts), "save_pretrained("),
        ("sst2.adapters.npz", _adapters_file, "save_adapters("),
    ):
        if f'"{name}' in code and writer not in code:
            artifacts.copy(name, build, scratch)

    # train.tsv is SST-2 shaped (labels "0", "1"); an example whose model
    # takes labels ["neg", "pos"] trains on reviews labelled so.
    neg_pos = '"neg", "pos"]' in code and '"0", "1"]' not in code
    train_file = "labelled_reviews.tsv" if neg_pos else "train.tsv"

    def train():
        if re.search(
            r"train\.(to_dataset|texts|labels|label_names)|len\(train\)", code
        ):
            return tl.data.load_table(train_file, "sentence", "label")
        return tl.data.read_csv(train_file, text="sentence", label="label")

    def dev():
        if re.search(r"dev\.(inputs|answer_texts)", code):
            return tl.data.read_squad("dev.json")
        return tl.data.load_table("dev.tsv", "sentence", "label")

    def model():
        return _build_model(_model_kind(block))

    def backbone_and_preprocessor():
        return tl.load_backbone("minilm")

    def inputs():
        return namespace_get("preprocessor")(tf.constant(texts[:2]))

    def multi_batches(task, path):
        multi = namespace_get("model")
        if task == "sst2":
            data = tl.data.load_table(path, "sentence", "label")
        else:
            data = tl.data.load_table(path, "sentence1", "score", "sentence2")
        return multi.task_dataset(task, data.to_dataset().batch(4))

    built = {}

    def namespace_get(name):
        if name not in built:
            built[name] = made[name]()
        return built[name]

    made = {
        "tl": lambda: tl,
        "tlnlp_tf": lambda: tl,
        "pretraining": lambda: tl.pretraining,
        "keras": lambda: keras,
        "keras_hub": lambda: keras_hub,
        "np": lambda: np,
        "tf": lambda: tf,
        "texts": lambda: list(texts),
        "labels": lambda: list(labels),
        "train_texts": lambda: list(texts),
        "unlabelled_texts": lambda: list(texts),
        "held_out_texts": lambda: list(held_out),
        "domain_texts": lambda: list(texts),
        "held_out": lambda: list(held_out),
        "reviews": lambda: list(texts),
        "tags": lambda: list(TAGS),
        "train": train,
        "valid": lambda: tl.data.read_csv("dev.tsv", text="sentence", label="label"),
        "dev": dev,
        "sst2": lambda: tl.data.load_table("sst2/train.tsv", "sentence", "label"),
        "stsb": lambda: tl.data.load_table(
            "stsb/train.tsv", "sentence1", "score", "sentence2"
        ),
        "conll": lambda: tl.data.read_conll("train.txt"),
        "conll_test": lambda: tl.data.read_conll("test.txt"),
        "sst2_batches": lambda: multi_batches("sst2", "sst2/train.tsv"),
        "stsb_batches": lambda: multi_batches("stsb", "stsb/train.tsv"),
        "pairs": lambda: list(zip(texts[:8], held_out)),
        "scores": lambda: [float(i % 6) for i in range(8)],
        "features": lambda: np.random.default_rng(0).normal(size=(16, 8)),
        "model": model,
        "backbone": lambda: namespace_get("_loaded")[0],
        "preprocessor": lambda: namespace_get("_loaded")[1],
        "_loaded": backbone_and_preprocessor,
        "tokenizer": lambda: namespace_get("preprocessor").tokenizer,
        "my_preprocessor": lambda: keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer=keras_hub.models.BertTokenizer(vocabulary=VOCAB),
            sequence_length=16,
        ),
        "inputs": inputs,
        # Token features: 2 sequences of 6 positions, the last ones padding.
        "x": lambda: tf.random.stateless_normal([2, 6, HIDDEN], seed=[0, 1]),
        "embedded": lambda: tf.random.stateless_normal([2, 6, 8], seed=[0, 2]),
        "ids": lambda: tf.constant([[2, 5, 9, 3, 0, 0], [2, 7, 3, 0, 0, 0]]),
        "seg": lambda: tf.zeros([2, 6], "int32"),
        "mask": lambda: tf.constant([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]]) > 0,
        "strategy": lambda: tl.distribute.strategy("auto"),
        "masked_lm": lambda: namespace_get("_pretrained")[0],
        "report": lambda: namespace_get("_pretrained")[1],
        "_pretrained": artifacts.pretrained,
        "vectors": lambda: tl.pretraining.word_vectors.load_vectors(
            "glove.6B.100d.txt"
        ),
    }
    return {
        name: functools.partial(namespace_get, name)
        for name in made
        if not name.startswith("_")
    }


# --------------------------------------------------------------------------
# The tests.


def _run(block, artifacts, tmp_path, monkeypatch):
    if block.not_run:
        pytest.skip(f"marked not run in {block.path}: {block.not_run}")
    harness.write_data_files(tmp_path, block.code)
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    # An example may register a task kind; later tests see the built-in table.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    harness.run_block(block, factories(block, artifacts, str(tmp_path)))


# Examples that train, pretrain, score sources or export a SavedModel take
# 5-25 s each on 2 cores (tokenizer tracing per pipeline); all of them
# together take about 12 minutes,
# so they run under the `training_example` marker (`make test-examples`), and
# the default suite runs the others.
TRAINS = re.compile(
    r"\.fit\(|resumable_fit|pretrain|score_sources|train_word2vec|run_demo|"
    r"MultiTaskModel|GradualUnfreezing|\.evaluate\(|\.score\(|extract_features|"
    r"transfer_report|transfer-report|\.export\(|export_saved_model\("
)


def _params(blocks):
    return [
        pytest.param(
            block,
            id=block.id,
            marks=[pytest.mark.training_example] if TRAINS.search(block.code) else [],
        )
        for block in blocks
    ]


@pytest.mark.parametrize("block", _params(DOCSTRING_BLOCKS))
def test_docstring_example_runs(
    block, artifacts, tiny_specs, quick, tmp_path, monkeypatch
):
    _run(block, artifacts, tmp_path, monkeypatch)


@pytest.mark.parametrize("block", _params(PAGE_BLOCKS))
def test_docs_example_runs(block, artifacts, tiny_specs, quick, tmp_path, monkeypatch):
    _run(block, artifacts, tmp_path, monkeypatch)


def test_examples_are_found_and_marked_blocks_give_a_reason():
    assert len(DOCSTRING_BLOCKS) >= 100
    assert len(PAGE_BLOCKS) >= 40
    for block in DOCSTRING_BLOCKS + PAGE_BLOCKS:
        assert block.code.strip(), f"{block.id}: an empty example"
        if block.not_run:
            assert block.not_run != "(no reason given)", (
                f"{block.id}: a block marked no-run must say why"
            )
    marked = [b.id for b in DOCSTRING_BLOCKS + PAGE_BLOCKS if b.not_run]
    # 10: two of them need the 98 MB SmolLM2 GGUF package (the module examples
    # of backbones/causal_lm.py and backbones/gguf.py), one more in docs.
    assert len(marked) <= 10, f"too many examples not run: {marked}"


def test_every_public_class_and_function_has_an_example():
    """`tl.X` and `tl.namespace.X`: each class and function shows a ```python block."""
    missing = [
        name
        for name, value in harness.public_objects(tlnlp_tf).items()
        if "```python" not in (inspect.getdoc(value) or "")
    ]
    assert not missing, f"public objects without a ```python example: {missing}"


def test_public_surface_of_tl_is_exactly_the_documented_names():
    import types

    import tlnlp_tf.cli.main  # noqa: F401 (submodules imported late stay hidden)

    tl = tlnlp_tf
    assert set(tl.__all__) == PUBLIC_SURFACE
    assert len(tl.__all__) == len(PUBLIC_SURFACE)
    shown = {name for name in dir(tl) if not name.startswith("_")}
    assert shown == PUBLIC_SURFACE, (
        f"unexpected: {sorted(shown - PUBLIC_SURFACE)}; "
        f"missing: {sorted(PUBLIC_SURFACE - shown)}"
    )
    star = {}
    exec("from tlnlp_tf import *", star)  # noqa: S102
    assert set(star) - {"__builtins__"} == PUBLIC_SURFACE
    # Nothing else sits on the package but its own submodules: no `tl.os`.
    stray = [
        name
        for name, value in vars(tl).items()
        if not name.startswith("_")
        and name not in PUBLIC_SURFACE
        and not (
            isinstance(value, types.ModuleType) and value.__name__ == f"tlnlp_tf.{name}"
        )
    ]
    assert not stray, f"stray names on tlnlp_tf: {stray}"
    for name in PUBLIC_SURFACE:
        value = getattr(tl, name)
        if isinstance(value, types.ModuleType):
            assert value.__name__ == f"tlnlp_tf.{name}", name

"""export_saved_model: SavedModels that serve raw strings, checked against predict.

Tiny models with perturbed heads (varied outputs) are exported, then loaded
in a fresh Python process that imports only TensorFlow and tensorflow-text;
what `serving_default` returns there must be what `model.predict` returns
here: labels and probabilities, entities and answers with their offsets.
"""

import json
import random
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.data.word_splitter import WordSplitter
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.export import export_saved_model
from tlnlp_tf.export.answer_serving import answer_serving
from tlnlp_tf.export.entity_serving import entity_serving
from tlnlp_tf.export.entity_serving import word_windows
from tlnlp_tf.export.graph_words import GraphWordSplitter
from tlnlp_tf.export.label_serving import label_serving
from tlnlp_tf.tasks.word_spans import sub_word_windows as _windows

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
LABELS = ["neg", "neutral", "pos"]
TEXTS = [
    "the film was very good .",
    "this book was dull but the cast was lovely and the plot was great fun , "
    "the food was bad and the movie was the worst",
    "the café in the U.S. was 3.5 times  better ,\tnot\u3000worse .",
    "naïve plot , the movie was awful",
]
PAIRS = ["it was fun", "the food was bad", "good", "the plot was dull ."]
# Long enough for several windows of 16 tokens (and 24 for the questions).
CONTEXTS = [
    "the film was very good .",
    "this book was dull but the cast was lovely , the café was great fun and "
    "the plot was the worst",
    "Über-good food ; the cast hated the movie but loved the book and the plot .",
]
QUESTIONS = ["what was good ?", "was the book dull ?", "who hated the movie ?"]

# Run in a fresh interpreter: only TensorFlow and tensorflow-text.
SERVER = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    # As tests/conftest.py: grappler's rewrites cost more than they save here.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    requests = json.load(open(sys.argv[1]))

    def foreign_ops(path):
        model = saved_model_pb2.SavedModel()
        with open(path + "/saved_model.pb", "rb") as file:
            model.ParseFromString(file.read())
        graph = model.meta_graphs[0].graph_def
        functions = {f.signature.name for f in graph.library.function}
        ops = {node.op for node in graph.node}
        for function in graph.library.function:
            ops |= {node.op for node in function.node_def}
        return sorted(o for o in ops - functions if op_def_registry.get(o) is None)

    foreign = {name: foreign_ops(r["path"]) for name, r in requests.items()}
    import tensorflow_text  # noqa: F401  (registers its ops)

    def plain(value):  # as `plain` in the test module
        value = value.numpy()
        if value.dtype == object:
            return [[v.decode() for v in row] if value.ndim == 2 else row.decode()
                    for row in value]
        return value.tolist()

    results = {}
    for name, request in requests.items():
        serve = tf.saved_model.load(request["path"]).signatures["serving_default"]
        inputs = {k: tf.constant(v) for k, v in request["inputs"].items()}
        outputs = {k: plain(v) for k, v in serve(**inputs).items()}
        empty = {k: tf.constant([v[0], " \\t"]) for k, v in request["inputs"].items()}
        try:
            serve(**empty)
            refused = None
        except tf.errors.InvalidArgumentError as error:
            refused = error.message
        results[name] = {
            "outputs": outputs,
            "foreign_ops": foreign[name],
            "registered": all(op_def_registry.get(o) for o in foreign[name]),
            "refused": refused,
        }
    results["modules"] = sorted(
        m for m in ("tlnlp_tf", "keras_hub") if m in sys.modules
    )
    json.dump(results, open(sys.argv[2], "w"))
    """
)


def perturb(layer, seed):
    """Random head weights of scale 1: varied labels, tags and spans."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(0, 1.0, weight.shape).astype(weight.dtype))


def tiny_models(preset):
    """A classifier, a tagger (a fitted splitter), a CRF tagger, an extractor."""
    keras.utils.set_random_seed(0)
    classifier = tl.TextClassifier.from_backbone(
        preset, labels=LABELS, freeze="none", max_length=16
    )
    perturb(classifier.head, 1)
    # The pooled vectors share most of their direction: centre each class's
    # logit over the texts, so that the labels differ between them.
    features = classifier.preprocess_batch(tf.constant(TEXTS + PAIRS))
    bias = classifier.head.weights[-1]
    bias.assign(bias - np.mean(classifier(features), axis=0))
    tagger = tl.TokenClassifier.from_backbone(preset, tags=TAGS, max_length=16)
    tagger.fit_word_splitter(
        ["he went to the U.S. today .", "it is 3.5 and 4.25 .", "a well-known plot"]
    )
    perturb(tagger.head, 1)
    crf_tagger = tl.TokenClassifier.from_backbone(
        preset, tags=TAGS, max_length=16, crf=True
    )
    perturb(crf_tagger.head, 2)
    extractor = tl.SpanExtractor.from_backbone(preset, doc_stride=4, max_length=24)
    perturb(extractor.head, 22)  # with allow_no_answer: 2 of 3 unanswered
    return classifier, tagger, crf_tagger, extractor


def plain(value):
    """A serving output as JSON-able Python, as the server script writes it."""
    value = value.numpy()
    if value.dtype == object:
        return [
            [v.decode() for v in row] if value.ndim == 2 else row.decode()
            for row in value
        ]
    return value.tolist()


def serve_here(serving, inputs):
    """Outputs of a serving function run here, eagerly: the ops it exports."""
    serve, signature, _ = serving
    outputs = serve(*[tf.constant(inputs[spec.name]) for spec in signature])
    return {name: plain(value) for name, value in outputs.items()}


@pytest.fixture(scope="module")
def served(tiny_preset, tmp_path_factory):
    """Per case: its inputs, what `predict` says and what serving returned.

    "classifier", "tagger" and "extractor" are exported and served by a fresh
    process (TensorFlow and tensorflow-text only); the variants "pairs",
    "crf_tagger", "argmax_tagger" (the tagger with `decoding="argmax"`; its
    default takes the allowed path) and "no_answer" run the same serving
    functions here, eagerly, while that process works.
    """
    folder = tmp_path_factory.mktemp("serving")
    classifier, tagger, crf_tagger, extractor = tiny_models(tiny_preset)
    text = {"text": TEXTS}
    qa = {"question": QUESTIONS, "context": CONTEXTS}
    qa_items = [{"question": q, "context": c} for q, c in zip(QUESTIONS, CONTEXTS)]
    with pytest.warns(UserWarning, match="truncated"):
        predicted = classifier.predict(TEXTS)
    cases = {
        "classifier": {"inputs": text, "predicted": predicted},
        "tagger": {"inputs": text, "predicted": tagger.predict(TEXTS)},
        "extractor": {"inputs": qa, "predicted": extractor.predict(qa_items)},
    }
    classifier.export(str(folder / "classifier"))  # TextTask.export
    export_saved_model(tagger, str(folder / "tagger"))
    export_saved_model(extractor, str(folder / "extractor"))
    requests = {
        name: {"path": str(folder / name), "inputs": case["inputs"]}
        for name, case in cases.items()
    }
    (folder / "requests.json").write_text(json.dumps(requests))
    answers = folder / "answers.json"
    command = [sys.executable, "-c", SERVER, str(folder / "requests.json"), answers]
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=log)

    with pytest.warns(UserWarning, match="truncated"):
        predicted = classifier.predict((TEXTS, PAIRS))
    pairs = {**text, "text_pair": PAIRS}
    extractor.allow_no_answer = True  # read when the serving function is made
    tagger.decoding = "argmax"  # read when the serving function is made
    argmax_tagger = {
        "predicted": tagger.predict(TEXTS),
        "outputs": serve_here(entity_serving(tagger), text),
    }
    tagger.decoding = "auto"
    cases.update(
        argmax_tagger=argmax_tagger,
        pairs={
            "predicted": predicted,
            "outputs": serve_here(label_serving(classifier, text_pairs=True), pairs),
        },
        crf_tagger={
            "predicted": crf_tagger.predict(TEXTS),
            "outputs": serve_here(entity_serving(crf_tagger), text),
        },
        no_answer={
            "predicted": extractor.predict(qa_items),
            "outputs": serve_here(answer_serving(extractor), qa),
        },
    )
    extractor.allow_no_answer = False

    assert server.wait(timeout=600) == 0, (folder / "server.log").read_text()[-3000:]
    results = json.loads(answers.read_text())
    for name in requests:
        cases[name].update(results[name])
    cases["modules"] = results["modules"]
    cases["models"] = {"tagger": tagger, "extractor": extractor}
    return cases


def test_server_needs_only_tensorflow_and_tensorflow_text(served):
    assert served["modules"] == []  # neither tlnlp_tf nor keras_hub was imported
    for name in ("classifier", "tagger", "extractor"):
        ops = served[name]["foreign_ops"]
        assert served[name]["registered"], ops  # all of them from tensorflow-text
        assert {"RegexSplitWithOffsets", "FastWordpieceTokenizeWithOffsets"} & set(ops)


def test_classifier_serves_labels_and_probabilities(served):
    for name in ("classifier", "pairs"):
        predicted, outputs = served[name]["predicted"], served[name]["outputs"]
        assert outputs["label"] == predicted["label"]
        np.testing.assert_allclose(
            outputs["probabilities"], predicted["probabilities"], atol=1e-5
        )
        np.testing.assert_allclose(outputs["score"], predicted["score"], atol=1e-5)
        assert outputs["labels"] == [LABELS] * len(TEXTS)
        assert sum(outputs["truncated"]) == predicted["truncated"] > 0
    assert served["classifier"]["outputs"]["truncated"] == [False, True, True, False]
    assert len(set(served["classifier"]["outputs"]["label"])) > 1  # not trivial


def after_non_ascii(text, start):
    """Whether `text[:start]` holds a multi-byte character (bytes != characters)."""
    return len(text[:start].encode("utf-8")) != start


def entities_of(outputs):
    """The padded entity outputs as `predict`'s lists of dicts."""
    found = []
    for row, count in enumerate(outputs["entity_count"]):
        found.append(
            [
                {
                    "text": outputs["entity_text"][row][k],
                    "type": outputs["entity_label"][row][k],
                    "start": outputs["entity_start"][row][k],
                    "end": outputs["entity_end"][row][k],
                    "score": outputs["entity_score"][row][k],
                }
                for k in range(count)
            ]
        )
    return found


@pytest.mark.parametrize("name", ["tagger", "crf_tagger", "argmax_tagger"])
def test_tagger_serves_entities_with_offsets(served, name):
    predicted = served[name]["predicted"]
    entities = entities_of(served[name]["outputs"])
    assert [len(row) for row in entities] == [len(row) for row in predicted]
    for text, row, expected in zip(TEXTS, entities, predicted):
        for entity, wanted in zip(row, expected):
            assert entity["text"] == text[entity["start"] : entity["end"]]
            score = entity.pop("score")
            assert score == pytest.approx(wanted.pop("score"), abs=1e-5)
            assert entity == wanted
    flat = [entity for row in entities for entity in row]
    assert len(flat) >= 8 and any(" " in entity["text"] for entity in flat)
    # Non-ASCII text before an entity: character offsets, not bytes.
    assert any(
        after_non_ascii(text, e["start"])
        for text, row in zip(TEXTS, entities)
        for e in row
    )


def test_the_allowed_path_is_served_as_predict_decodes_it(served):
    # The same perturbed tagger: its default decoding (the allowed path, which
    # the fresh process served) finds other entities than the argmax, so the
    # cases above check the graph's allowed path and its argmax apart.
    assert served["models"]["tagger"].decodes_allowed_paths
    assert served["argmax_tagger"]["predicted"] != served["tagger"]["predicted"]


def test_long_texts_were_windowed(served):
    tagger = served["models"]["tagger"]
    counts = tagger._piece_counts([[w for w, _, _ in tagger.word_splitter(TEXTS[1])]])
    assert len(_windows(counts[0], tagger.sequence_length() - 2)) >= 3
    extractor = served["models"]["extractor"]
    x = {"question": tf.constant(QUESTIONS), "context": tf.constant(CONTEXTS)}
    windows = extractor.preprocessor.windows(x)[2]["example"].numpy()
    assert all(count >= 2 for count in np.bincount(windows)[1:])


@pytest.mark.parametrize("name", ["extractor", "no_answer"])
def test_extractor_serves_answers_with_offsets(served, name):
    outputs = served[name]["outputs"]
    for row, (context, expected) in enumerate(zip(CONTEXTS, served[name]["predicted"])):
        start, end = outputs["start"][row], outputs["end"][row]
        assert outputs["answer"][row] == expected["answer"]
        assert (start, end) == (
            (-1, -1)
            if expected["start"] is None
            else (expected["start"], expected["end"])
        )
        if start >= 0:
            assert context[start:end] == expected["answer"]
        assert outputs["score"][row] == pytest.approx(expected["score"], abs=1e-5)
    if name == "no_answer":
        assert 0 < outputs["answer"].count("") < len(CONTEXTS)
    else:
        assert all(start >= 0 for start in outputs["start"])
        starts = zip(CONTEXTS, outputs["start"])
        assert any(after_non_ascii(context, start) for context, start in starts)


def test_empty_inputs_are_refused(served):
    for name in ("classifier", "tagger", "extractor"):
        assert "empty (or only whitespace)" in served[name]["refused"]


def random_texts(count, seed=0):
    pieces = list("abcXY 12.,-'_") + [
        "U.S.", "Mr.", "café", "中文", "  ", "\u3000", "e.g.", "’", "\t", "3.5",
        "Bitar's", "O'Neill", "x\u0301", "well-known",
    ]  # fmt: skip
    rng = random.Random(seed)
    return [
        "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        for _ in range(count)
    ]


def test_graph_word_splitter_splits_as_python():
    texts = ["Mr. Smith's U.S. trip: 2.75%.", "at 6.", "Corp.", "U.S.,", "Bitar's car"]
    texts += random_texts(500)
    fitted = WordSplitter().fit(
        [["U.S.", "cross-border", "3.5", "'s", "O'Neill", "Mr.", "."],
         ["long-term", "4.25", "e.g.", "a.m.", "1,000", "well-known"]]
    )  # fmt: skip
    for splitter in (WordSplitter(), fitted):  # eager: the same ops, no tracing
        words, starts, ends = GraphWordSplitter(splitter)(tf.constant(texts))
        rows = zip(words.to_list(), starts.to_list(), ends.to_list())
        found = [[(w.decode(), s, e) for w, s, e in zip(*row)] for row in rows]
        assert found == [splitter.split(text) for text in texts]


def test_word_windows_are_predicts_windows():
    rng = np.random.default_rng(0)
    counts = [list(rng.integers(1, 5, rng.integers(0, 12))) for _ in range(40)]
    counts.append([9, 1, 1])  # a word longer than the budget stands alone
    sentence, first, stop = word_windows(tf.ragged.constant(counts, tf.int32), 6)
    found = [[] for _ in counts]
    for s, a, b in zip(sentence.numpy(), first.numpy(), stop.numpy()):
        found[s].append((int(a), int(b)))
    assert found == [_windows(np.array(c, int), 6) for c in counts]


def test_refusals_say_what_to_do(served, tiny_preset, tmp_path):
    tagger = served["models"]["tagger"]
    with pytest.raises(PolicyError, match="only a TextClassifier"):
        export_saved_model(tagger, str(tmp_path / "x"), text_pairs=True)
    preprocessor, tagger.preprocessor = tagger.preprocessor, None
    try:
        with pytest.raises(PolicyError, match="has no preprocessor"):
            export_saved_model(tagger, str(tmp_path / "x"))
    finally:
        tagger.preprocessor = preprocessor
    regressor = tl.TextRegressor.from_backbone(tiny_preset)
    with pytest.raises(PolicyError, match="TextRegressor has none yet"):
        regressor.export(str(tmp_path / "x"))
    with pytest.raises(ValueError, match="Unrecognized format"):
        regressor.export(str(tmp_path / "x"), format="no-such-format")

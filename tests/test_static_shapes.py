"""Static shapes for TPUs: one batch shape, XLA-compiled train step (checked on CPU)."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl


def test_static_shapes_with_jit_compile(tiny_preset, toy_sentiment, tmp_path):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], static_shapes=True, max_length=16
    )
    model.compile(learning_rate=1e-2, jit_compile=True, steps_per_execution=2)
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(8, drop_remainder=True)
    shapes = {
        tuple(x["token_ids"].shape) for x, _ in data.map(model.preprocess_samples)
    }
    assert shapes == {(8, 16)}  # one shape: XLA compiles the step once
    history = model.fit(data, epochs=3, verbose=0)
    assert model.jit_compile
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "static.keras")
    model.save(path)
    assert keras.saving.load_model(path).static_shapes


def test_dynamic_padding_is_the_default(tiny_preset, toy_sentiment):
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], max_length=64
    )
    texts, labels = toy_sentiment
    x, _ = model.preprocess_samples(np.array(texts[:8]), np.array(labels[:8]))
    assert x["token_ids"].shape[1] < 64 and x["token_ids"].shape[1] % 8 == 0


# Opt-in (`make test-extended`): XLA compiles the span model here; the default
# run covers static shapes under XLA (test_static_shapes_with_jit_compile) and
# cached question windows (tests/test_tokenize_once.py).
@pytest.mark.extended
def test_question_windows_get_one_static_shape(tiny_preset):
    # A batch of B questions becomes W >= B windows; cached windows batched with
    # drop_remainder give every batch one shape, so XLA compiles the step once.
    from test_span_extractor import toy_questions

    keras.utils.set_random_seed(0)
    model = tl.SpanExtractor.from_backbone(
        tiny_preset, doc_stride=4, max_length=16, static_shapes=True
    )
    model.compile(learning_rate=1e-2, jit_compile=True)
    questions = toy_questions(24, seed=0)
    windows = model.tokenize_once(questions.to_dataset())
    assert int(windows.cardinality()) > len(questions)  # long contexts: several windows
    data = windows.shuffle(100, seed=0).batch(8, drop_remainder=True)
    shapes = {
        tuple(x["token_ids"].shape) for x, _ in data.map(model.preprocess_samples)
    }
    assert shapes == {(8, 16)}
    history = model.fit(data, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    answers = model.predict(questions.inputs()[:4])
    for answer, item in zip(answers, questions.inputs()[:4]):
        assert item["context"][answer["start"] : answer["end"]] == answer["answer"]

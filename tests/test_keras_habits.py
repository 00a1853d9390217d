"""A Keras user's habits work (issue 14, item 10): each repro as the user wrote it."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
import tlnlp_tf.tasks.task as task_module

LABELS = ["neg", "pos"]


@pytest.fixture
def data(toy_sentiment):
    texts, labels = toy_sentiment
    return texts[:32], labels[:32]


def classifier(preset, **kwargs):
    keras.utils.set_random_seed(0)
    return tl.TextClassifier.from_backbone(preset, labels=LABELS, **kwargs)


def test_compile_with_keras_strings_and_a_frozen_backbone(tiny_preset, data):
    texts, labels = data
    m = classifier(tiny_preset, freeze="all")
    m.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = m.fit(tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history


def test_compile_with_keras_strings_reads_the_head_as_logits(tiny_preset, data):
    texts, labels = data
    m = classifier(tiny_preset, freeze="bottom-1")
    m.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    batches = tl.data.from_lists(texts, labels).batch(16)
    loss = m.evaluate(batches, return_dict=True, verbose=0)["loss"]
    logits = m.predict_outputs(texts)
    truth = np.array([LABELS.index(label) for label in labels])
    expected = -np.mean(
        np.take_along_axis(
            np.asarray(tf.nn.log_softmax(logits)), truth[:, None], axis=1
        )
    )
    assert loss == pytest.approx(expected, rel=1e-4)
    assert np.isfinite(m.fit(batches, epochs=1, verbose=0).history["loss"][0])
    with pytest.raises(tl.PolicyError, match="from_logits"):
        m.compile(loss=keras.losses.SparseCategoricalCrossentropy())


def test_forgetting_batch_says_batch_the_dataset_first(tiny_preset, data):
    texts, labels = data
    m = classifier(tiny_preset)
    with pytest.raises(tl.DataError, match="batch the dataset first"):
        m.fit(tl.data.from_lists(texts, labels), epochs=1)
    with pytest.raises(tl.DataError, match="batch the dataset first"):
        m.evaluate(tl.data.from_lists(texts, labels))


def test_fit_on_lists_shuffles_without_a_warning(tiny_preset, data, monkeypatch):
    texts, labels = data
    m = classifier(tiny_preset)
    history = m.fit(list(zip(texts, labels)), epochs=1, verbose=0)  # (text, label)s
    assert len(history.history["loss"]) == 1
    assert m.optimizer.iterations.numpy() == 1  # 32 examples, Keras's batch of 32
    built = []
    original = task_module.lists_dataset
    monkeypatch.setattr(
        task_module,
        "lists_dataset",
        lambda *args: built.append(original(*args)) or built[-1],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(texts, labels, batch_size=8, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
    assert m.optimizer.iterations.numpy() == 1 + 4
    epochs = [[t for x, _ in built[0] for t in x.numpy().tolist()] for _ in range(2)]
    assert sorted(epochs[0]) == sorted(t.encode() for t in texts)
    assert epochs[0] != epochs[1]  # reshuffled every epoch, as Keras does arrays
    m.fit(texts, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert [t for x, _ in built[1] for t in x.numpy().tolist()] == [
        t.encode() for t in texts
    ]


def test_wrong_labels_are_data_errors_before_training(tiny_preset, data):
    texts, labels = data
    m = classifier(tiny_preset)
    floats = [float(LABELS.index(label)) for label in labels]
    with pytest.raises(tl.DataError, match="floats"):
        m.fit(texts, floats, epochs=1, verbose=0)
    float_data = tf.data.Dataset.from_tensor_slices(
        (texts, np.array(floats, "float32"))
    ).batch(8)
    with pytest.raises(tl.DataError, match="float32"):
        m.fit(float_data, epochs=1, verbose=0)
    train = tl.data.from_lists(texts, labels).batch(8)
    valid = tl.data.from_lists(["the film was good", "it was fine"], ["pos", "meh"])
    with pytest.raises(tl.DataError, match="label 'meh'"):
        m.fit(train, validation_data=valid.batch(2), epochs=1, verbose=0)
    assert int(m.optimizer.iterations.numpy()) == 0  # before any training step
    with pytest.raises(tl.DataError, match="Unknown label.*meh"):
        m.fit(valid.batch(2), epochs=1, verbose=0)  # in the graph: still one line


def test_predict_tags_on_raw_strings_splits_words(tiny_preset):
    keras.utils.set_random_seed(0)
    tagger = tl.TokenClassifier.from_backbone(tiny_preset, tags=["O", "B-PER", "I-PER"])
    tags, scores = tagger.predict_tags(["Angela Merkel visited Paris"])
    assert len(tags[0]) == len(scores[0]) == 4  # words, not 27 characters


@pytest.mark.parametrize("empty", ["", "   \n"])
def test_empty_text_in_predict_is_a_data_error(tiny_preset, empty):
    m = classifier(tiny_preset)
    with pytest.raises(tl.DataError, match="Input 1 is empty"):
        m.predict(["a good film", empty])
    with pytest.raises(tl.DataError, match="Input 0 is empty"):
        m.predict(([empty], ["a good film"]))


# Opt-in (`make test-extended`): the default run checks the same on a trained
# span extractor (test_span_extractor.py::test_learns_toy_answers_and_round_trips).
@pytest.mark.extended
def test_span_extractor_evaluate_reports_exact_match_and_f1(tiny_preset):
    keras.utils.set_random_seed(0)
    model = tl.SpanExtractor.from_backbone(tiny_preset)
    questions = tl.data.QuestionAnswers(
        ["q1", "q2"],
        ["t", "t"],
        ["what was it ?", "what was it ?"],
        ["the film was good .", "the food was bad ."],
        [[{"text": "good", "start": 13}], [{"text": "bad", "start": 13}]],
    )
    logs = model.evaluate(questions, return_dict=True, verbose=0)
    assert "accuracy" not in logs
    assert {"loss", "exact_match", "f1"} <= set(logs)
    assert {k: logs[k] for k in ("exact_match", "f1")} == model.score(questions)


def test_a_global_batch_that_does_not_split_is_refused(tiny_preset, data):
    # docs/distribute.md: fit refuses a dataset batched with drop_remainder=True
    # whose batch does not split evenly across the model's replicas.
    class TwoReplicas:
        num_replicas_in_sync = 2

    texts, labels = data
    m = classifier(tiny_preset)
    m._distribute_strategy = TwoReplicas()
    batches = tl.data.from_lists(texts, labels).batch(15, drop_remainder=True)
    with pytest.raises(tl.PolicyError, match="15 does not split evenly across 2"):
        m.fit(batches, epochs=1, verbose=0)


def test_layer_decay_is_on_by_default_for_token_classification_only(tiny_preset):
    # docs/freezing.md: "On by default for `TokenClassifier`" (0.9); off elsewhere.
    assert classifier(tiny_preset).default_layer_decay() is None
    assert tl.TextRegressor.from_backbone(tiny_preset).default_layer_decay() is None
    tagger = tl.TokenClassifier.from_backbone(tiny_preset, tags=["O", "B-PER", "I-PER"])
    assert tagger.default_layer_decay() == 0.9
    assert min(tagger.optimizer.multipliers.values()) < 1.0

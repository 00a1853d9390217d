import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.training import WarmupLinearDecay

LABELS = ["neg", "pos"]


@pytest.fixture
def model(tiny_preset):
    keras.utils.set_random_seed(0)
    return tl.TextClassifier.from_backbone(tiny_preset, labels=LABELS)


def test_fit_on_raw_strings_learns(model, toy_sentiment):
    texts, labels = toy_sentiment
    model.compile(learning_rate=1e-2)
    # 15 passes as 3 epochs of 5 (an epoch's callbacks and logs run 3 times).
    data = tl.data.from_lists(texts, labels).shuffle(64, seed=0).repeat(5).batch(16)
    history = model.fit(data, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.2
    assert history.history["accuracy"][-1] > 0.9
    predictions = model.predict(
        ["the film was very wonderful .", "the plot was very dull ."]
    )
    assert predictions["label"] == ["pos", "neg"]
    assert predictions["probabilities"].shape == (2, 2)
    np.testing.assert_allclose(predictions["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        predictions["score"], predictions["probabilities"].max(axis=1)
    )


def test_integer_labels_and_num_classes(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    model = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2)
    assert model.labels == ["0", "1"]
    ids = np.array([LABELS.index(l) for l in labels])
    data = tf.data.Dataset.from_tensor_slices((texts, ids)).batch(16)
    logs = model.evaluate(data, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "accuracy", "f1"}


def test_unknown_label_in_pipeline_is_named(model):
    data = tl.data.from_lists(["good film", "bad film"], ["pos", "meh"]).batch(2)
    with pytest.raises(tl.DataError, match="Unknown label.*meh"):
        model.fit(data, epochs=1, verbose=0)


def test_save_and_reload_same_predictions(model, toy_sentiment, tmp_path):
    texts, labels = toy_sentiment
    model.set_freeze("bottom-1")
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, tl.TextClassifier)
    assert restored.labels == LABELS
    assert restored.freeze == "bottom-1"
    assert restored.max_length == model.max_length
    assert tl.backbones.parameter_counts(restored) == tl.backbones.parameter_counts(
        model
    )
    a, b = model.predict(texts[:8]), restored.predict(texts[:8])
    assert a["label"] == b["label"]
    np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-6)
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations)
    # A reloaded model compiled again trains (its F1 metric is built up front).
    restored.compile(learning_rate=1e-3)
    history = restored.fit(
        tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0
    )
    assert 0.0 <= history.history["f1"][0] <= 1.0


def test_text_pairs(tiny_preset):
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["different", "same"])
    firsts = [
        "the film was good",
        "the food was bad",
        "the cast was fun",
        "the plot was dull",
    ]
    seconds = [
        "the movie was great",
        "the food was great",
        "the cast was bad",
        "the plot was boring",
    ]
    data = tl.data.from_lists(
        firsts, ["same", "different", "different", "same"], text_pairs=seconds
    )
    model.fit(data.batch(2), epochs=1, verbose=0)
    tokens = model.preprocessor(x=(tf.constant(firsts[:1]), tf.constant(seconds[:1])))
    assert 1 in tokens["segment_ids"].numpy()  # the second text is segment 1
    predicted = model.predict((firsts, seconds))
    assert len(predicted["label"]) == 4
    unlabelled = tl.data.from_lists(firsts, text_pairs=seconds).batch(2)
    np.testing.assert_allclose(
        model.predict(unlabelled)["probabilities"],
        predicted["probabilities"],
        atol=1e-6,
    )
    swapped = model.predict((seconds, firsts))["probabilities"]
    assert not np.allclose(swapped, predicted["probabilities"])  # both texts are read


def test_max_length_covers_the_data_and_batches_pad_dynamically(model):
    texts = ["good"] * 99 + ["the film was very good and the cast was fun"]
    model.fit(tl.data.from_lists(texts, ["pos"] * 100).batch(50), epochs=1, verbose=0)
    assert (
        model.max_length == 16
    )  # the longest text: 10 tokens + [CLS] [SEP], rounded to 8
    x, _ = model.preprocess_samples(
        tf.constant(["good", "bad"]), tf.constant(["pos", "neg"])
    )
    assert x["token_ids"].shape == (2, 8)  # this batch pays for 3 tokens, not 16
    x, _ = model.preprocess_samples(
        tf.constant(texts[-2:]), tf.constant(["pos", "pos"])
    )
    assert x["token_ids"].shape == (2, 16)


def test_texts_beyond_the_backbone_limit_warn(model):
    texts = ["good"] * 99 + ["good " * 80]
    with pytest.warns(
        UserWarning, match="1 of 100 sampled texts are longer than max_length=64"
    ):
        model.fit(
            tl.data.from_lists(texts, ["pos"] * 100).batch(50), epochs=1, verbose=0
        )
    assert model.max_length == 64  # the tiny backbone's max_sequence_length


def test_max_length_given_is_kept(tiny_preset):
    model = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, max_length=24)
    model.fit(tl.data.from_lists(["good", "bad"], ["1", "0"]).batch(2), verbose=0)
    assert model.max_length == 24
    assert model.preprocessor.sequence_length == 24


def test_auto_schedule_decays_over_the_first_fit(model, toy_sentiment):
    texts, labels = toy_sentiment
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=3, verbose=0)
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, WarmupLinearDecay)
    assert schedule.total_steps == 4 * 3
    assert float(schedule(0)) < float(schedule(2)) <= 1e-4
    assert float(model.optimizer.learning_rate) == 0.0


def test_weight_decay_skips_biases_and_layer_norm(model):
    optimizer = model.optimizer
    by_name = {w.path: w for w in model.trainable_weights}
    assert optimizer._use_weight_decay(by_name["classification_head/logits/kernel"])
    assert not optimizer._use_weight_decay(by_name["classification_head/logits/bias"])
    gamma = next(w for p, w in by_name.items() if p.endswith("layer_norm/gamma"))
    assert not optimizer._use_weight_decay(gamma)


def test_default_learning_rates(model):
    assert model.default_learning_rate() == 1e-4
    assert model.default_layer_decay() is None
    model.compile(layer_decay=0.9)
    assert max(model.optimizer.multipliers.values()) < 1.0  # layer decay is on
    model.compile()  # back to the defaults
    model.set_freeze("all")
    assert model.default_learning_rate() == 1e-3
    assert model.default_layer_decay() is None
    assert not model.optimizer.multipliers
    assert float(model.optimizer._learning_rate.peak) == 1e-3


def test_constructor_checks(tiny_preset):
    with pytest.raises(ValueError, match="exactly one of num_classes or labels"):
        tl.TextClassifier.from_backbone(tiny_preset)
    with pytest.raises(ValueError, match="distinct"):
        tl.TextClassifier.from_backbone(tiny_preset, labels=["a", "a"])
    with pytest.raises(tl.PolicyError, match="bottom-99"):
        tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, freeze="bottom-99")


def test_predict_rejects_non_strings(model):
    with pytest.raises(tl.DataError, match="Input 1 is int"):
        model.predict(["good", 3])


def test_predict_batches_by_length_and_keeps_input_order(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    texts = [t + " very" * (i % 9) for i, t in enumerate(texts)]
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    batched = model.predict(texts, batch_size=8)["probabilities"]
    rows = [0, 3, 5, 8]  # 0, 3, 5 and 8 extra words: padded differently in batches
    one_by_one = np.concatenate(
        [model.predict([texts[i]])["probabilities"] for i in rows]
    )
    np.testing.assert_allclose(batched[rows], one_by_one, atol=1e-5)


def test_predict_before_fit_does_not_fix_max_length(model):
    # Before: predict(["good"]) fixed max_length at 8, and fit then cut these
    # 16-token texts to 8 without a word.
    model.predict(["good"])
    assert model.max_length is None
    texts = ["the film was very good and the cast was fun ."] * 4 + ["bad"] * 4
    labels = ["pos"] * 4 + ["neg"] * 4
    model.fit(tl.data.from_lists(texts, labels).batch(4), epochs=1, verbose=0)
    assert model.max_length == 16 == model.preprocessor.sequence_length
    model.evaluate(tl.data.from_lists(["good"], ["pos"]).batch(1), verbose=0)
    with pytest.warns(UserWarning, match="longer than max_length=16"):
        model.predict(["the film was very good and the cast was fun . " * 3])
    assert model.max_length == 16  # neither evaluate nor predict changes it
    assert model.get_config()["max_length"] == 16


def test_truncation_at_predict_is_reported(model):
    model.fit(["good", "bad"], ["pos", "neg"], verbose=0)
    assert model.max_length == 8
    long = "the film was very good and the cast was fun ."  # 11 tokens + 2
    with pytest.warns(UserWarning, match="1 of 3 inputs are longer than max_length=8"):
        predictions = model.predict(["good", long, "bad"])
    assert predictions["truncated"] == 1
    data = tf.data.Dataset.from_tensor_slices([long, long]).batch(2)
    with pytest.warns(UserWarning, match="2 of 2 inputs"):
        assert model.predict(data)["truncated"] == 2
    assert model.predict(["good"])["truncated"] == 0


def test_evaluate_takes_examples_as_score(model, toy_sentiment):
    texts, labels = toy_sentiment
    examples = tl.data.Examples(texts, labels=labels)
    logs = model.evaluate(examples, return_dict=True, verbose=0)
    assert model.score(examples) == {
        k: round(logs[k], 6) for k in ("accuracy", "f1", "loss")
    }
    predicted = model.predict(texts)["label"]
    expected = np.mean([p == l for p, l in zip(predicted, labels)])
    assert logs["accuracy"] == pytest.approx(expected)
    with pytest.raises(tl.DataError, match="label 'meh'"):
        model.evaluate(tl.data.Examples(["good"], labels=["meh"]), verbose=0)

"""MultiTaskModel: one backbone, several heads, one fit; mix_tasks; .keras files."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import toy_examples

import tlnlp_tf as tl

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _tagged(count, seed=0):
    rng = np.random.default_rng(seed)
    people, places = ["ann", "bob", "cy"], ["paris", "rome", "york"]
    texts, tags = [], []
    for _ in range(count):
        texts.append(f"{people[rng.integers(3)]} was in {places[rng.integers(3)]} .")
        tags.append("B-PER O O B-LOC O")
    return texts, tags


def _pairs(count, seed=0):
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "book", "great", "dull"]
    first = [" ".join(rng.choice(words, 3)) for _ in range(count)]
    second = [
        a if i % 2 else " ".join(rng.choice(words, 3)) for i, a in enumerate(first)
    ]
    return first, second, [5.0 if i % 2 else 1.0 for i in range(count)]


@pytest.fixture
def model(tiny_preset):
    keras.utils.set_random_seed(0)
    return tl.MultiTaskModel.from_backbone(
        tiny_preset,
        {
            "sentiment": {"kind": "text-classification", "labels": ["neg", "pos"]},
            "similarity": {"kind": "regression"},
            "ner": {"kind": "token-classification", "tags": TAGS},
        },
        loss_weights={"similarity": 0.5},
    )


def _mixed(model, sampling="proportional"):
    texts, labels = toy_examples(32, 0)
    first, second, scores = _pairs(16)
    sentences, tags = _tagged(16)
    return tl.data.mix_tasks(
        {
            "sentiment": model.task_dataset(
                "sentiment",
                tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8),
            ),
            "similarity": model.task_dataset(
                "similarity",
                tf.data.Dataset.from_tensor_slices(((first, second), scores)).batch(8),
            ),
            "ner": model.task_dataset(
                "ner", tf.data.Dataset.from_tensor_slices((sentences, tags)).batch(8)
            ),
        },
        sampling=sampling,
        seed=0,
    )


def test_one_backbone_every_head_trains_and_metrics_are_named(model):
    tasks = model.tasks
    assert all(task.backbone is model.backbone for task in tasks.values())
    heads = {
        name: [w.numpy().copy() for w in task.head.trainable_weights]
        for name, task in tasks.items()
    }
    embedding = model.backbone.token_embedding.embeddings.numpy().copy()
    history = model.fit(_mixed(model), epochs=2, verbose=0)
    for name in (
        "sentiment_loss",
        "similarity_loss",
        "ner_loss",
        "sentiment_accuracy",
        "similarity_pearson",
        "ner_accuracy",
    ):
        assert name in history.history, sorted(history.history)
    assert len(history.history["loss"]) == 2
    for name, task in tasks.items():
        assert any(
            not np.array_equal(before, after.numpy())
            for before, after in zip(heads[name], task.head.trainable_weights)
        ), name
    assert not np.array_equal(
        embedding, model.backbone.token_embedding.embeddings.numpy()
    )


def test_each_batch_trains_only_its_own_head(model):
    """A batch of one task leaves the other heads' gradients at exactly zero."""
    texts, labels = toy_examples(8, 0)
    batch = next(
        iter(
            model.task_dataset(
                "sentiment",
                tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8),
            )
        )
    )
    x, y, weights = batch
    assert float(tf.reduce_sum(weights["similarity"])) == 0.0
    assert float(tf.reduce_sum(weights["sentiment"])) == 8.0
    with tf.GradientTape() as tape:
        outputs = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=outputs, sample_weight=weights)
    variables = (
        model.tasks["similarity"].head.trainable_variables
        + model.tasks["sentiment"].head.trainable_variables
    )
    gradients = tape.gradient(loss, variables)
    similarity = len(model.tasks["similarity"].head.trainable_variables)
    assert all(
        g is None or float(tf.reduce_max(tf.abs(g))) == 0.0
        for g in gradients[:similarity]
    )
    assert any(
        g is not None and float(tf.reduce_max(tf.abs(g))) > 0.0
        for g in gradients[similarity:]
    )


def test_mix_tasks_sampling(model):
    big = tf.data.Dataset.range(90).batch(1)  # 90 batches
    small = tf.data.Dataset.range(10).batch(1)  # 10 batches

    def counts(sampling, **kwargs):
        data = tl.data.mix_tasks(
            {"big": big.map(lambda x: (x, 0)), "small": small.map(lambda x: (x, 1))},
            sampling=sampling,
            steps=2000,
            seed=0,
            **kwargs,
        )
        drawn = np.array([int(t) for _, t in data])
        assert len(drawn) == 2000 and int(data.cardinality()) == 2000
        return float(np.mean(drawn == 1))

    assert counts("proportional") == pytest.approx(0.1, abs=0.03)
    assert counts("uniform") == pytest.approx(0.5, abs=0.05)
    # temperature 2: sqrt(10) / (sqrt(90) + sqrt(10)) = 0.25
    assert counts("temperature", temperature=2.0) == pytest.approx(0.25, abs=0.04)
    assert int(tl.data.mix_tasks({"big": big, "small": small}).cardinality()) == 100
    with pytest.raises(ValueError, match="sampling must be one of"):
        tl.data.mix_tasks({"big": big}, sampling="round-robin")
    with pytest.raises(ValueError, match="no known, finite number of batches"):
        tl.data.mix_tasks({"big": big.repeat()})


@pytest.mark.extended
def test_keras_round_trip_and_predict_per_task(model, tmp_path):
    model.fit(_mixed(model), epochs=1, verbose=0)
    texts = ["the film was great", "the book was dull"]
    expected = model.predict(texts, task="sentiment")["probabilities"]
    scores = model.predict((["good film"], ["good film"]), task="similarity")
    entities = model.predict(["ann was in paris ."], task="ner")
    path = tmp_path / "multi.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, tl.MultiTaskModel)
    assert sorted(restored.tasks) == ["ner", "sentiment", "similarity"]
    assert all(t.backbone is restored.backbone for t in restored.tasks.values())
    np.testing.assert_allclose(
        restored.predict(texts, task="sentiment")["probabilities"], expected, atol=1e-6
    )
    np.testing.assert_allclose(
        restored.predict((["good film"], ["good film"]), task="similarity")["value"],
        scores["value"],
        atol=1e-6,
    )
    assert restored.predict(["ann was in paris ."], task="ner") == entities
    assert restored.task_loss_weights == {
        "sentiment": 1.0,
        "similarity": 0.5,
        "ner": 1.0,
    }


def test_freeze_applies_to_the_shared_backbone(model):
    model.set_freeze("all")
    assert not model.backbone.trainable_weights
    before = [w.numpy().copy() for w in model.backbone.weights]
    model.fit(_mixed(model), epochs=1, verbose=0)
    assert all(
        np.array_equal(b, w.numpy()) for b, w in zip(before, model.backbone.weights)
    )


def test_bad_multi_task_set_ups(tiny_preset, model):
    with pytest.raises(tl.PolicyError, match="kind 'summarize'"):
        tl.MultiTaskModel.from_backbone(tiny_preset, {"a": {"kind": "summarize"}})
    with pytest.raises(tl.PolicyError, match="needs 'labels'"):
        tl.MultiTaskModel.from_backbone(
            tiny_preset, {"a": {"kind": "text-classification"}}
        )
    with pytest.raises(tl.PolicyError, match="loss weight for unknown task 'b'"):
        tl.MultiTaskModel(model.tasks, loss_weights={"b": 1.0})
    other = tl.TextRegressor.from_backbone(tiny_preset)
    with pytest.raises(tl.PolicyError, match="has its own backbone"):
        tl.MultiTaskModel({"sentiment": model.tasks["sentiment"], "other": other})
    with pytest.raises(tl.PolicyError, match="Unknown task 'topic'"):
        model.predict(["x"], task="topic")
    with pytest.raises(tl.PolicyError, match="name the task"):
        model.predict(["x"])


def _write_config(folder, tasks, extra=""):
    texts, labels = toy_examples(24, 0)
    (folder / "sentiment.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels))
    )
    first, second, scores = _pairs(16)
    (folder / "sts.tsv").write_text(
        "a\tb\tscore\n"
        + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in zip(first, second, scores))
    )
    path = folder / "tasks.yaml"
    path.write_text(extra + "tasks:\n" + tasks)
    return str(path)


GOOD_TASKS = """\
  sentiment:
    type: text-classification
    train: sentiment.tsv
    validation: sentiment.tsv
    text_column: sentence
    label_column: label
  similarity:
    type: regression
    train: sts.tsv
    validation: sts.tsv
    text_column: a
    text_pair_column: b
    label_column: score
    weight: 0.5
"""


def test_cli_fit_multi(tiny_preset, tmp_path, capsys):
    import json

    from tlnlp_tf.cli.main import main

    config = _write_config(tmp_path, GOOD_TASKS, "sampling: temperature\n")
    output = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--task",
                "multi",
                "--config",
                config,
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"sentiment", "similarity"}
    assert set(metrics["validation"]["sentiment"]) == {"accuracy", "f1", "loss"}
    assert set(metrics["validation"]["similarity"]) == {"pearson", "spearman", "mse"}
    assert metrics["steps_per_epoch"] == 5  # 3 + 2 batches of 8
    run = json.loads((output / "run.json").read_text())
    assert (
        run["tasks"]["similarity"]["weight"] == 0.5 and run["sampling"] == "temperature"
    )
    restored = keras.saving.load_model(output / "model.keras")
    assert sorted(restored.tasks) == ["sentiment", "similarity"]


@pytest.mark.parametrize(
    "tasks, message",
    [
        (GOOD_TASKS.replace("type: regression", "type: summarize"), "type 'summarize'"),
        (
            GOOD_TASKS.replace("train: sts.tsv", "train: missing.tsv"),
            "missing.tsv does not exist",
        ),
        (
            GOOD_TASKS.replace("  similarity:", "  sentiment:"),
            "'sentiment' is given twice",
        ),
        (
            GOOD_TASKS.replace("weight: 0.5", "weight: -1"),
            "weight must be a number >= 0.0",
        ),
        (GOOD_TASKS.replace("weight: 0.5", "wieght: 0.5"), "unknown keys ['wieght']"),
    ],
)
def test_cli_multi_bad_configs(tiny_preset, tmp_path, capsys, tasks, message):
    from tlnlp_tf.cli.main import main

    config = _write_config(tmp_path, tasks)
    output = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--task",
                "multi",
                "--config",
                config,
                "--backbone",
                tiny_preset,
                "--output",
                str(output),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert message in error and "tasks.yaml" in error, error
    assert not output.exists()


def test_each_task_loss_is_the_mean_over_its_own_batches(model):
    """`sentiment_loss` on mixed batches is the sentiment model's own loss alone."""
    texts, labels = toy_examples(32, 0)
    first, second, scores = _pairs(16)
    sentences, tags = _tagged(16)
    alone = {
        "sentiment": tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8),
        "similarity": tf.data.Dataset.from_tensor_slices(
            ((first, second), scores)
        ).batch(8),
        "ner": tf.data.Dataset.from_tensor_slices((sentences, tags)).batch(8),
    }
    # Every batch of every task once (mix_tasks samples, with repeats).
    mixed = None
    for name, data in alone.items():
        batches = model.task_dataset(name, data)
        mixed = batches if mixed is None else mixed.concatenate(batches)
    result = model.evaluate(mixed, verbose=0, return_dict=True)
    # 4 of the 10 batches are sentiment's: averaged over all ten (as Keras's own
    # per-output trackers do), its loss would read 0.4 of its own.
    for name in ("sentiment", "similarity"):
        own = model.tasks[name].evaluate(alone[name], verbose=0, return_dict=True)
        assert result[f"{name}_loss"] == pytest.approx(own["loss"], rel=1e-5), name
    assert result["ner_loss"] > 0.5

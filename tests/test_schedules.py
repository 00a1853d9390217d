import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.training import SlantedTriangular
from tlnlp_tf.training import WarmupCosineDecay
from tlnlp_tf.training import WarmupLinearDecay
from tlnlp_tf.training import fine_tuning_adamw


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1.0, total_steps=100, warmup=0.1)
    values = np.array([float(schedule(step)) for step in range(101)])
    assert np.argmax(values) == 9  # the peak ends warmup (10 steps)
    np.testing.assert_allclose(values[4], 0.5)
    assert np.all(np.diff(values[9:]) <= 0)
    assert values[-1] == 0.0


def test_unknown_length_warms_up_then_holds():
    schedule = WarmupLinearDecay(2e-5)
    np.testing.assert_allclose(
        [float(schedule(0)), float(schedule(10_000))], 2e-5, rtol=1e-6
    )


def test_serializable():
    optimizer = fine_tuning_adamw(1e-4, total_steps=50)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(clone._learning_rate, WarmupLinearDecay)
    assert clone._learning_rate.get_config() == {
        "peak": 1e-4,
        "total_steps": 50,
        "warmup": 0.1,
    }


def test_scaled_adamw_changes_the_step_not_just_the_gradient():
    """Adam is scale-invariant: a 10x multiplier must give a 10x step."""
    from tlnlp_tf.training import ScaledAdamW

    fast = keras.Variable(np.zeros(3, "float32"), name="head_kernel")
    slow = keras.Variable(np.zeros(3, "float32"), name="body_kernel")
    fast_path = fast.path
    optimizer = ScaledAdamW(
        {"^" + fast_path + "$": 10.0}, learning_rate=1e-3, weight_decay=0.0
    )
    assert (
        optimizer.multiplier(fast.path) == 10.0
        and optimizer.multiplier(slow.path) == 1.0
    )
    gradient = np.array([0.5, -2.0, 3.0], "float32")
    optimizer.apply_gradients([(gradient, fast), (gradient * 100, slow)])
    np.testing.assert_allclose(fast.numpy(), -10 * 1e-3 * np.sign(gradient), rtol=1e-3)
    np.testing.assert_allclose(slow.numpy(), -1e-3 * np.sign(gradient), rtol=1e-3)
    clone = ScaledAdamW.from_config(optimizer.get_config())
    assert clone.multipliers == optimizer.multipliers


def test_scaled_adamw_scales_weight_decay_too():
    from tlnlp_tf.training import ScaledAdamW

    fast = keras.Variable(np.ones(2, "float32"), name="fast_kernel")
    slow = keras.Variable(np.ones(2, "float32"), name="slow_kernel")
    optimizer = ScaledAdamW(
        {"^" + slow.path + "$": 0.5}, learning_rate=0.1, weight_decay=0.1
    )
    zero = np.zeros(2, "float32")  # no gradient: only the decay moves the weights
    optimizer.apply_gradients([(zero, fast), (zero, slow)])
    np.testing.assert_allclose(fast.numpy(), 1 - 0.1 * 0.1, rtol=1e-6)
    np.testing.assert_allclose(slow.numpy(), 1 - 0.1 * 0.1 * 0.5, rtol=1e-6)
    assert optimizer.weight_decay == 0.1


# === WarmupCosineDecay and SlantedTriangular ===


def test_warmup_cosine_decay_values():
    schedule = WarmupCosineDecay(1.0, total_steps=100, warmup=0.1)
    # 10 warmup steps: (t + 1) / 10; then (1 + cos(pi * (t - 10) / 90)) / 2.
    expected = {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 40: 0.75, 55: 0.5, 100: 0.0, 150: 0.0}
    for step, value in expected.items():
        assert float(schedule(step)) == pytest.approx(value, abs=1e-6), step
    values = np.array([float(schedule(step)) for step in range(9, 101)])
    assert np.all(np.diff(values) <= 1e-7)


def test_warmup_cosine_unknown_length_warms_up_then_holds():
    schedule = WarmupCosineDecay(3e-4)
    assert float(schedule(10_000)) == pytest.approx(3e-4)


def test_slanted_triangular_is_ulmfit_equation_3():
    schedule = SlantedTriangular(0.01, total_steps=1000, cut_frac=0.1, ratio=32)
    # cut = 100; p = t / 100 up to it, then 1 - (t - 100) / 900;
    # rate 0.01 (1 + 31 p) / 32.
    expected = {
        0: 0.01 / 32,
        50: 0.01 * 16.5 / 32,
        100: 0.01,
        550: 0.01 * 16.5 / 32,
        820: 0.01 * (1 + 31 * 0.2) / 32,
        1000: 0.01 / 32,
        5000: 0.01 / 32,
    }
    for step, value in expected.items():
        assert float(schedule(step)) == pytest.approx(value, rel=1e-5), step
    assert float(SlantedTriangular(0.01)(123)) == pytest.approx(0.01)  # length unknown


@pytest.mark.parametrize(
    "schedule",
    [
        WarmupCosineDecay(2e-5, total_steps=300, warmup=0.06),
        SlantedTriangular(1e-3, total_steps=400, cut_frac=0.2, ratio=16),
        WarmupLinearDecay(1e-4),
    ],
)
def test_schedule_config_round_trip(schedule):
    clone = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert type(clone) is type(schedule)
    assert clone.get_config() == schedule.get_config()
    assert float(clone(37)) == pytest.approx(float(schedule(37)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: WarmupCosineDecay(1e-4, warmup=1.0), r"warmup must be in \[0, 1\)"),
        (
            lambda: SlantedTriangular(1e-4, cut_frac=0.0),
            r"cut_frac must be in \(0, 1\)",
        ),
        (
            lambda: SlantedTriangular(1e-4, cut_frac=1.5),
            r"cut_frac must be in \[0, 1\)",
        ),
        (lambda: SlantedTriangular(1e-4, ratio=0.5), "ratio must be at least 1"),
        (
            lambda: WarmupCosineDecay(1e-4, total_steps=0),
            "total_steps must be a positive integer",
        ),
    ],
)
def test_schedule_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("schedule", [SlantedTriangular(1e-3), WarmupCosineDecay(1e-3)])
def test_fit_fills_in_the_length(tiny_preset, toy_sentiment, schedule):
    texts, labels = toy_sentiment  # 64 examples: 4 batches of 16, 2 epochs
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    model.compile(learning_rate=schedule)  # the default AdamW with this schedule
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=2, verbose=0)
    used = model.optimizer._learning_rate
    assert type(used) is type(schedule) and used.total_steps == 8
    assert schedule.total_steps is None  # the optimizer holds a copy
    assert float(model.optimizer.learning_rate) == pytest.approx(float(used(8)))


def test_fine_tuning_adamw_copies_a_schedule_and_fills_its_length():
    schedule = SlantedTriangular(1e-3)
    optimizer = fine_tuning_adamw(schedule, total_steps=40)
    assert optimizer._learning_rate is not schedule
    assert optimizer._learning_rate.total_steps == 40 and schedule.total_steps is None
    assert float(optimizer._learning_rate(4)) == pytest.approx(1e-3)  # cut = 4

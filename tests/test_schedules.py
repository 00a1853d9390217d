import keras
import numpy as np

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
    np.testing.assert_allclose([float(schedule(0)), float(schedule(10_000))], 2e-5, rtol=1e-6)


def test_serializable():
    optimizer = fine_tuning_adamw(1e-4, total_steps=50)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(clone._learning_rate, WarmupLinearDecay)
    assert clone._learning_rate.get_config() == {"peak": 1e-4, "total_steps": 50, "warmup": 0.1}


def test_scaled_adamw_changes_the_step_not_just_the_gradient():
    """Adam is scale-invariant: a 10x multiplier must give a 10x step."""
    from tlnlp_tf.training import ScaledAdamW

    fast = keras.Variable(np.zeros(3, "float32"), name="head_kernel")
    slow = keras.Variable(np.zeros(3, "float32"), name="body_kernel")
    fast_path = fast.path
    optimizer = ScaledAdamW({"^" + fast_path + "$": 10.0}, learning_rate=1e-3,
                            weight_decay=0.0)
    assert optimizer.multiplier(fast.path) == 10.0 and optimizer.multiplier(slow.path) == 1.0
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
    optimizer = ScaledAdamW({"^" + slow.path + "$": 0.5}, learning_rate=0.1, weight_decay=0.1)
    zero = np.zeros(2, "float32")  # no gradient: only the decay moves the weights
    optimizer.apply_gradients([(zero, fast), (zero, slow)])
    np.testing.assert_allclose(fast.numpy(), 1 - 0.1 * 0.1, rtol=1e-6)
    np.testing.assert_allclose(slow.numpy(), 1 - 0.1 * 0.1 * 0.5, rtol=1e-6)
    assert optimizer.weight_decay == 0.1

"""Learning-rate schedules for fine-tuning.

Each schedule takes `total_steps=None`, meaning "not known yet": task models
fill it in from the data and epochs at the start of their first `fit()`
(`FineTuningSchedule` marks the schedules they fill in).
"""

import math

import keras
from keras import ops


class FineTuningSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule over `total_steps` training steps, which may be `None` until `fit()`.

    Subclasses keep `peak` and `total_steps` as attributes; task models set
    `total_steps` from the data and epochs of their first `fit()` call.

    Example:

    ```python
    class ConstantAfterWarmup(WarmupSchedule):
        def decay(self, step, warmup_steps, total):
            return self.peak

    schedule = ConstantAfterWarmup(1e-4)
    assert isinstance(schedule, FineTuningSchedule) and schedule.total_steps is None
    schedule.total_steps = 100  # what `fit()` does
    assert abs(float(schedule(50)) - 1e-4) < 1e-9
    ```
    """

    def __init__(self, peak, total_steps):
        if total_steps is not None and (
            int(total_steps) != total_steps or total_steps < 1
        ):
            raise ValueError(
                f"total_steps must be a positive integer or None, got {total_steps!r}."
            )
        self.peak = float(peak)
        self.total_steps = None if total_steps is None else int(total_steps)


class WarmupSchedule(FineTuningSchedule):
    """Linear warmup over the first `warmup` fraction of steps, then `decay()`.

    Example:

    ```python
    schedule = WarmupLinearDecay(1e-4, total_steps=100, warmup=0.1)
    assert abs(float(schedule(9)) - 1e-4) < 1e-9  # the peak, warmup done
    ```
    """

    def __init__(self, peak, total_steps=None, warmup=0.1):
        super().__init__(peak, total_steps)
        self.warmup = _check_fraction("warmup", warmup)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm, warmup_steps = _warm(self.peak, self.total_steps, self.warmup, step)
        if not self.total_steps:
            return warm
        decay = self.decay(step, warmup_steps, float(self.total_steps))
        return ops.where(step < warmup_steps, warm, decay)

    def decay(self, step, warmup_steps, total):
        """The rate at `step` after the warmup."""
        raise NotImplementedError

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup": self.warmup,
        }


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class WarmupLinearDecay(WarmupSchedule):
    """Linear warmup to `peak`, then linear decay to zero at `total_steps`.

    `total_steps=None` means "not known yet": task models fill it in from the
    data and epochs at the start of their first `fit()`. Until then the rate
    warms up and stays at `peak`.

    Args:
        peak: the highest learning rate.
        total_steps: training steps until the rate reaches zero, or `None`.
        warmup: fraction of `total_steps` spent warming up (0 to 1).

    Example:

    ```python
    schedule = WarmupLinearDecay(1e-4, total_steps=250, warmup=0.1)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    assert float(schedule(250)) == 0.0
    ```
    """

    def decay(self, step, warmup_steps, total):
        remaining = (total - step) / max(total - warmup_steps, 1.0)
        return self.peak * ops.clip(remaining, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class WarmupCosineDecay(WarmupSchedule):
    """Linear warmup to `peak`, then half a cosine down to zero at `total_steps`.

    The warmup is `WarmupLinearDecay`'s; after it the rate is
    `peak * (1 + cos(pi * progress)) / 2`, `progress` going from 0 at the end
    of warmup to 1 at `total_steps` (and staying there). With
    `total_steps=None` the rate warms up and stays at `peak`.

    Args:
        peak: the highest learning rate.
        total_steps: training steps until the rate reaches zero, or `None`.
        warmup: fraction of `total_steps` spent warming up (0 to 1).

    Example:

    ```python
    model.compile(learning_rate=WarmupCosineDecay(1e-4))  # length set by fit()
    ```
    """

    def decay(self, step, warmup_steps, total):
        progress = ops.clip(
            (step - warmup_steps) / max(total - warmup_steps, 1.0), 0.0, 1.0
        )
        return self.peak * 0.5 * (1.0 + ops.cos(math.pi * progress))


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SlantedTriangular(FineTuningSchedule):
    """ULMFiT's slanted triangular learning rate (Howard & Ruder 2018, eq. 3).

    With `T = total_steps` and `cut = floor(T * cut_frac)`, step `t` has
    `p = t / cut` while `t < cut`, else
    `p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))`, and the rate is
    `peak * (1 + p * (ratio - 1)) / ratio`: a short linear
    climb from `peak / ratio` to `peak`, then a long linear fall back to
    `peak / ratio` at step `T` (and no lower after it). With
    `total_steps=None` the rate stays at `peak`.

    Args:
        peak: the highest learning rate (`eta_max`).
        total_steps: training steps (`T`), or `None`.
        cut_frac: the fraction of steps spent increasing the rate (0 to 1).
        ratio: how much smaller the lowest rate is than `peak`.

    Example:

    ```python
    model.compile(learning_rate=SlantedTriangular(1e-3, cut_frac=0.1, ratio=32))
    ```
    """

    def __init__(self, peak, total_steps=None, cut_frac=0.1, ratio=32):
        super().__init__(peak, total_steps)
        self.cut_frac = _check_fraction("cut_frac", cut_frac)
        if self.cut_frac == 0.0:
            raise ValueError("cut_frac must be in (0, 1), got 0.")
        if float(ratio) < 1.0:
            raise ValueError(f"ratio must be at least 1, got {ratio}.")
        self.ratio = float(ratio)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if not self.total_steps:
            return self.peak * ops.ones_like(step)
        cut = float(max(math.floor(self.total_steps * self.cut_frac), 1))
        rising = step / cut
        falling = 1.0 - (step - cut) / (cut * (1.0 / self.cut_frac - 1.0))
        p = ops.clip(ops.where(step < cut, rising, falling), 0.0, 1.0)
        return self.peak * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "cut_frac": self.cut_frac,
            "ratio": self.ratio,
        }


def _check_fraction(name, value):
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")
    return value


def _warm(peak, total_steps, warmup, step):
    """The warmup rate at `step` and the number of warmup steps."""
    total = float(total_steps or 0)
    warmup_steps = max(warmup * total, 1.0) if total else 1.0
    return peak * ops.minimum((step + 1.0) / warmup_steps, 1.0), warmup_steps

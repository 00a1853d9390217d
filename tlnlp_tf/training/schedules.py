"""Learning-rate schedules for fine-tuning."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
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
    ```
    """

    def __init__(self, peak, total_steps=None, warmup=0.1):
        if not 0.0 <= warmup < 1.0:
            raise ValueError(f"warmup must be in [0, 1), got {warmup}.")
        self.peak = float(peak)
        self.total_steps = total_steps
        self.warmup = float(warmup)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        total = float(self.total_steps or 0)
        warmup_steps = max(self.warmup * total, 1.0) if total else 1.0
        warm = self.peak * ops.minimum((step + 1.0) / warmup_steps, 1.0)
        if not total:
            return warm
        remaining = (total - step) / max(total - warmup_steps, 1.0)
        decay = self.peak * ops.clip(remaining, 0.0, 1.0)
        return ops.where(step < warmup_steps, warm, decay)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup": self.warmup,
        }

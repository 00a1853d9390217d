"""Schedules and optimizers for fine-tuning."""

from tlnlp_tf.training.optimizers import ScaledAdamW
from tlnlp_tf.training.optimizers import fine_tuning_adamw
from tlnlp_tf.training.schedules import WarmupLinearDecay

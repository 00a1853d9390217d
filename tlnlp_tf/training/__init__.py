"""Schedules, optimizers and callbacks for fine-tuning."""

from tlnlp_tf.training.callbacks import GradualUnfreezing
from tlnlp_tf.training.callbacks import RandomStateBackup
from tlnlp_tf.training.callbacks import backed_up_epoch
from tlnlp_tf.training.layer_decay import layer_decay_multipliers
from tlnlp_tf.training.optimizers import ScaledAdamW
from tlnlp_tf.training.optimizers import fine_tuning_adamw
from tlnlp_tf.training.regularizers import L2SP
from tlnlp_tf.training.resume import resumable_fit
from tlnlp_tf.training.schedules import FineTuningSchedule
from tlnlp_tf.training.schedules import SlantedTriangular
from tlnlp_tf.training.schedules import WarmupCosineDecay
from tlnlp_tf.training.schedules import WarmupLinearDecay

"""Task metrics: Keras metrics that run in `evaluate` and under tf.distribute,
and whole-set scores computed from predictions."""

from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.metrics.regression import PearsonCorrelation
from tlnlp_tf.metrics.regression import pearson
from tlnlp_tf.metrics.regression import spearman
from tlnlp_tf.metrics.entities import entity_scores
from tlnlp_tf.metrics.entities import format_report
from tlnlp_tf.metrics.entities import get_entities

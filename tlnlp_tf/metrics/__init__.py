"""Task metrics: Keras metrics that run in `evaluate` and under tf.distribute,
and whole-set scores computed from predictions."""

from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.metrics.regression import PearsonCorrelation
from tlnlp_tf.metrics.regression import pearson
from tlnlp_tf.metrics.regression import spearman

"""Task metrics, as Keras metrics so they run in `evaluate` and under tf.distribute."""

from tlnlp_tf.metrics.classification import SparseF1Score

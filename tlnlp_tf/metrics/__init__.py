"""Task metrics: Keras metrics that run in `evaluate` and under tf.distribute,
and whole-set scores computed from predictions."""

from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.metrics.entities import entity_scores
from tlnlp_tf.metrics.entities import format_report
from tlnlp_tf.metrics.entities import get_entities
from tlnlp_tf.metrics.generation import bleu
from tlnlp_tf.metrics.generation import chrf
from tlnlp_tf.metrics.generation import perplexity
from tlnlp_tf.metrics.generation import rouge
from tlnlp_tf.metrics.regression import PearsonCorrelation
from tlnlp_tf.metrics.regression import pearson
from tlnlp_tf.metrics.regression import spearman
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.metrics.squad import exact_match
from tlnlp_tf.metrics.squad import normalize_answer
from tlnlp_tf.metrics.squad import squad_scores
from tlnlp_tf.metrics.squad import token_f1
from tlnlp_tf.metrics.srl import argument_spans
from tlnlp_tf.metrics.srl import format_srl_report
from tlnlp_tf.metrics.srl import srl_scores

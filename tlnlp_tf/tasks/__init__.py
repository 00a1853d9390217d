"""Task models: a backbone, a head, a preprocessor and decoding."""

from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM
from tlnlp_tf.tasks.language_model import LanguageModel
from tlnlp_tf.tasks.multi_task import MultiTaskModel
from tlnlp_tf.tasks.role_labeler import RoleLabeler
from tlnlp_tf.tasks.span_extractor import SpanExtractor
from tlnlp_tf.tasks.span_extractor_preprocessor import SpanExtractorPreprocessor
from tlnlp_tf.tasks.text_classifier import TextClassifier
from tlnlp_tf.tasks.text_regressor import TextRegressor
from tlnlp_tf.tasks.token_classifier import TokenClassifier
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor
from tlnlp_tf.tasks.word_classifier import WordClassifier
from tlnlp_tf.tasks.word_tagger import WordTagger

"""`EncoderDecoderData`: the data side of `EncoderDecoderLM`.

Sources go through the encoder's preprocessor; targets through the
encoder's tokenizer or a new target vocabulary (`learn_vocabulary`), packed
with start and end tokens for teacher forcing. The first `fit` fixes the
source and target lengths from its data; anything longer is counted in a
warning, never cut silently.

```python
from tlnlp_tf.tasks.encoder_decoder_data import EncoderDecoderData
tokens = EncoderDecoderData.learn_vocabulary(["Ein Hund läuft ."] * 4, 60)
```
"""

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.lengths import token_lengths
from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining.vocabulary import MIN_VOCABULARY
from tlnlp_tf.pretraining.vocabulary import _learn_vocabulary
from tlnlp_tf.pretraining.vocabulary import _word_counts
from tlnlp_tf.tasks.encoder_decoder_generation import DEFAULT_NEW_TOKENS
from tlnlp_tf.tasks.encoder_decoder_inputs import warn_longer


class EncoderDecoderData:
    """Tokenizers, teacher-forcing inputs and lengths, mixed into `EncoderDecoderLM`.

    Reads the model's `preprocessor`, `target_tokenizer`, `backbone`,
    `decoder`, `source_length` and `target_length`.

    ```python
    model = tl.EncoderDecoderLM.from_backbone("minilm", target_length=8)
    inputs, labels, weights = model.preprocess_samples(["a good film ."], ["good"])
    ```
    """

    @staticmethod
    def learn_vocabulary(texts, vocabulary_size=8000, lowercase=False):
        """A WordPiece vocabulary (list of tokens) learned from target texts.

        The learner of `tlnlp_tf.pretraining.new_backbone_preset`: keras-hub's
        `compute_word_piece_vocabulary`, completed so that every character
        of the texts is a token while the budget allows. Pass it to
        `from_backbone(target_vocabulary=...)`.

        Example:

        ```python
        tokens = tl.EncoderDecoderLM.learn_vocabulary(
            ["Ein Mann schläft .", "Zwei Hunde spielen ."], vocabulary_size=100
        )
        tokens[:5]  # ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        ```
        """
        texts = [str(t) for t in texts if str(t).strip()]
        if not texts:
            raise DataError(
                "learn_vocabulary: no non-blank text to learn a vocabulary from."
            )
        if not isinstance(vocabulary_size, int) or vocabulary_size < MIN_VOCABULARY:
            raise PolicyError(
                f"learn_vocabulary: vocabulary_size must be an integer of at "
                f"least {MIN_VOCABULARY}, got {vocabulary_size!r}."
            )
        counts = _word_counts(texts, lowercase)
        return _learn_vocabulary(texts, counts, vocabulary_size, lowercase)

    def source_tokenizer(self):
        """The tokenizer of the sources (the encoder's)."""
        return self.preprocessor.tokenizer

    def output_tokenizer(self):
        """The tokenizer of the targets: the new one, else the encoder's."""
        if self.target_tokenizer is not None:
            return self.target_tokenizer
        return self.preprocessor.tokenizer

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if isinstance(x, dict):  # token features already
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        features = trim_padding(self.preprocessor(x=x))
        inputs = {
            "encoder_token_ids": features["token_ids"],
            "encoder_padding_mask": features["padding_mask"],
        }
        if y is None:
            return keras.utils.pack_x_y_sample_weight(inputs, None, sample_weight)
        tokenizer = self.output_tokenizer()
        packer = keras_hub.layers.StartEndPacker(
            sequence_length=self._target_positions() + 1,
            start_value=tokenizer.start_token_id,
            end_value=tokenizer.end_token_id,
            pad_value=tokenizer.pad_token_id,
            return_padding_mask=True,
        )
        ids, mask = packer(tokenizer(y))
        targets = trim_padding(
            {
                "token_ids": ids[:, :-1],
                "padding_mask": mask[:, :-1],
                "labels": ids[:, 1:],
                "weights": tf.cast(mask[:, 1:], "float32"),
            }
        )
        inputs["decoder_token_ids"] = targets["token_ids"]
        inputs["decoder_padding_mask"] = targets["padding_mask"]
        return inputs, targets["labels"], targets["weights"]

    def _target_positions(self):
        if self.target_length is not None:
            return self.target_length
        return min(DEFAULT_NEW_TOKENS, self.decoder.max_sequence_length - 1)

    def _source_limit(self):
        if self.source_length is not None:
            return self.source_length
        length = getattr(self.preprocessor, "sequence_length", None)
        return int(length or self.backbone.max_sequence_length)

    def _choose_lengths(self, sources, targets):
        """Fix `source_length` and `target_length` from training pairs (`fit`)."""
        if not sources:
            return
        if self.source_length is None:
            self.source_length = choose_sequence_length(
                self.source_tokenizer(),
                sources,
                limit=int(self.backbone.max_sequence_length),
            )
            self.preprocessor.sequence_length = self.source_length
        else:
            self.count_truncated(sources, "training sources")
        if self.target_length is None:
            self.target_length = choose_sequence_length(
                self.output_tokenizer(),
                targets,
                limit=int(self.decoder.max_sequence_length) - 1,
            )
        else:
            warn_longer(
                token_lengths(self.output_tokenizer(), targets) - 1,
                self.target_length,
                "training targets",
                "target_length",
            )

    def count_truncated(self, sources, what="sources"):
        """How many `sources` are longer than the source limit (they are cut; warns).

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm", source_length=8)
        model.count_truncated(["the film was very good and the cast was great ."])  # 1
        ```
        """
        lengths = token_lengths(self.source_tokenizer(), list(sources))
        return warn_longer(lengths, self._source_limit(), what, "source_length")

"""MPNet's tokenizer and text-classifier preprocessor, keras-hub style.

MPNet's tokenizer is BERT's lowercase WordPiece with RoBERTa's special
tokens: `<s>` starts, `</s>` ends, a pair is `<s> A </s></s> B </s>`,
`<pad>` pads, unknown pieces are `[UNK]` (Hugging Face's `MPNetTokenizer`).
Both classes are keras-hub subclasses tied to `MPNetBackbone`, so
`keras_hub.models.TextClassifierPreprocessor.from_preset(folder)` finds
them in a preset folder saved by `save_to_preset`.

Example:

```python
vocabulary = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "a", "fine", "film", "<mask>"]
preprocessor = MPNetTextClassifierPreprocessor(
    MPNetTokenizer(vocabulary), sequence_length=8)
preprocessor(["A fine film"])["token_ids"]  # [[0, 5, 6, 7, 2, 1, 1, 1]]
```
"""

import keras
import keras_hub

from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class MPNetTokenizer(keras_hub.tokenizers.WordPieceTokenizer):
    """Lowercase WordPiece with `<s>`, `</s>`, `<pad>`, `<mask>` and `[UNK]`.

    `lowercase=True` also strips accents, as Hugging Face's tokenizer does
    when it lowercases (`strip_accents=None`).

    Example:

    ```python
    vocabulary = ["<s>", "<pad>", "</s>", "[UNK]", "cafe", "<mask>"]
    MPNetTokenizer(vocabulary)(["Café"])  # [[4]]
    ```
    """

    backbone_cls = MPNetBackbone

    def __init__(self, vocabulary=None, lowercase=True, **kwargs):
        self._add_special_token("<s>", "cls_token")
        self._add_special_token("</s>", "sep_token")
        self._add_special_token("<pad>", "pad_token")
        self._add_special_token("<mask>", "mask_token")
        self._add_special_token("<s>", "start_token")
        self._add_special_token("</s>", "end_token")
        kwargs.setdefault("strip_accents", lowercase)
        super().__init__(vocabulary=vocabulary, lowercase=lowercase, **kwargs)


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class MPNetTextClassifierPreprocessor(keras_hub.models.TextClassifierPreprocessor):
    """Packs one or two segments as `<s> A </s></s> B </s>`; no segment ids.

    Example:

    ```python
    vocabulary = ["<s>", "<pad>", "</s>", "[UNK]", "a", "b", "<mask>"]
    preprocessor = MPNetTextClassifierPreprocessor(
        MPNetTokenizer(vocabulary), sequence_length=8)
    pair = (tf.constant(["a"]), tf.constant(["b"]))
    preprocessor(x=pair)["token_ids"]  # [[0, 4, 2, 2, 5, 2, 1, 1]]
    ```
    """

    backbone_cls = MPNetBackbone
    tokenizer_cls = MPNetTokenizer

    def build(self, input_shape):
        self.packer = keras_hub.layers.MultiSegmentPacker(
            start_value=self.tokenizer.start_token_id,
            end_value=self.tokenizer.end_token_id,
            sep_value=[self.tokenizer.end_token_id] * 2,
            pad_value=self.tokenizer.pad_token_id,
            truncate=self.truncate,
            sequence_length=self.sequence_length,
        )
        self.built = True

    def call(self, x, y=None, sample_weight=None):
        output = super().call(x, y=y, sample_weight=sample_weight)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(output)
        x = {key: value for key, value in x.items() if key != "segment_ids"}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

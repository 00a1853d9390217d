"""The tokenizer files of a Hugging Face export: `BertTokenizer` or `MPNetTokenizer`.

`export_huggingface` writes the backbone's WordPiece vocabulary and the
settings that make `transformers.BertTokenizer` split text as keras-hub's
`WordPieceTokenizer` does (lowercasing, accent stripping, CJK splitting,
`##` continuations); a tokenizer it would not reproduce is refused.

```python
from tlnlp_tf.export.huggingface_tokenizer import wordpiece_tokenizer
model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
wordpiece_tokenizer(model)  # the model's own WordPiece tokenizer
```
"""

import json

import keras_hub

from tlnlp_tf.backbones.mpnet_preprocessing import MPNetTokenizer
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.export.huggingface_mpnet import mpnet_tokenizer_settings

_SPECIAL_TOKENS = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_SPECIAL_DEFAULTS = ("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]")


def wordpiece_tokenizer(model, tokenizer=None):
    """The WordPiece tokenizer to export: `tokenizer`, or the model's own.

    `None` when neither is given; a `BackboneError` for a tokenizer that
    Hugging Face's `BertTokenizer` would not reproduce.

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    wordpiece_tokenizer(model).vocabulary_size()
    ```
    """
    if tokenizer is None:
        tokenizer = getattr(getattr(model, "preprocessor", None), "tokenizer", None)
        if tokenizer is None:
            return None
    elif not isinstance(tokenizer, keras_hub.tokenizers.Tokenizer):
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    if not isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        raise BackboneError(
            f"export_huggingface writes a WordPiece tokenizer (BertTokenizer), "
            f"got {type(tokenizer).__name__}: pass tokenizer= a "
            "keras_hub.models.BertTokenizer or the preprocessor holding one."
        )
    if tokenizer.suffix_indicator != "##" or not tokenizer.split:
        raise BackboneError(
            "export_huggingface: Hugging Face's BertTokenizer splits on "
            "whitespace and punctuation and marks word continuations with '##'; "
            f"this tokenizer has split={tokenizer.split}, suffix_indicator="
            f"{tokenizer.suffix_indicator!r}, so it would tokenize differently."
        )
    return tokenizer


def tokenizer_files(tokenizer, backbone):
    """`{file name: text}` of `vocab.txt`, `tokenizer_config.json` and
    `special_tokens_map.json` for Hugging Face's `BertTokenizer`.

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    files = tokenizer_files(model.preprocessor.tokenizer, model.backbone)
    sorted(files)  # ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    ```
    """
    vocabulary = list(tokenizer.get_vocabulary())
    if len(vocabulary) > backbone.vocabulary_size:
        raise BackboneError(
            f"export_huggingface: the tokenizer has {len(vocabulary)} tokens but "
            f"the backbone embeds only {backbone.vocabulary_size}: pass the "
            "tokenizer this backbone was trained with."
        )
    bad = [token for token in vocabulary if not token or "\n" in token]
    if bad:
        raise BackboneError(
            f"export_huggingface: vocab.txt has one token a line, but the "
            f"vocabulary holds {bad[:3]!r}."
        )
    if isinstance(tokenizer, MPNetTokenizer):
        tokenizer_config, special = mpnet_tokenizer_settings(tokenizer)
    else:
        special = {
            key: str(getattr(tokenizer, key, None) or default)
            for key, default in zip(_SPECIAL_TOKENS, _SPECIAL_DEFAULTS)
        }
        special["unk_token"] = str(tokenizer.oov_token)
        tokenizer_config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": bool(tokenizer.lowercase),
            "strip_accents": bool(tokenizer.strip_accents),
            "tokenize_chinese_chars": bool(tokenizer.split_on_cjk),
            "do_basic_tokenize": True,
            **special,
        }
    tokenizer_config["model_max_length"] = int(backbone.max_sequence_length)
    tokenizer_config["clean_up_tokenization_spaces"] = True
    return {
        "vocab.txt": "".join(token + "\n" for token in vocabulary),
        "tokenizer_config.json": json_text(tokenizer_config),
        "special_tokens_map.json": json_text(special),
    }


def json_text(value):
    """`value` as the indented UTF-8 JSON text of a Hugging Face folder file.

    ```python
    json_text({"a": 1})  # '{\\n  "a": 1\\n}\\n'
    ```
    """
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"

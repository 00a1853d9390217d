"""The sentence-transformers files of a Hugging Face export of a sentence encoder.

A text classifier that pools by the mean or the first token (the default on
sentence models, and what `freeze="setfit"` trains contrastively) and a
bi-encoder `TextRegressor` are sentence encoders: `export_huggingface` then
also writes `modules.json`, `1_Pooling/config.json` and
`sentence_bert_config.json`, so that `sentence_transformers.SentenceTransformer(path)`
embeds with the same pooling, and `tl.load_backbone(path)` knows the folder
as a sentence model again (`is_sentence_encoder`, `default_pooling`: what
`freeze="auto"` and `pair_encoding="auto"` decide from).

Example:

```python
model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
sorted(sentence_transformers_files(model, model.backbone))
# ["1_Pooling/config.json", "modules.json", "sentence_bert_config.json"]
```
"""

from tlnlp_tf.export.huggingface_tokenizer import json_text
from tlnlp_tf.layers.classification_head import ClassificationHead
from tlnlp_tf.layers.cosine_similarity_head import CosineSimilarityHead

# Every file this module may write, relative to the export folder.
FILES = ("modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
POOLINGS = ("mean", "cls")


def sentence_transformers_files(model, backbone):
    """`{relative path: text}` for `model`, or `{}` when it is not a sentence encoder.

    ```python
    backbone, _ = tl.load_backbone("minilm")
    sentence_transformers_files(backbone, backbone)  # {}: a backbone has no pooling
    ```
    """
    head = getattr(model, "head", None)  # a backbone has none
    if not isinstance(head, (ClassificationHead, CosineSimilarityHead)):
        return {}
    pooling = head.pooling
    if pooling not in POOLINGS:
        return {}
    preprocessor = getattr(model, "preprocessor", None)
    length = getattr(preprocessor, "sequence_length", None)
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "",
            "type": "sentence_transformers.models.Transformer",
        },
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    pooling_config = {
        "word_embedding_dimension": int(backbone.hidden_dim),
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    settings = {
        "max_seq_length": int(length or backbone.max_sequence_length),
        "do_lower_case": False,  # the tokenizer's own setting applies
    }
    return {
        "modules.json": json_text(modules),
        "sentence_bert_config.json": json_text(settings),
        "1_Pooling/config.json": json_text(pooling_config),
    }

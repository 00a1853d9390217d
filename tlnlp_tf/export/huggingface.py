"""Export a BERT-family or MPNet backbone, or a task model on one, to Hugging Face.

`export_huggingface(model, path)` writes the folder `transformers` reads with
`from_pretrained(path)`, and that `tl.load_backbone(path)` and
`keras_hub.models.BertBackbone.from_preset(path)` read back to the same
numbers:

- `config.json`: `model_type: "bert"`, the architecture, its sizes;
- `model.safetensors`: float32 weights under PyTorch BERT's names and
  layouts (a `Linear` weight is `[out, in]`), written with `safetensors`'
  numpy API: PyTorch is not needed;
- `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`: the
  WordPiece tokenizer (`do_lower_case`, `strip_accents`, special tokens).

What is written, by model:

- a `keras_hub.models.BertBackbone` (BERT, MiniLM: `"minilm"`, ...):
  `BertModel`, pooler included, tensor names without prefix
  (`embeddings.word_embeddings.weight`,
  `encoder.layer.0.attention.self.query.weight`, `pooler.dense.weight`).
  Pass `tokenizer=` (a tokenizer or a preprocessor) for the tokenizer
  files: a backbone alone has none.
- a `TextClassifier` with `pooling="pooled"` (BERT's pooler, then one
  linear layer): `BertForSequenceClassification`, the backbone under
  `bert.`, the head as `classifier.weight` / `classifier.bias`,
  `id2label` / `label2id` from the model's labels.
- a `TokenClassifier` without CRF: `BertForTokenClassification`, likewise
  (the pooler is written too, as `bert.pooler.*`: `transformers` skips it
  with a notice, keras-hub needs it).
- an `MPNetBackbone` (`tl.load_backbone` of an MPNet folder such as
  all-mpnet-base-v2, after `freeze="setfit"` for instance): `MPNetModel`
  (`model_type: "mpnet"`, names of `tlnlp_tf.export.huggingface_mpnet`)
  and `MPNetTokenizer` files; a pooled `TextClassifier` becomes
  `MPNetForSequenceClassification` (its `classifier.dense` is the pooler,
  `classifier.out_proj` the logits: the same computation), a
  `TokenClassifier` `MPNetForTokenClassification`, the backbone under
  `mpnet.`; other heads as for BERT below.
- any other model on a BERT backbone (a mean- or [CLS]-vector-pooled
  classifier, the default; a CRF tagger; a span extractor; a regressor; a
  multi-task model; a keras-hub task): the backbone alone as `BertModel`,
  with a `UserWarning` that names what was left out, and the same list in
  `config.json` under `"tlnlp_tf"` (`"not_exported"`). Hugging Face's BERT
  classes cannot compute a mean-pooled or CRF head, and a head written
  where `transformers` would run it differently would change predictions
  without a word; span and regression heads are not mapped yet. Label
  names (`id2label`) are still written.
- a sentence encoder (a classifier pooled by the mean or the first token,
  the default on sentence models and `freeze="setfit"`'s; a bi-encoder
  `TextRegressor`), on either backbone: the folder is also a
  sentence-transformers model (`modules.json`, `1_Pooling/`; see
  `tlnlp_tf.export.sentence_transformers_files`).

`hidden_act` is `"gelu_new"`, the tanh approximation of GELU: keras-hub's
`BertBackbone` computes that one (its Hugging Face import maps BERT's exact
`"gelu"` onto it too), so `transformers` reproduces the Keras outputs instead
of differing in the third decimal. keras-hub ignores `hidden_act` on import.

Example:

```python
model = tl.TextClassifier.from_backbone(
    "minilm", labels=["neg", "pos"], pooling="pooled"
)
# ... model.fit(train.batch(32), epochs=3) ...
export_huggingface(model, "reviews-hf")  # BertForSequenceClassification
backbone, preprocessor = tl.load_backbone("reviews-hf")  # back in Keras
```

In PyTorch, with `transformers` installed (not needed here, and not run by
the tests):

```text
from transformers import AutoModelForSequenceClassification, AutoTokenizer

hf_model = AutoModelForSequenceClassification.from_pretrained("reviews-hf")
hf_tokenizer = AutoTokenizer.from_pretrained("reviews-hf")
```
"""

import json
import math
import os
import warnings

import keras
import keras_hub
import numpy as np

from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.export.huggingface_mpnet import mpnet_config
from tlnlp_tf.export.huggingface_mpnet import mpnet_tensors
from tlnlp_tf.export.huggingface_tokenizer import json_text
from tlnlp_tf.export.huggingface_tokenizer import tokenizer_files
from tlnlp_tf.export.huggingface_tokenizer import wordpiece_tokenizer
from tlnlp_tf.export.sentence_transformers_files import FILES as SENTENCE_FILES
from tlnlp_tf.export.sentence_transformers_files import sentence_transformers_files
from tlnlp_tf.layers.classification_head import ClassificationHead
from tlnlp_tf.layers.token_classification_head import TokenClassificationHead

SUPPORTED = (
    "a keras_hub.models.BertBackbone (BERT, MiniLM: 'minilm', and other BERT "
    "checkpoints keras-hub loads as BertBackbone), an MPNetBackbone, or a task "
    "model with one as its `.backbone` (TextClassifier, TokenClassifier, ...)"
)
# Every file an export writes; a re-export removes those it does not write.
FILES = (
    "config.json",
    "model.safetensors",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    *SENTENCE_FILES,
)
MARKER = "tlnlp_tf"  # the config.json entry that says who wrote the folder


def export_huggingface(model, path, tokenizer=None):
    """Write `model` as a Hugging Face BERT or MPNet folder; returns `path`.

    Args:
        model: a `keras_hub.models.BertBackbone` or an `MPNetBackbone`, or a
            task model with one as `model.backbone` (`TextClassifier`,
            `TokenClassifier`, ...).
        path: the folder to write: new, empty, or written by an earlier
            export (any other folder is a `FileExistsError`, so no stale
            file is read with the new weights).
        tokenizer: the WordPiece tokenizer (or a preprocessor holding one)
            whose files to write; `None` takes `model.preprocessor.tokenizer`.
            Without one, no tokenizer files are written (a warning says so),
            and the folder does not load with `tl.load_backbone`.

    Returns:
        `path`. Parts of `model` that were not exported are named in a
        `UserWarning` and in `config.json["tlnlp_tf"]["not_exported"]`.

    Raises:
        BackboneError: `model` is not on a BERT or MPNet backbone, or its tokenizer
            or weights cannot be written faithfully.

    Example:

    ```python
    backbone, preprocessor = tl.load_backbone("minilm")
    export_huggingface(backbone, "minilm-hf", tokenizer=preprocessor)
    tl.load_backbone("minilm-hf")  # the same backbone again
    ```
    """
    path = os.fspath(path)
    backbone = _backbone(model)
    family = "mpnet" if isinstance(backbone, MPNetBackbone) else "bert"
    tokenizer = wordpiece_tokenizer(model, tokenizer)
    not_exported = []
    head = _head(model, backbone, not_exported, family)
    if tokenizer is None:
        not_exported.append(
            "the tokenizer (none given and the model has no preprocessor): no "
            "vocab.txt, so tl.load_backbone cannot read the folder; pass "
            "tokenizer=preprocessor"
        )
    if family == "mpnet":
        config = mpnet_config(backbone)
    else:
        config = _config(backbone, tokenizer)
    labels = _labels(model)
    if labels is not None:
        config["id2label"] = {str(i): name for i, name in enumerate(labels)}
        config["label2id"] = {name: i for i, name in enumerate(labels)}
    prefix = ""
    tensors = {}
    if head is not None:
        prefix = family + "."
        config.update(head["config"])
        tensors.update(head["tensors"])
    base = {"bert": "BertModel", "mpnet": "MPNetModel"}[family]
    config["architectures"] = [head["architecture"] if head else base]
    if family == "mpnet":
        weights = mpnet_tensors(backbone, _array)
    else:
        weights = backbone_tensors(backbone)
    tensors.update({prefix + k: v for k, v in weights.items()})
    config[MARKER] = {"exported_from": type(model).__name__}
    config[MARKER]["not_exported"] = not_exported

    files = {"config.json": json_text(config)}
    if tokenizer is not None:
        files.update(tokenizer_files(tokenizer, backbone))
    files.update(sentence_transformers_files(model, backbone))
    _prepare_folder(path, written=set(files) | {"model.safetensors"})
    _save_tensors(tensors, os.path.join(path, "model.safetensors"))
    for name, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(path, name)), exist_ok=True)
        with open(os.path.join(path, name), "w", encoding="utf-8") as file:
            file.write(text)
    if not_exported:
        warnings.warn(
            f"export_huggingface wrote {config['architectures'][0]} to '{path}' "
            f"without: {'; '.join(not_exported)}.",
            UserWarning,
            stacklevel=2,
        )
    return path


def backbone_tensors(backbone):
    """`{Hugging Face name: float32 array}` of a `BertBackbone`, names unprefixed.

    The inverse of keras-hub's Hugging Face BERT import: Keras kernels are
    `[in, out]` (attention ones `[in, heads, head_dim]` and `[heads, head_dim,
    out]`), PyTorch `Linear` weights `[out, in]`. LoRA factors are folded in
    (a layer's `kernel` includes them).

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    backbone_tensors(backbone)["encoder.layer.0.attention.self.query.weight"].shape
    ```
    """
    tensors = {
        "embeddings.word_embeddings.weight": _array(
            backbone.get_layer("token_embedding").embeddings
        ),
        "embeddings.position_embeddings.weight": _array(
            backbone.get_layer("position_embedding").position_embeddings
        ),
        "embeddings.token_type_embeddings.weight": _array(
            backbone.get_layer("segment_embedding").embeddings
        ),
        **_norm("embeddings.LayerNorm", backbone.get_layer("embeddings_layer_norm")),
        **_dense("pooler.dense", backbone.get_layer("pooled_dense")),
    }
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = _part(block, "_self_attention_layer")
        name = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            dense = getattr(attention, f"{part}_dense")
            kernel = _array(dense.kernel)  # [in, heads, head_dim]
            tensors[f"{name}.attention.self.{part}.weight"] = kernel.reshape(
                kernel.shape[0], -1
            ).T
            tensors[f"{name}.attention.self.{part}.bias"] = _array(dense.bias).reshape(
                -1
            )
        kernel = _array(attention.output_dense.kernel)  # [heads, head_dim, out]
        tensors[f"{name}.attention.output.dense.weight"] = kernel.reshape(
            -1, kernel.shape[-1]
        ).T
        tensors[f"{name}.attention.output.dense.bias"] = _array(
            attention.output_dense.bias
        )
        tensors.update(
            _norm(
                f"{name}.attention.output.LayerNorm",
                _part(block, "_self_attention_layer_norm"),
            )
        )
        tensors.update(
            _dense(
                f"{name}.intermediate.dense",
                _part(block, "_feedforward_intermediate_dense"),
            )
        )
        tensors.update(
            _dense(f"{name}.output.dense", _part(block, "_feedforward_output_dense"))
        )
        tensors.update(
            _norm(f"{name}.output.LayerNorm", _part(block, "_feedforward_layer_norm"))
        )
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


# --------------------------------------------------------------------------
# What is exported.


def _backbone(model):
    backbone = model if isinstance(model, keras_hub.models.Backbone) else None
    if backbone is None:
        backbone = getattr(model, "backbone", None)
    if isinstance(backbone, (keras_hub.models.BertBackbone, MPNetBackbone)):
        return backbone
    what = type(model).__name__
    if backbone is not None and backbone is not model:
        what += f" on a {type(backbone).__name__}"
    hint = ""
    if isinstance(model, (keras_hub.models.CausalLM, keras_hub.models.Backbone)):
        hint = (
            " keras-hub exports some decoder models itself (Gemma, Llama 3, "
            "Mistral, Qwen, GPT-2): `model.export_to_transformers(path)`."
        )
    raise BackboneError(
        f"export_huggingface cannot export a {what}: it writes BERT-family "
        f"and MPNet models only, that is {SUPPORTED}.{hint}"
    )


def _head(model, backbone, not_exported, family="bert"):
    """The Hugging Face task class of `model`'s head, or `None` (backbone only)."""
    if model is backbone:
        return None
    head = getattr(model, "head", None)
    name = type(model).__name__
    kind = {"bert": "Bert", "mpnet": "MPNet"}[family]
    if type(head) is ClassificationHead:
        if head.pooling == "pooled" and head.hidden is None:
            if family == "mpnet":  # dense + tanh on <s>, then out_proj
                return _mpnet_sequence_head(head, backbone)
            return _linear_head(
                "BertForSequenceClassification", head, "single_label_classification"
            )
        not_exported.append(
            f"the classification head of {name} (pooling={head.pooling!r}"
            + (f", hidden_dim={head.hidden_dim}" if head.hidden is not None else "")
            + f"): {kind}ForSequenceClassification runs the pooler on the first "
            "token and one linear layer, so it would compute other logits; build "
            "the classifier with pooling='pooled' to export its head"
        )
        return None
    if type(head) is TokenClassificationHead:
        return _linear_head(f"{kind}ForTokenClassification", head, None)
    if head is not None:
        not_exported.append(
            f"the {type(head).__name__} of {name} (export_huggingface maps "
            "only a pooled ClassificationHead and a TokenClassificationHead "
            f"onto Hugging Face {kind} classes)"
        )
    else:
        not_exported.append(f"everything of {name} but its backbone")
    return None


def _linear_head(architecture, head, problem_type):
    config = {"classifier_dropout": float(head.dropout)}
    if problem_type:
        config["problem_type"] = problem_type
    return {
        "architecture": architecture,
        "config": config,
        "tensors": _dense("classifier", head.logits),
    }


def _mpnet_sequence_head(head, backbone):
    """`MPNetForSequenceClassification`'s head: dropout, dense, tanh, dropout,
    out_proj on the `<s>` vector; the backbone's pooler and the logits layer."""
    return {
        "architecture": "MPNetForSequenceClassification",
        "config": {"problem_type": "single_label_classification"},
        "tensors": {
            **_dense("classifier.dense", backbone.pooled_dense),
            **_dense("classifier.out_proj", head.logits),
        },
    }


def _labels(model):
    for attribute in ("labels", "tags"):
        names = getattr(model, attribute, None)
        if isinstance(names, (list, tuple)) and names:
            return [str(name) for name in names]
    return None


def _config(backbone, tokenizer):
    pad = 0
    if tokenizer is not None:
        pad = int(tokenizer.token_to_id(getattr(tokenizer, "pad_token", "[PAD]")))
    block = backbone.get_layer("transformer_layer_0")
    attention = _part(block, "_self_attention_layer")
    return {
        "architectures": None,  # set by the caller
        "model_type": "bert",
        "vocab_size": int(backbone.vocabulary_size),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "max_position_embeddings": int(backbone.max_sequence_length),
        "type_vocab_size": int(backbone.num_segments),
        "hidden_act": _activation(backbone),
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(attention.dropout),
        "layer_norm_eps": float(backbone.get_layer("embeddings_layer_norm").epsilon),
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": pad,
        "use_cache": True,
        "torch_dtype": "float32",
    }


def _activation(backbone):
    """`hidden_act` for the feed-forward activation: tanh or exact GELU."""
    block = backbone.get_layer("transformer_layer_0")
    activation = _part(block, "_feedforward_intermediate_dense").activation
    x = np.linspace(-6.0, 6.0, 241)
    y = _array(activation(keras.ops.convert_to_tensor(x, "float32")))
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    for name, reference in (("gelu_new", tanh), ("gelu", exact)):
        if np.max(np.abs(y - reference)) < 1e-5:
            return name
    raise BackboneError(
        "export_huggingface: the backbone's feed-forward activation is neither "
        "GELU nor its tanh approximation, which BERT's config can name; "
        "export a BertBackbone as keras-hub builds it."
    )


# --------------------------------------------------------------------------
# Weights and files.


def _array(value):
    array = np.asarray(keras.ops.convert_to_numpy(value))
    if array.dtype.kind in "iub":
        raise BackboneError(
            f"export_huggingface: a weight is stored as {array.dtype} (a "
            "quantized backbone); export the float model before quantizing it."
        )
    return array.astype("float32")


def _dense(name, layer):
    kernel, bias = _array(layer.kernel), _array(layer.bias)
    return {f"{name}.weight": kernel.T, f"{name}.bias": bias}


def _norm(name, layer):
    return {f"{name}.weight": _array(layer.gamma), f"{name}.bias": _array(layer.beta)}


def _part(block, attribute):
    """A sublayer of a keras-hub transformer block, by the attribute name that
    keras-hub's own Hugging Face BERT import reads."""
    layer = getattr(block, attribute, None)
    if layer is None:
        raise BackboneError(
            f"export_huggingface: layer '{block.name}' has no '{attribute}'; this "
            f"keras-hub ({keras_hub.__version__}) builds BERT blocks differently "
            "from the one this exporter was written for (0.32)."
        )
    return layer


def _save_tensors(tensors, filename):
    from safetensors.numpy import save_file

    tensors = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    # "pt": the layouts are PyTorch's; transformers refuses other formats.
    save_file(tensors, filename, metadata={"format": "pt"})


def _prepare_folder(path, written):
    """Create `path`, or clear an earlier export there; refuse other contents."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"export_huggingface: '{path}' is a file; pass a folder path."
        )
    os.makedirs(path, exist_ok=True)
    present = sorted(os.listdir(path))
    if not present:
        return
    if _written_by_export(path):
        for name in set(FILES) - set(written):
            if os.path.isfile(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
            folder = os.path.dirname(os.path.join(path, name))
            if folder != path.rstrip(os.sep) and os.path.isdir(folder):
                if not os.listdir(folder):  # 1_Pooling/, emptied
                    os.rmdir(folder)
        return
    raise FileExistsError(
        f"export_huggingface: folder '{path}' is not empty ({', '.join(present[:5])}"
        f"{', ...' if len(present) > 5 else ''}) and was not written by "
        "export_huggingface; export to a new or empty folder, so that no other "
        "file there (an older model.safetensors.index.json, a keras-hub "
        "preset's config.json) is read with the exported weights."
    )


def _written_by_export(path):
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as file:
            return MARKER in json.load(file)
    except (OSError, ValueError):
        return False

"""`export_huggingface`: Keras BERT models out as Hugging Face folders, and back.

The exported tensors are checked two ways: read back by keras-hub (through
`tl.load_backbone` and `BertBackbone.from_preset`), and run by a numpy
forward pass written from Hugging Face's `BertModel` (PyTorch is not
installed), so a mapping that keras-hub would invert by the same mistake
still fails.
"""

import json
import math
import os

import keras
import keras_hub
import numpy as np
import pytest
from conftest import VOCAB
from conftest import tiny_causal_lm
from safetensors.numpy import load_file

import tlnlp_tf as tl
from tlnlp_tf.export import export_huggingface
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor

TEXTS = [
    "The film was VERY good .",
    "boring plot, but the cast!",
    "zebra xyzzy loved it",
]


def perturbed(module, seed):
    """Add noise to every weight of `module`: nothing is left at its default."""
    rng = np.random.default_rng(seed)
    for weight in module.weights:
        value = keras.ops.convert_to_numpy(weight.value)
        weight.assign(value + rng.normal(0, 0.3, value.shape).astype(value.dtype))
    return module


@pytest.fixture
def bert(tiny_hf_folder):
    """`(backbone, preprocessor)` from the tiny HF folder, weights perturbed."""
    backbone, preprocessor = tl.load_backbone(tiny_hf_folder)
    return perturbed(backbone, 0), preprocessor


def batch(vocabulary_size, seed=1):
    """Token ids with padding (lengths 9, 6, 3) and two segments."""
    rng = np.random.default_rng(seed)
    lengths = np.array([9, 6, 3])
    mask = np.arange(9)[None, :] < lengths[:, None]
    ids = rng.integers(5, vocabulary_size, (3, 9))
    ids[:, 0] = 2
    segments = (np.arange(9)[None, :] >= (lengths[:, None] // 2)) & mask
    return {
        "token_ids": np.where(mask, ids, 0).astype("int32"),
        "segment_ids": segments.astype("int32"),
        "padding_mask": mask.astype("int32"),
    }


def keras_outputs(backbone, inputs):
    outputs = backbone(inputs, training=False)
    return {name: np.asarray(value) for name, value in outputs.items()}


# --------------------------------------------------------------------------
# Hugging Face's BertModel, in numpy (float64), from an exported folder.


def hf_bert(folder, inputs):
    """`(sequence_output, pooled_output, tensors, config)` as transformers computes
    them for the folder's `config.json` and `model.safetensors`."""
    with open(os.path.join(folder, "config.json")) as file:
        config = json.load(file)
    tensors = {
        k: v.astype("float64")
        for k, v in load_file(f"{folder}/model.safetensors").items()
    }
    prefix = "" if "embeddings.word_embeddings.weight" in tensors else "bert."
    w = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    activation = {
        "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
        "gelu_new": lambda x: (
            0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        ),
    }[config["hidden_act"]]

    def linear(x, name):  # torch.nn.Linear: weight [out, in]
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def layer_norm(x, name):
        mean = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    ids, segments = inputs["token_ids"], inputs["segment_ids"]
    length = ids.shape[1]
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
        + w["embeddings.token_type_embeddings.weight"][segments]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    bias = (1.0 - inputs["padding_mask"][:, None, None, :]) * np.finfo("float32").min
    for i in range(config["num_hidden_layers"]):
        name = f"encoder.layer.{i}"

        def split(t):
            return t.reshape(t.shape[0], length, heads, -1).transpose(0, 2, 1, 3)

        q, k, v = (
            split(linear(x, f"{name}.attention.self.{part}"))
            for part in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1]) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(x.shape)
        x = layer_norm(
            linear(context, f"{name}.attention.output.dense") + x,
            f"{name}.attention.output.LayerNorm",
        )
        hidden = activation(linear(x, f"{name}.intermediate.dense"))
        x = layer_norm(
            linear(hidden, f"{name}.output.dense") + x, f"{name}.output.LayerNorm"
        )
    pooled = np.tanh(linear(x[:, 0], "pooler.dense"))
    return x, pooled, tensors, config


def max_diff(a, b, mask=None):
    difference = np.abs(np.asarray(a, "float64") - np.asarray(b, "float64"))
    if mask is not None:
        difference = difference[mask.astype(bool)]
    return float(difference.max())


# --------------------------------------------------------------------------
# The tests.


def test_backbone_round_trip_is_exact(bert, tmp_path):
    backbone, preprocessor = bert
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    inputs = batch(len(VOCAB))
    expected = keras_outputs(backbone, inputs)

    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert config["model_type"] == "bert"
    assert (
        config["hidden_size"],
        config["num_hidden_layers"],
        config["num_attention_heads"],
        config["intermediate_size"],
        config["max_position_embeddings"],
        config["type_vocab_size"],
        config["vocab_size"],
    ) == (16, 2, 2, 32, 64, 2, len(VOCAB))
    assert config["tlnlp_tf"]["not_exported"] == []

    for reloaded in (
        tl.load_backbone(folder)[0],
        keras_hub.models.BertBackbone.from_preset(str(folder)),
    ):
        outputs = keras_outputs(reloaded, inputs)
        for name in ("sequence_output", "pooled_output"):
            assert max_diff(outputs[name], expected[name]) < 1e-5, name

    # As transformers would run it: standard names, [out, in] layouts, the
    # activation the config names.
    sequence, pooled, tensors, _ = hf_bert(folder, inputs)
    assert "encoder.layer.1.attention.self.query.weight" in tensors
    assert max_diff(sequence, expected["sequence_output"]) < 1e-5
    assert max_diff(pooled, expected["pooled_output"]) < 1e-5


def test_hidden_act_names_the_gelu_keras_hub_computes(bert, tmp_path):
    # keras-hub's BertBackbone uses the tanh GELU; HF's "gelu" is the exact one
    # and would move the outputs by more than the round trip allows.
    backbone, preprocessor = bert
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    inputs = batch(len(VOCAB))
    expected = keras_outputs(backbone, inputs)["sequence_output"]
    config_path = tmp_path / "hf" / "config.json"
    config = json.loads(config_path.read_text())
    assert config["hidden_act"] == "gelu_new"
    config["hidden_act"] = "gelu"
    config_path.write_text(json.dumps(config))
    sequence, *_ = hf_bert(folder, inputs)
    assert max_diff(sequence, expected, inputs["padding_mask"]) > 1e-4


def test_lora_factors_are_folded_into_the_kernels(bert, tmp_path):
    backbone, preprocessor = bert
    tl.backbones.apply_freeze(backbone, "lora-2", lora_targets=["query", "value"])
    factors = [w for w in backbone.weights if w.name.startswith("lora_kernel")]
    assert factors
    for i, factor in enumerate(factors):  # LoRA's b starts at zero: train it
        factor.assign(np.random.default_rng(i).normal(0, 0.3, factor.shape))
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    inputs = batch(len(VOCAB))
    expected = keras_outputs(backbone, inputs)["sequence_output"]
    sequence, _, tensors, _ = hf_bert(folder, inputs)
    assert not any("lora" in name for name in tensors)
    assert max_diff(sequence, expected) < 1e-5


def test_tokenizer_files_round_trip(bert, tiny_hf_folder, tmp_path):
    backbone, preprocessor = bert
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    assert (tmp_path / "hf" / "vocab.txt").read_text().splitlines() == VOCAB
    tokenizer_config = json.loads(
        (tmp_path / "hf" / "tokenizer_config.json").read_text()
    )
    assert tokenizer_config["do_lower_case"] is True
    assert tokenizer_config["strip_accents"] is False
    special = json.loads((tmp_path / "hf" / "special_tokens_map.json").read_text())
    assert special == {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    _, reloaded = tl.load_backbone(folder)
    original = preprocessor.tokenizer(TEXTS)
    assert reloaded.tokenizer(TEXTS) == original
    assert original[0][:2] == [VOCAB.index("the"), VOCAB.index("film")]  # lowercased
    assert np.array_equal(
        reloaded(TEXTS)["token_ids"], preprocessor(TEXTS)["token_ids"]
    )


def test_a_backbone_without_tokenizer_warns(bert, tmp_path):
    backbone, _ = bert
    with pytest.warns(UserWarning, match="tokenizer"):
        export_huggingface(backbone, tmp_path / "hf")
    assert not (tmp_path / "hf" / "vocab.txt").exists()
    assert keras_hub.models.BertBackbone.from_preset(str(tmp_path / "hf"))


def test_pooled_text_classifier_exports_its_head(bert, tmp_path):
    backbone, preprocessor = bert
    model = tl.TextClassifier(
        backbone, labels=["neg", "pos"], preprocessor=preprocessor, pooling="pooled"
    )
    perturbed(model.head, 2)  # as if fine-tuned: the head is not at its init
    folder = export_huggingface(model, tmp_path / "hf")

    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert config["label2id"] == {"neg": 0, "pos": 1}
    inputs = batch(len(VOCAB))
    logits = np.asarray(model(inputs, training=False))
    # BertForSequenceClassification: classifier(dropout(pooler(h[:, 0]))).
    _, pooled, tensors, _ = hf_bert(folder, inputs)
    assert "bert.embeddings.word_embeddings.weight" in tensors
    assert tensors["classifier.weight"].shape == (2, 16)
    hf_logits = pooled @ tensors["classifier.weight"].T + tensors["classifier.bias"]
    assert max_diff(hf_logits, logits) < 1e-5
    # The `bert.` prefix reads back into Keras.
    expected = keras_outputs(backbone, inputs)["sequence_output"]
    reloaded, _ = tl.load_backbone(folder)
    assert max_diff(keras_outputs(reloaded, inputs)["sequence_output"], expected) < 1e-5


def test_token_classifier_exports_its_head(bert, tmp_path):
    backbone, preprocessor = bert
    tags = ["O", "B-PER", "I-PER"]
    model = tl.TokenClassifier(
        backbone, tags, TokenClassifierPreprocessor(preprocessor.tokenizer, 64)
    )
    perturbed(model.head, 3)
    folder = export_huggingface(model, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    assert config["id2label"] == {"0": "O", "1": "B-PER", "2": "I-PER"}
    inputs = batch(len(VOCAB))
    logits = np.asarray(model(inputs, training=False))
    # BertForTokenClassification: classifier(dropout(sequence_output)).
    sequence, _, tensors, _ = hf_bert(folder, inputs)
    hf_logits = sequence @ tensors["classifier.weight"].T + tensors["classifier.bias"]
    assert max_diff(hf_logits, logits, inputs["padding_mask"]) < 1e-5
    assert (tmp_path / "hf" / "vocab.txt").exists()


def test_mean_pooled_classifier_exports_the_backbone_only(bert, tmp_path):
    backbone, preprocessor = bert
    model = tl.TextClassifier(backbone, ["neg", "pos"], preprocessor, pooling="mean")
    with pytest.warns(UserWarning, match="pooling='mean'"):
        folder = export_huggingface(model, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert "pooling='mean'" in config["tlnlp_tf"]["not_exported"][0]
    tensors = load_file(os.path.join(folder, "model.safetensors"))
    assert not any(name.startswith("classifier") for name in tensors)
    # A re-export into the same folder is allowed; other folders are not.
    export_huggingface(backbone, folder, tokenizer=preprocessor)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        export_huggingface(backbone, tmp_path / "other", tokenizer=preprocessor)


def test_unsupported_models_are_a_backbone_error(tmp_path):
    with pytest.raises(tl.BackboneError, match="BertBackbone") as error:
        export_huggingface(tiny_causal_lm(), tmp_path / "hf")
    assert "GPT2Backbone" in str(error.value)
    assert "export_to_transformers" in str(error.value)
    with pytest.raises(tl.BackboneError, match="BERT-family"):
        export_huggingface("minilm", tmp_path / "hf")
    assert not (tmp_path / "hf").exists()

"""`export_huggingface` on MPNet: Keras MPNet models out as Hugging Face folders.

Checked three ways: the tensors of a Hugging Face folder loaded and exported
again are the ones it started with (names, shapes, values); a numpy
transcription of Hugging Face's MPNet forward pass (`test_mpnet`) run on the
exported tensors gives the Keras outputs of a trained (perturbed) model; and
the folder loads back with `tl.load_backbone`.
"""

import json

import numpy as np
import pytest
from conftest import mpnet_hf_weights
from safetensors.numpy import load_file
from test_export_huggingface import perturbed
from test_mpnet import _reference_forward

import tlnlp_tf as tl
from tlnlp_tf.backbones.loading import is_sentence_encoder
from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone
from tlnlp_tf.export import export_huggingface
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor

TEXTS = ["the film was very good .", "dull", "Café owners loved it"]


def inputs_of(preprocessor, texts=TEXTS, length=12):
    preprocessor.sequence_length = length
    return {k: np.asarray(v) for k, v in preprocessor(texts).items()}


def float64_tensors(folder):
    return {
        k: v.astype("float64")
        for k, v in load_file(f"{folder}/model.safetensors").items()
    }


def test_import_then_export_gives_back_the_same_tensors(tiny_mpnet_folder, tmp_path):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    exported = load_file(f"{folder}/model.safetensors")
    original = mpnet_hf_weights(np.random.default_rng(0))
    assert sorted(exported) == sorted(original)
    for name, value in original.items():
        np.testing.assert_allclose(exported[name], value, atol=1e-6, err_msg=name)

    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    source = json.loads(open(f"{tiny_mpnet_folder}/config.json").read())
    assert config["architectures"] == ["MPNetModel"]
    for field in (
        "model_type",
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "relative_attention_num_buckets",
        "pad_token_id",
        "hidden_act",
    ):
        assert config[field] == source[field], field
    settings = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert settings["tokenizer_class"] == "MPNetTokenizer"
    assert (settings["cls_token"], settings["sep_token"]) == ("<s>", "</s>")
    assert (settings["pad_token"], settings["unk_token"]) == ("<pad>", "[UNK]")
    assert (tmp_path / "hf" / "vocab.txt").read_text() == (
        open(f"{tiny_mpnet_folder}/vocab.txt").read()
    )


def test_a_trained_backbone_round_trips(tiny_mpnet_folder, tmp_path):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    perturbed(backbone, 1)
    folder = export_huggingface(backbone, tmp_path / "hf", tokenizer=preprocessor)
    inputs = inputs_of(preprocessor)
    expected = np.asarray(backbone(inputs, training=False)["sequence_output"])
    real = inputs["padding_mask"].astype(bool)

    tensors = float64_tensors(folder)
    reference = _reference_forward(
        tensors, inputs["token_ids"], inputs["padding_mask"].astype("float64")
    )
    np.testing.assert_allclose(reference[real], expected[real], atol=2e-4)

    reloaded, again = tl.load_backbone(folder)
    assert isinstance(reloaded, MPNetBackbone)
    assert np.array_equal(inputs_of(again)["token_ids"], inputs["token_ids"])
    outputs = reloaded(inputs, training=False)
    for name in ("sequence_output", "pooled_output"):
        expected_output = np.asarray(backbone(inputs, training=False)[name])
        np.testing.assert_allclose(
            np.asarray(outputs[name]), expected_output, atol=1e-5
        )


def test_pooled_classifier_becomes_mpnet_for_sequence_classification(
    tiny_mpnet_folder, tmp_path
):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    model = tl.TextClassifier(
        backbone, ["neg", "pos"], preprocessor=preprocessor, pooling="pooled"
    )
    perturbed(model, 2)
    folder = export_huggingface(model, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["MPNetForSequenceClassification"]
    assert config["id2label"] == {"0": "neg", "1": "pos"}

    inputs = inputs_of(preprocessor)
    logits = np.asarray(model(inputs, training=False))
    # MPNetClassificationHead: out_proj(tanh(dense(h[:, 0]))), dropout aside.
    tensors = float64_tensors(folder)
    body = {k[len("mpnet.") :]: v for k, v in tensors.items() if k.startswith("mpnet.")}
    sequence = _reference_forward(
        body, inputs["token_ids"], inputs["padding_mask"].astype("float64")
    )
    first = sequence[:, 0]
    hidden = np.tanh(
        first @ tensors["classifier.dense.weight"].T + tensors["classifier.dense.bias"]
    )
    hf_logits = (
        hidden @ tensors["classifier.out_proj.weight"].T
        + tensors["classifier.out_proj.bias"]
    )
    np.testing.assert_allclose(hf_logits, logits, atol=2e-4)


def test_token_classifier_and_mean_pooled_classifier(tiny_mpnet_folder, tmp_path):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    tagger = tl.TokenClassifier(
        backbone,
        ["O", "B-PER"],
        TokenClassifierPreprocessor(preprocessor.tokenizer, 16),
    )
    export_huggingface(tagger, tmp_path / "tagger")
    config = json.loads((tmp_path / "tagger" / "config.json").read_text())
    assert config["architectures"] == ["MPNetForTokenClassification"]
    tensors = load_file(str(tmp_path / "tagger" / "model.safetensors"))
    assert tensors["classifier.weight"].shape == (2, backbone.hidden_dim)
    assert "mpnet.encoder.relative_attention_bias.weight" in tensors

    mean = tl.TextClassifier(backbone, ["neg", "pos"], preprocessor, pooling="mean")
    with pytest.warns(UserWarning, match="MPNetForSequenceClassification"):
        export_huggingface(mean, tmp_path / "mean")
    config = json.loads((tmp_path / "mean" / "config.json").read_text())
    assert config["architectures"] == ["MPNetModel"]


def test_a_backbone_hugging_face_cannot_run_is_refused(tmp_path):
    backbone = MPNetBackbone(
        vocabulary_size=20,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_distance=64,
    )
    with pytest.raises(tl.BackboneError, match="128"):
        export_huggingface(backbone, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_a_sentence_encoder_exports_as_a_sentence_transformers_model(
    tiny_mpnet_folder, tmp_path
):
    model = tl.TextClassifier.from_backbone(
        tiny_mpnet_folder, ["neg", "pos"], freeze="none", max_length=24
    )
    assert model.head.pooling == "mean"
    with pytest.warns(UserWarning, match="pooling='mean'"):
        folder = export_huggingface(model, tmp_path / "hf")
    modules = json.loads((tmp_path / "hf" / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling"]
    pooling = json.loads((tmp_path / "hf" / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True
    assert pooling["word_embedding_dimension"] == model.backbone.hidden_dim
    settings = json.loads((tmp_path / "hf" / "sentence_bert_config.json").read_text())
    assert settings["max_seq_length"] == 24
    # Known as a sentence model again: freeze="auto" and pooling="auto" agree.
    assert is_sentence_encoder(folder)
    assert tl.backbones.default_pooling(folder) == "mean"

    # A backbone exported over it leaves no stale sentence-transformers files.
    export_huggingface(model.backbone, folder, tokenizer=model.preprocessor)
    assert not (tmp_path / "hf" / "modules.json").exists()
    assert not (tmp_path / "hf" / "1_Pooling").exists()
    assert not is_sentence_encoder(folder)

    pooled = tl.TextClassifier(
        model.backbone, ["neg", "pos"], model.preprocessor, pooling="pooled"
    )
    export_huggingface(pooled, tmp_path / "pooled")
    assert not (tmp_path / "pooled" / "modules.json").exists()

"""MPNet: the backbone against a NumPy transcription of Hugging Face's forward
pass, the tokenizer's special tokens, loading, errors, and the library around it."""

import json
import math
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import HEADS
from conftest import LAYERS
from conftest import mpnet_hf_weights
from conftest import toy_examples

import tlnlp_tf as tl
from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone
from tlnlp_tf.backbones.relative_attention import relative_position_buckets
from tlnlp_tf.errors import BackboneError


def _bucket(relative, num_buckets=32, max_distance=128):
    """Hugging Face's `MPNetEncoder.relative_position_bucket`, for one distance."""
    n = -relative
    half = num_buckets // 2
    bucket = half if n < 0 else 0
    n = abs(n)
    exact = half // 2
    if n < exact:
        return bucket + n
    large = exact + int(
        math.log(n / exact) / math.log(max_distance / exact) * (half - exact)
    )
    return bucket + min(large, half - 1)


def test_relative_buckets_match_the_reference_formula():
    length = 300
    buckets = np.asarray(relative_position_buckets(length))
    expected = np.array(
        [[_bucket(k - q) for k in range(length)] for q in range(length)]
    )
    np.testing.assert_array_equal(buckets, expected)
    assert buckets[0, 1] == 17 and buckets[1, 0] == 1  # key after / before the query
    assert buckets[299, 0] == 15 and buckets[0, 299] == 31  # beyond 128: the last


def _reference_forward(weights, token_ids, mask, heads=HEADS, layers=LAYERS):
    """Hugging Face's MPNetModel forward pass in NumPy (mean-pooled output too)."""

    def norm(x, name, eps=1e-5):
        mean = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * weights[name + ".weight"] + weights[
            name + ".bias"
        ]

    def dense(x, name):
        return x @ weights[name + ".weight"].T + weights[name + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))

    positions = np.cumsum(token_ids != 1, axis=1) * (token_ids != 1) + 1
    x = weights["embeddings.word_embeddings.weight"][token_ids]
    x = norm(
        x + weights["embeddings.position_embeddings.weight"][positions],
        "embeddings.LayerNorm",
    )
    length = token_ids.shape[1]
    buckets = np.array([[_bucket(k - q) for k in range(length)] for q in range(length)])
    bias = weights["encoder.relative_attention_bias.weight"][buckets].transpose(2, 0, 1)
    batch, _, hidden = x.shape
    size = hidden // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def split(t):
            return t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

        q = split(dense(x, p + "attention.attn.q"))
        k = split(dense(x, p + "attention.attn.k"))
        v = split(dense(x, p + "attention.attn.v"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias[None]
        scores = scores + (1.0 - mask[:, None, None, :]) * -1e9
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities = scores / scores.sum(-1, keepdims=True)
        context = (
            (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        )
        x = norm(dense(context, p + "attention.attn.o") + x, p + "attention.LayerNorm")
        inner = dense(gelu(dense(x, p + "intermediate.dense")), p + "output.dense")
        x = norm(inner + x, p + "output.LayerNorm")
    return x


def test_backbone_matches_the_reference_forward_pass(tiny_mpnet_folder):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    assert isinstance(backbone, MPNetBackbone)
    preprocessor.sequence_length = 12
    inputs = preprocessor(["the film was very good .", "dull"])
    token_ids = np.asarray(inputs["token_ids"])
    mask = np.asarray(inputs["padding_mask"]).astype("float32")
    outputs = backbone(inputs)["sequence_output"]
    weights = mpnet_hf_weights(np.random.default_rng(0))
    expected = _reference_forward(weights, token_ids, mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(np.asarray(outputs)[real], expected[real], atol=2e-4)


def test_tokenizer_packs_single_texts_and_pairs_like_mpnet(tiny_mpnet_folder):
    _, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    preprocessor.sequence_length = 10
    vocabulary = preprocessor.tokenizer.get_vocabulary()
    single = preprocessor(["The FILM wás good"])
    tokens = [vocabulary[i] for i in np.asarray(single["token_ids"])[0]]
    assert tokens == ["<s>", "the", "film", "was", "good", "</s>"] + ["<pad>"] * 4
    assert "segment_ids" not in single
    assert np.asarray(single["padding_mask"])[0].tolist() == [1] * 6 + [0] * 4
    pair = preprocessor(x=(tf.constant(["the film"]), tf.constant(["dull"])))
    tokens = [vocabulary[i] for i in np.asarray(pair["token_ids"])[0]]
    assert tokens[:7] == ["<s>", "the", "film", "</s>", "</s>", "dull", "</s>"]
    tokenizer = preprocessor.tokenizer
    assert (
        tokenizer.start_token_id,
        tokenizer.end_token_id,
        tokenizer.pad_token_id,
    ) == (0, 2, 1)


def test_random_weights_and_checkpoint_errors(tiny_mpnet_folder, tmp_path):
    pretrained, _ = tl.load_backbone(tiny_mpnet_folder)
    scratch, _ = tl.load_backbone(tiny_mpnet_folder, weights="random")
    assert scratch.count_params() == pretrained.count_params()
    first = pretrained.token_embedding.embeddings.numpy()
    assert not np.allclose(scratch.token_embedding.embeddings.numpy(), first)

    from safetensors.numpy import save_file

    broken = tmp_path / "broken"
    shutil.copytree(tiny_mpnet_folder, broken)
    weights = mpnet_hf_weights(np.random.default_rng(0))
    del weights["encoder.layer.1.attention.attn.k.weight"]
    save_file(weights, str(broken / "model.safetensors"))
    with pytest.raises(
        BackboneError, match=r"encoder\.layer\.1\.attention\.attn\.k\.weight"
    ):
        tl.load_backbone(str(broken))
    config = json.loads((broken / "config.json").read_text())
    config["hidden_act"] = "relu"
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(BackboneError, match="hidden_act 'relu'"):
        tl.load_backbone(str(broken))
    os.remove(broken / "vocab.txt")
    with pytest.raises(BackboneError, match="missing 'vocab.txt'"):
        tl.load_backbone(str(broken))


def test_prefixed_checkpoint_names_load(tiny_mpnet_folder, tmp_path):
    """`MPNetForMaskedLM` checkpoints name their tensors `mpnet.…`."""
    from safetensors.numpy import save_file

    folder = tmp_path / "prefixed"
    shutil.copytree(tiny_mpnet_folder, folder)
    weights = mpnet_hf_weights(np.random.default_rng(0), prefix="mpnet.")
    save_file(weights, str(folder / "model.safetensors"))
    backbone, _ = tl.load_backbone(str(folder))
    np.testing.assert_allclose(
        backbone.token_embedding.embeddings.numpy(),
        weights["mpnet.embeddings.word_embeddings.weight"],
    )


def test_freezing_lora_and_attention_dropout_see_the_layers(tiny_mpnet_folder):
    backbone, _ = tl.load_backbone(tiny_mpnet_folder)
    groups = tl.backbones.layer_groups(backbone)
    assert list(groups) == ["embeddings", "layer_0", "layer_1", "pooler"]
    names = {layer.name for layer in groups["embeddings"]}
    assert {"token_embedding", "position_embedding", "relative_position_bias"} <= names
    assert tl.backbones.attention_dropout(backbone) == pytest.approx(0.1)
    tl.backbones.set_attention_dropout(backbone, 0.0)
    assert tl.backbones.attention_dropout(backbone) == 0.0
    tl.backbones.apply_freeze(backbone, "lora-2")
    trainable = {w.path.split("/")[-1] for w in backbone.trainable_weights}
    assert trainable == {"lora_kernel_a", "lora_kernel_b"}
    assert len(backbone.trainable_weights) == 2 * 2 * LAYERS  # query and value


def test_keras_hub_preset_round_trip(tiny_mpnet_folder, tmp_path):
    backbone, preprocessor = tl.load_backbone(tiny_mpnet_folder)
    folder = str(tmp_path / "preset")
    backbone.save_to_preset(folder)
    preprocessor.save_to_preset(folder)
    again, preprocessor_again = tl.load_backbone(folder)
    assert isinstance(again, MPNetBackbone)
    inputs = preprocessor_again(["the plot was dull ."])
    np.testing.assert_allclose(
        np.asarray(again(inputs)["sequence_output"]),
        np.asarray(backbone(inputs)["sequence_output"]),
        atol=1e-6,
    )


def test_classifier_on_mpnet_trains_and_saves(tiny_mpnet_folder, tmp_path):
    texts, labels = toy_examples(32)
    model = tl.TextClassifier.from_backbone(
        tiny_mpnet_folder, labels=["neg", "pos"], freeze="none", max_length=16
    )
    model.compile(learning_rate=1e-3)
    model.fit(tl.data.from_lists(texts, labels).batch(8), epochs=1, verbose=0)
    path = str(tmp_path / "mpnet.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    probe = ["the film was very good .", "the food was awful ."]
    np.testing.assert_allclose(
        np.asarray(again.predict(probe)["probabilities"]),
        np.asarray(model.predict(probe)["probabilities"]),
        atol=1e-5,
    )


@pytest.mark.extended
def test_setfit_on_mpnet_runs(tiny_mpnet_folder):
    texts, labels = toy_examples(16)
    model = tl.TextClassifier.from_backbone(
        tiny_mpnet_folder, labels=["neg", "pos"], freeze="setfit", max_length=16
    )
    model.compile(learning_rate=1e-3)
    model.fit(
        tl.data.from_lists(texts, labels).batch(8), contrastive_iterations=2, verbose=0
    )
    accuracy = np.mean(
        np.asarray(model.predict(texts)["label"]).astype(str) == np.asarray(labels)
    )
    assert accuracy >= 0.75


@pytest.mark.extended
def test_every_task_builds_and_predicts_on_mpnet(tiny_mpnet_folder):
    """MPNet has no segment ids: the pair and span preprocessors must not need them."""
    folder = tiny_mpnet_folder
    tagger = tl.TokenClassifier.from_backbone(folder, tags=["O", "B-X", "I-X"])
    assert len(tagger.predict(["the film was good"])) == 1
    span = tl.SpanExtractor.from_backbone(folder)
    answer = span.predict(
        [{"question": "what was good", "context": "the film was good ."}]
    )
    assert answer[0]["answer"] in "the film was good ."
    regressor = tl.TextRegressor.from_backbone(folder)
    assert regressor.predict((["the film"], ["the movie"]))["value"].shape == (1,)
    roles = tl.RoleLabeler.from_backbone(folder, tags=["O", "B-V"])
    assert len(roles.predict(["cats sleep"], predicate_index=[1])) == 1

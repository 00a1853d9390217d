"""EncoderDecoderLM: warm starts, training, generation, saving, on a tiny BERT."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import WORDS

import tlnlp_tf as tl
from tlnlp_tf.backbones.warm_start import ATTENTION_PARTS
from tlnlp_tf.backbones.warm_start import BLOCK_PARTS
from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM

COPY_WORDS = [w for w in WORDS if w != "."][:12]


def copy_pairs(count=16, seed=0):
    """`count` (source, target) pairs where the target repeats the source."""
    rng = np.random.default_rng(seed)
    sources = [" ".join(rng.choice(COPY_WORDS, size=3)) for _ in range(count)]
    return sources, list(sources)


def values(layer):
    return {w.name: keras.ops.convert_to_numpy(w) for w in layer.weights}


def checkpoint(preset):
    encoder, _ = tl.load_backbone(preset)
    return encoder


@pytest.fixture(scope="module")
def trained(tiny_preset):
    """A bert2bert model fit on the copy task (150 steps), and its history."""
    keras.utils.set_random_seed(0)
    model = EncoderDecoderLM.from_backbone(tiny_preset)
    model.compile(learning_rate=1e-2)
    sources, targets = copy_pairs()
    data = tf.data.Dataset.from_tensor_slices((sources, targets))
    data = data.shuffle(16, seed=0).repeat().batch(8)  # one pipeline, 150 steps
    history = model.fit(data, epochs=3, steps_per_epoch=50, verbose=0)
    return model, history.history


def test_bert2bert_copies_exactly_the_checkpoint_layers(tiny_preset):
    model = EncoderDecoderLM.from_backbone(tiny_preset)
    encoder = checkpoint(tiny_preset)
    decoder = model.decoder
    for part in ("token_embedding", "position_embedding", "segment_embedding"):
        target, source = values(getattr(decoder, part)), values(getattr(encoder, part))
        assert np.array_equal(target["embeddings"], source["embeddings"]), part
    for name, value in values(decoder.embeddings_layer_norm).items():
        assert np.array_equal(value, values(encoder.embeddings_layer_norm)[name])
    checkpoint_values = [keras.ops.convert_to_numpy(w) for w in encoder.weights]
    for block, source in zip(decoder.transformer_layers, encoder.transformer_layers):
        pairs = [
            (
                getattr(block._self_attention_layer, p),
                getattr(source._self_attention_layer, p),
            )
            for p in ATTENTION_PARTS
        ] + [(getattr(block, p), getattr(source, p)) for p in BLOCK_PARTS]
        for target, origin in pairs:
            for name, value in values(target).items():
                assert np.array_equal(value, values(origin)[name]), target.path
        # The cross-attention is new: equal to no weight of the checkpoint.
        for weight in block._cross_attention_layer.weights:
            value = keras.ops.convert_to_numpy(weight)
            if "kernel" in weight.name:
                assert not any(
                    v.shape == value.shape and np.allclose(v, value)
                    for v in checkpoint_values
                ), weight.path
    report = model.warm_start_report
    assert report["new"] and all("cross_attention" in p for p in report["new"])
    # 4 embedding weights + per layer 8 attention + 2 + 4 + 2 other variables.
    assert len(report["copied"]) == 5 + 2 * 16
    assert model.backbone.count_params() == encoder.count_params()


def test_bert2rnd_and_rnd2rnd_start_random_where_the_paper_says(tiny_preset):
    encoder = checkpoint(tiny_preset)
    query = values(encoder.transformer_layers[0]._self_attention_layer._query_dense)
    bert2rnd = EncoderDecoderLM.from_backbone(tiny_preset, variant="bert2rnd")
    decoder_query = values(
        bert2rnd.decoder.transformer_layers[0]._self_attention_layer._query_dense
    )
    assert not np.allclose(decoder_query["kernel"], query["kernel"])
    encoder_query = values(
        bert2rnd.backbone.transformer_layers[0]._self_attention_layer._query_dense
    )
    assert np.array_equal(encoder_query["kernel"], query["kernel"])
    assert bert2rnd.warm_start_report["copied"] == {}

    rnd2rnd = EncoderDecoderLM.from_backbone(tiny_preset, variant="rnd2rnd")
    random_query = values(
        rnd2rnd.backbone.transformer_layers[0]._self_attention_layer._query_dense
    )
    assert not np.allclose(random_query["kernel"], query["kernel"])
    # The same architecture in all three.
    counts = [m.count_params() for m in (bert2rnd, rnd2rnd)]
    assert counts[0] == counts[1]


def test_share_weights_shares_variables_not_the_cross_attention(tiny_preset):
    model = EncoderDecoderLM.from_backbone(tiny_preset, share_weights=True)
    separate = EncoderDecoderLM.from_backbone(tiny_preset)
    encoder, decoder = model.backbone, model.decoder
    assert decoder.token_embedding is encoder.token_embedding
    first, source = decoder.transformer_layers[0], encoder.transformer_layers[0]
    assert (
        first._self_attention_layer._query_dense.kernel
        is source._self_attention_layer._query_dense.kernel
    )
    assert first._feedforward_layer_norm is source._feedforward_layer_norm
    ids = {id(w) for w in encoder.weights}
    assert all(id(w) not in ids for w in first._cross_attention_layer.weights)
    shared = len(model.weights)
    assert shared < len(separate.weights)
    assert all("cross_attention" in p for p in model.warm_start_report["new"])
    # One policy for both sides when they share layers.
    with pytest.raises(tl.PolicyError, match="share_weights"):
        EncoderDecoderLM.from_backbone(
            tiny_preset, share_weights=True, freeze={"encoder": "all"}
        )


def test_fit_lowers_the_loss_and_learns_to_copy(trained):
    model, history = trained
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.source_length == model.target_length == 8  # from the data
    sources, targets = copy_pairs()
    logs = model.evaluate(sources, targets, return_dict=True, verbose=0)
    assert logs["token_accuracy"] > 0.7
    copies = model.generate(sources, max_new_tokens=6)
    assert sum(c == s for c, s in zip(copies, sources)) >= 4


def test_generation_with_cache_equals_full_recompute(trained):
    model, _ = trained
    sources, _ = copy_pairs(6, seed=1)
    greedy = model.generate(sources, max_new_tokens=6)
    assert greedy == model.generate(sources, max_new_tokens=6, use_cache=False)
    beam = model.generate(sources, max_new_tokens=6, sampler="beam", num_beams=3)
    assert beam == model.generate(
        sources, max_new_tokens=6, sampler="beam", num_beams=3, use_cache=False
    )
    assert all(isinstance(text, str) for text in greedy + beam)
    assert isinstance(model.generate(sources[0], max_new_tokens=4), str)


def test_saved_model_generates_the_same(trained, tmp_path):
    model, _ = trained
    sources, _ = copy_pairs(4, seed=2)
    expected = model.generate(sources, max_new_tokens=6)
    path = str(tmp_path / "copy.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EncoderDecoderLM)
    assert loaded.get_config()["target_length"] == model.target_length
    assert loaded.generate(sources, max_new_tokens=6) == expected
    weight = model.backbone.trainable_weights[0]
    assert loaded.optimizer.multiplier(weight.path) == 0.1  # the encoder's rate


@pytest.mark.extended
def test_new_target_vocabulary(tiny_preset):
    german = ["Ein Hund läuft .", "Zwei Männer lachen .", "Eine Frau schläft ."] * 4
    tokens = EncoderDecoderLM.learn_vocabulary(german, vocabulary_size=60)
    assert "[CLS]" in tokens and "ä" in "".join(tokens)
    model = EncoderDecoderLM.from_backbone(
        tiny_preset, target_vocabulary=tokens, metric="bleu"
    )
    decoder = model.decoder
    assert decoder.token_embedding.input_dim == len(tokens)
    report = model.warm_start_report
    assert any(p.startswith(decoder.token_embedding.path) for p in report["new"])
    assert any("position_embedding" in p for p in report["copied"])
    assert model.decoder.token_embedding.trainable
    english = ["the film was good ."] * 12
    model.fit(english, german, batch_size=6, epochs=1, verbose=0)
    (output,) = model.generate(["the film was good ."], max_new_tokens=5)
    assert isinstance(output, str)
    assert model.output_tokenizer() is model.target_tokenizer


def test_long_sources_are_truncated_and_counted(tiny_preset):
    model = EncoderDecoderLM.from_backbone(tiny_preset, source_length=8)
    long = " ".join(COPY_WORDS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.count_truncated([long, "good"]) == 1
    assert any("1 of 2 sources" in str(w.message) for w in caught)


def test_freeze_policies_per_side_keep_the_cross_attention_training(tiny_preset):
    model = EncoderDecoderLM.from_backbone(
        tiny_preset, freeze={"encoder": "all", "decoder": "bottom-1"}
    )
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for w in model.backbone.weights)
    first, second = model.decoder.transformer_layers
    assert not any(id(w) in trainable for w in first._self_attention_layer.weights)
    assert all(id(w) in trainable for w in first._cross_attention_layer.weights)
    assert all(id(w) in trainable for w in second.weights)
    assert model.freeze == {"encoder": "all", "decoder": "bottom-1"}

    model.set_freeze("lora-2")
    names = {w.name for w in model.trainable_weights if w.name.startswith("lora")}
    assert names == {"lora_kernel_a", "lora_kernel_b"}
    lora = tl.backbones.lora_layers
    assert len(lora(model.backbone)) == 4 and len(lora(model.decoder)) == 4
    trainable = {id(w) for w in model.trainable_weights}
    assert all(id(w) in trainable for w in first._cross_attention_layer.weights)


@pytest.mark.extended
def test_lora_adapters_round_trip(tiny_preset, tmp_path):
    model = EncoderDecoderLM.from_backbone(tiny_preset, freeze="lora-2")
    for weight in model.trainable_weights:
        weight.assign(keras.random.normal(weight.shape, seed=1) * 0.1)
    path = str(tmp_path / "copy.adapters.npz")
    model.save_adapters(path)
    fresh = EncoderDecoderLM.from_backbone(tiny_preset, freeze="lora-2")
    fresh.load_adapters(path)
    for a, b in zip(model.weights, fresh.weights):
        assert np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # Folded into the kernels: a plain model that scores and generates the same.
    merged = fresh.merge_adapters()
    assert merged.freeze == {"encoder": "all", "decoder": "all"}
    assert not tl.backbones.lora_layers(merged.backbone)
    assert not tl.backbones.lora_layers(merged.decoder)
    assert not any(w.name.startswith("lora") for w in merged.weights)
    sources, targets = copy_pairs(8)
    assert merged.evaluate(sources, targets, verbose=0, return_dict=True)[
        "loss"
    ] == pytest.approx(
        fresh.evaluate(sources, targets, verbose=0, return_dict=True)["loss"], 1e-5
    )
    assert merged.generate(sources[:4], max_new_tokens=3) == fresh.generate(
        sources[:4], max_new_tokens=3
    )
    with pytest.raises(tl.PolicyError, match="has no LoRA factors"):
        fresh.merge_adapters(freeze={"encoder": "all", "decoder": "lora-2"})
    with pytest.raises(tl.PolicyError, match="need freeze='lora-R'"):
        merged.merge_adapters()


def test_bad_options_are_one_line_errors(tiny_preset, trained):
    model, _ = trained
    cases = [
        (lambda: EncoderDecoderLM.from_backbone(tiny_preset, variant="t5"), "variant"),
        (
            lambda: EncoderDecoderLM.from_backbone(
                tiny_preset, variant="bert2rnd", share_weights=True
            ),
            "bert2bert",
        ),
        (
            lambda: EncoderDecoderLM.from_backbone(tiny_preset, target_length=500),
            "target_length",
        ),
        (
            lambda: EncoderDecoderLM.from_backbone(
                tiny_preset, freeze={"middle": "all"}
            ),
            "unknown side",
        ),
        (lambda: model.generate(["good"], sampler="beam", num_beams=0), "num_beams"),
        (lambda: model.generate(["good"], max_new_tokens=1000), "max_new_tokens"),
        (lambda: model.generate(["good"], sampler="nucleus"), "sampler"),
        (lambda: model.set_freeze("top-2"), "freeze policy"),
    ]
    for build, message in cases:
        with pytest.raises(tl.PolicyError, match=message) as error:
            build()
        assert "\n" not in str(error.value)
    unbatched = tf.data.Dataset.from_tensor_slices((["good"], ["good"]))
    with pytest.raises(tl.DataError, match="batch the dataset first"):
        model.fit(unbatched)
    with pytest.raises(tl.DataError, match="target 1 is empty"):
        model.fit(["good", "bad"], ["good", " "])
    with pytest.raises(tl.DataError, match="2 sources but 1 targets"):
        model.evaluate(["good", "bad"], ["good"])


def test_score_reports_the_task_metric(trained):
    pytest.importorskip("tlnlp_tf.metrics.generation")
    model, _ = trained
    sources, targets = copy_pairs(4)
    scores = model.score((sources, targets), max_new_tokens=6)
    assert {"loss", "token_accuracy", "rouge1", "rouge2", "rougeL"} <= set(scores)


def test_layer_decay_per_half_and_a_full_rate_for_the_cross_attention(tiny_preset):
    from tlnlp_tf.backbones.freezing import layer_groups

    model = EncoderDecoderLM.from_backbone(tiny_preset)
    model.compile(learning_rate=1e-3, layer_decay=0.5, encoder_rate=1.0)
    optimizer = model.optimizer
    cross = [w for layer in model.decoder.new_layers() for w in layer.weights]
    for half in (model.backbone, model.decoder):
        groups = layer_groups(half)  # 2 layers: top 0.5, bottom 0.25, embeddings
        for name, expected in (("layer_1", 0.5), ("layer_0", 0.25)):
            for layer in groups[name]:
                for weight in layer.weights:
                    if any(weight is w for w in cross):
                        continue
                    assert optimizer.multiplier(weight.path) == expected, weight.path
        for layer in groups["embeddings"]:
            for weight in layer.weights:
                assert optimizer.multiplier(weight.path) == 0.125, weight.path
    assert cross and all(optimizer.multiplier(w.path) == 1.0 for w in cross)
    assert model.layer_decay_multipliers(0.5) == optimizer.multipliers
    model.compile(learning_rate=1e-3, layer_decay=0.5, encoder_rate=0.2)
    for layer in layer_groups(model.backbone)["layer_1"]:
        for weight in layer.weights:
            assert model.optimizer.multiplier(weight.path) == pytest.approx(0.1)
    with pytest.raises(tl.PolicyError, match="needs optimizer='auto'"):
        model.compile(optimizer="adam", layer_decay=0.5)
    with pytest.raises(tl.PolicyError, match=r"layer decay must be in \(0, 1\]"):
        model.compile(layer_decay=1.5)


def test_warm_encoder_learns_at_a_tenth_of_the_rate_by_default(tiny_preset):
    model = EncoderDecoderLM.from_backbone(tiny_preset)
    model.compile(learning_rate=1e-3)
    encoder = model.backbone.trainable_weights
    assert encoder and model.default_encoder_rate() == 0.1
    assert all(model.optimizer.multiplier(w.path) == 0.1 for w in encoder)
    decoder = [
        w
        for w in model.decoder.trainable_weights
        if w.path not in {v.path for v in model.backbone.weights}
    ]
    assert decoder and all(model.optimizer.multiplier(w.path) == 1.0 for w in decoder)
    for variant in ("rnd2rnd",):
        scratch = EncoderDecoderLM.from_backbone(tiny_preset, variant=variant)
        assert scratch.default_encoder_rate() == 1.0
    lora = EncoderDecoderLM.from_backbone(tiny_preset, freeze={"encoder": "lora-2"})
    assert lora.default_encoder_rate() == 1.0
    for bad in (0, -0.5, float("inf"), float("nan"), True, "fast"):
        with pytest.raises(tl.PolicyError, match=r"encoder_rate=.*above 0.*got"):
            model.compile(encoder_rate=bad)
    with pytest.raises(tl.PolicyError, match="encoder_rate=.*needs optimizer='auto'"):
        model.compile(optimizer="adam", encoder_rate=0.5)
    model.compile(optimizer="adam")  # "auto" leaves a user's optimizer alone


def test_encoder_rate_scales_the_encoders_steps(tiny_preset):
    """One Adam step moves each weight by about the rate: the encoder's by a tenth."""
    sources, targets = copy_pairs(8)

    def encoder_step(**compile_args):
        keras.utils.set_random_seed(0)
        model = EncoderDecoderLM.from_backbone(tiny_preset)
        model.compile(learning_rate=1e-2, **compile_args)
        before = [keras.ops.convert_to_numpy(w) for w in model.backbone.weights]
        model.fit(sources, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
        after = [keras.ops.convert_to_numpy(w) for w in model.backbone.weights]
        return max(np.abs(a - b).max() for a, b in zip(after, before))

    ratio = encoder_step() / encoder_step(encoder_rate=1.0)
    assert 0.05 < ratio < 0.15, ratio


def test_fit_on_a_dataset_gives_keras_one_repeated_dataset_for_all_epochs(
    tiny_preset, monkeypatch
):
    from test_fit_steps import keras_fit_calls

    calls = keras_fit_calls(monkeypatch)
    model = EncoderDecoderLM.from_backbone(tiny_preset)
    data = tf.data.Dataset.from_tensor_slices(copy_pairs(8)).batch(4)
    history = model.fit(data, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert calls == [(tf.data.INFINITE_CARDINALITY, 2)]

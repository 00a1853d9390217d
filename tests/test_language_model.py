"""`LanguageModel` and `load_causal_lm` / `load_seq2seq_lm` on tiny random models.

A 2-layer GPT-2 with a byte-level BPE vocabulary of letters, built here and
saved as a keras-hub preset folder; a 1-layer BART for the seq2seq loader.
"""

import math

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.backbones.causal_lm import load_causal_lm
from tlnlp_tf.backbones.causal_lm import load_seq2seq_lm
from tlnlp_tf.backbones.freezing import LORA_FACTORS
from tlnlp_tf.tasks.language_model import LanguageModel

LETTERS = list("abcdefghijklmnopqrstuvwxyz")
MERGES = ["Ġ t", "h e", "Ġt he", "a t", "Ġ c", "Ġ s", "Ġ m", "o n"]
TOKENS = ["<|endoftext|>", "Ġ"] + LETTERS + ["Ġt", "he", "Ġthe", "at", "Ġc", "Ġs"]
TOKENS += ["Ġm", "on"]
CONTEXT = 32
SUBJECTS = ["the cat", "the dog", "a cat", "a bird"]
VERBS = ["sat on", "ran to", "saw"]
PLACES = ["the mat", "the sea", "a tree", "the moon"]


def sentences(count, seed=0):
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(PLACES)}"
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def gpt2_preset(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("tiny_gpt2"))
    keras.utils.set_random_seed(3)
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(TOKENS)}, merges=MERGES
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(TOKENS),
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=CONTEXT,
        dropout=0.0,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=CONTEXT
    )
    keras_hub.models.GPT2CausalLM(backbone, preprocessor).save_to_preset(folder)
    return folder


def build(preset, **kwargs):
    keras.utils.set_random_seed(0)
    return LanguageModel.from_backbone(preset, **kwargs)


LONG_TEXT = " ".join(["the cat sat on the mat and the dog ran to the sea"] * 2)
HELD_OUT = sentences(6, seed=1)


@pytest.fixture(scope="module")
def fitted(gpt2_preset):
    """A model, its held-out scores before training, and its fit history."""
    model = build(gpt2_preset)
    assert model.context_length == CONTEXT and model.max_length is None
    before = model.score(HELD_OUT, batch_size=4)
    report = tl.probes.LanguageModelForgettingReport(HELD_OUT, batch_size=4)
    with pytest.warns(UserWarning, match="1 of 49 sampled training texts are longer"):
        history = model.fit(
            sentences(48) + [LONG_TEXT], epochs=3, verbose=0, callbacks=[report]
        )
    model.forgetting = report
    return model, before, history.history


def reference_nll(model, texts):
    """Sum of next-token NLL and token count, one text at a time (no padding)."""
    total, count = 0.0, 0
    for text in texts:
        x, y, weight = model.preprocessor(tf.constant([text]))
        n = int(np.sum(weight))
        features = {name: value[:, :n] for name, value in x.items()}
        logits = keras.ops.convert_to_numpy(model(features))[0].astype(np.float64)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        targets = np.asarray(y)[0, :n]
        total -= float(log_probs[np.arange(n), targets].sum())
        count += n
    return total, count


def test_fit_lowers_the_loss_and_score_is_the_exact_masked_perplexity(fitted):
    model, before, history = fitted
    assert history["loss"][-1] < history["loss"][0]
    assert "perplexity" in history
    assert model.max_length == CONTEXT  # the long text asks for more: capped
    after = model.score(HELD_OUT, batch_size=4)
    assert after["perplexity"] < before["perplexity"]
    assert after["truncated"] == 0
    total, count = reference_nll(model, HELD_OUT)
    assert after["tokens"] == count
    assert after["loss"] == pytest.approx(total / count, rel=1e-5)
    assert after["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)
    # GPT-2 packs <|endoftext|> text <|endoftext|>: every token and the end one.
    tokens = [len(model.preprocessor.tokenizer(t)) for t in HELD_OUT]
    assert count == sum(tokens) + len(HELD_OUT)
    # Padding is masked exactly: batches of 1 (no padding) give the same.
    single = model.evaluate(HELD_OUT, batch_size=1, return_dict=True)
    assert single["loss"] == pytest.approx(after["loss"], rel=1e-6)
    assert single["tokens"] == count


def test_forgetting_report_is_the_held_out_loss_before_and_after_fit(fitted):
    model, before, _ = fitted
    after = model.score(HELD_OUT, batch_size=4)
    result = model.forgetting.result
    assert result["probe"] == "lm-loss" and result["examples"] == len(HELD_OUT)
    assert result["before"] == pytest.approx(before["loss"], rel=1e-5)
    assert result["after"] == pytest.approx(after["loss"], rel=1e-5)
    assert result["change"] == pytest.approx(after["loss"] - before["loss"], rel=1e-4)
    assert result["change"] < 0  # trained on text like the held-out sentences
    assert result["perplexity_after"] == pytest.approx(after["perplexity"], rel=1e-4)
    assert result["tokens"] == after["tokens"] and model.forgetting.seconds > 0


def test_forgetting_report_refuses_a_model_that_is_not_a_language_model(tiny_preset):
    report = tl.probes.LanguageModelForgettingReport(["the film was good ."])
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    report.set_model(model)
    with pytest.raises(tl.PolicyError, match="a TextClassifier is not one"):
        report.on_train_begin()
    with pytest.raises(tl.DataError, match="texts is empty"):
        tl.probes.LanguageModelForgettingReport(["", " "])


def test_long_texts_are_counted_and_warned_not_cut_silently(fitted):
    model, _, _ = fitted
    with pytest.warns(UserWarning, match="1 of 2 texts are longer than max_length=32"):
        scores = model.score([LONG_TEXT, "a cat"])
    assert scores["truncated"] == 1


@pytest.mark.extended
def test_lora_trains_only_the_factors_and_the_keras_file_generates_the_same(
    gpt2_preset, tmp_path
):
    model = build(gpt2_preset, freeze="lora-2")
    trainable = {w.name for w in model.trainable_weights}
    assert trainable == set(LORA_FACTORS)
    before = {w.path: keras.ops.convert_to_numpy(w.value).copy() for w in model.weights}
    model.fit(sentences(32), epochs=1, batch_size=8, verbose=0)
    moved = set()
    for w in model.weights:
        if not np.array_equal(keras.ops.convert_to_numpy(w.value), before[w.path]):
            moved.add(w.name)
    assert moved == {"lora_kernel_a", "lora_kernel_b"}

    prompts = ["the cat", "a bird saw"]
    generated = model.generate(prompts, max_new_tokens=5)
    assert len(generated) == 2 and all(isinstance(g, str) for g in generated)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True
    assert isinstance(loaded, LanguageModel)
    assert loaded.get_config()["max_length"] == model.max_length
    assert loaded.freeze == "lora-2"
    assert loaded.generate(prompts, max_new_tokens=5) == generated

    x = {
        "token_ids": np.array([[0, 5, 8, 3, 12]], "int32"),
        "padding_mask": np.ones((1, 5), "int32"),
    }
    adapters = str(tmp_path / "lm.adapters.npz")
    model.save_adapters(adapters)
    fresh = build(gpt2_preset, freeze="lora-2")
    assert not np.allclose(fresh(x), model(x))
    fresh.load_adapters(adapters)
    np.testing.assert_allclose(fresh(x), model(x), rtol=1e-5, atol=1e-6)


def one_line(error):
    text = str(error.value)
    assert "\n" not in text
    return text


def test_impossible_generation_requests_fail_before_any_work(fitted):
    model, _, _ = fitted
    assert model.causal_lm.generate_function is None  # it never generated
    checks = [
        (dict(sampler="beam-0"), "at least 1"),
        (dict(sampler="nucleus"), "Unknown sampler"),
        (dict(sampler=keras_hub.samplers.BeamSampler(num_beams=0)), "at least 1"),
        (dict(max_new_tokens=CONTEXT), "above the model's limit of 32"),
        (dict(max_new_tokens=CONTEXT - 3), "prompt 0 has"),
        (dict(max_new_tokens=0), "positive integer"),
    ]
    for kwargs, message in checks:
        with pytest.raises(tl.PolicyError, match=message) as error:
            model.generate(["the cat sat on the mat"], **kwargs)
        one_line(error)
    assert model.causal_lm.generate_function is None  # nothing was compiled
    with pytest.raises(tl.DataError, match="empty"):
        model.generate(["the cat", "  "])
    text = model.generate("the cat", max_new_tokens=3, sampler="top_k-3")
    assert isinstance(text, str)
    # A shorthand's number holds with sampler options too.
    model.generate("the cat", 2, "top_k-3", seed=3, temperature=0.5)
    sampler = model.causal_lm.sampler
    assert (sampler.k, sampler.temperature) == (3, 0.5)
    model.generate("the cat", 2, "beam-2", no_repeat_ngram_size=2)
    assert model.causal_lm.sampler.sampler.num_beams == 2  # in a PenalizedSampler
    with pytest.raises(tl.PolicyError, match="unknown sampler option"):
        model.generate("the cat", 2, "top_k-3", beams=2)


def test_fit_refuses_unpaired_targets_label_pairs_and_a_frozen_model(gpt2_preset):
    model = build(gpt2_preset, freeze="all")
    with pytest.raises(tl.DataError, match="1 prompts but 2 responses"):
        model.fit(["a cat"], ["label", "another"])  # y: the responses
    pairs = tf.data.Dataset.from_tensor_slices((["a cat"], [1])).batch(1)
    with pytest.raises(tl.DataError, match="map it to the texts"):
        model.fit(pairs)
    with pytest.raises(tl.DataError, match="batch the dataset first"):
        model.fit(tf.data.Dataset.from_tensor_slices(["a cat"]))
    with pytest.raises(tl.PolicyError, match="leaves nothing to train"):
        model.fit(["a cat", "the dog"])
    with pytest.raises(tl.PolicyError, match="max_length=64"):
        build(gpt2_preset, max_length=64)


def test_random_weights_and_seq2seq_loading(gpt2_preset, tmp_path):
    trained = load_causal_lm(gpt2_preset)
    fresh = load_causal_lm(gpt2_preset, weights="random")
    assert type(fresh) is type(trained) is keras_hub.models.GPT2CausalLM
    first = trained.backbone.token_embedding.embeddings
    assert not np.allclose(
        keras.ops.convert_to_numpy(first),
        keras.ops.convert_to_numpy(fresh.backbone.token_embedding.embeddings),
    )
    with pytest.raises(tl.BackboneError, match="does not exist"):
        load_causal_lm("./no-such-folder")
    with pytest.raises(tl.BackboneError, match="weights must be one of"):
        load_causal_lm(gpt2_preset, weights="imagenet")

    folder = str(tmp_path / "tiny_bart")
    vocabulary = ["<s>", "<pad>", "</s>", "<mask>", "Ġ"] + LETTERS + ["at", "Ġc"]
    tokenizer = keras_hub.models.BartTokenizer(
        vocabulary={token: i for i, token in enumerate(vocabulary)},
        merges=["a t", "Ġ c"],
    )
    backbone = keras_hub.models.BartBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=CONTEXT,
    )
    preprocessor = keras_hub.models.BartSeq2SeqLMPreprocessor(
        tokenizer, encoder_sequence_length=16, decoder_sequence_length=16
    )
    keras_hub.models.BartSeq2SeqLM(backbone, preprocessor).save_to_preset(folder)
    bart = load_seq2seq_lm(folder)
    assert isinstance(bart, keras_hub.models.BartSeq2SeqLM)
    scratch = load_seq2seq_lm(folder, weights="random")
    assert not np.allclose(
        keras.ops.convert_to_numpy(bart.backbone.token_embedding.embeddings),
        keras.ops.convert_to_numpy(scratch.backbone.token_embedding.embeddings),
    )
    with pytest.raises(tl.BackboneError, match="load_seq2seq_lm") as error:
        load_causal_lm(folder)
    one_line(error)


def test_fit_on_a_dataset_gives_keras_one_repeated_dataset_for_all_epochs(
    gpt2_preset, monkeypatch
):
    from test_fit_steps import keras_fit_calls

    calls = keras_fit_calls(monkeypatch)
    model = build(gpt2_preset, max_length=CONTEXT)
    data = tf.data.Dataset.from_tensor_slices(sentences(8)).batch(4)
    history = model.fit(data, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    # Not a BPE pipeline instantiated per epoch (2–3 s each here).
    assert calls == [(tf.data.INFINITE_CARDINALITY, 2)]


def test_set_freeze_after_training_warns_recompiles_and_keeps_frozen_weights(
    gpt2_preset,
):
    """The Keras 3 trap, on the language model: freezing after a fit must
    recompile (a fresh optimizer, said in a warning) so frozen weights hold."""
    model = build(gpt2_preset, max_length=CONTEXT)
    texts = sentences(8)
    model.fit(texts, epochs=1, batch_size=4, verbose=0)
    with pytest.warns(UserWarning, match="optimizer's state"):
        model.set_freeze("bottom-1")
    assert model.freeze == "bottom-1"
    frozen = {w.path: w.numpy().copy() for w in model.backbone.non_trainable_weights}
    trained = {w.path: w.numpy().copy() for w in model.backbone.trainable_weights}
    assert frozen and trained
    model.fit(texts, epochs=1, batch_size=4, verbose=0)
    for weight in model.backbone.non_trainable_weights:
        np.testing.assert_array_equal(frozen[weight.path], weight.numpy())
    assert any(
        not np.array_equal(trained[w.path], w.numpy())
        for w in model.backbone.trainable_weights
    )

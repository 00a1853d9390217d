"""Instruction tuning: `LanguageModel.fit(prompts, responses)`, loss on responses."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_language_model import build
from test_language_model import gpt2_preset  # noqa: F401 (a fixture)

import tlnlp_tf as tl
from tlnlp_tf.tasks.response_loss import pack_pairs

PROMPTS = ["the cat sat on", "a bird saw", "the dog ran to"]
RESPONSES = [" the mat", " a tree", " the sea"]


def test_weights_mark_the_response_and_the_end_token_only(gpt2_preset):  # noqa: F811
    model = build(gpt2_preset, max_length=24)
    prompt_ids = model._token_ids(PROMPTS)  # the tokenizer fit runs
    response_ids = model._token_ids(RESPONSES)
    x, y, weights = pack_pairs(model.preprocessor, prompt_ids, response_ids, 24)
    end = model.preprocessor.tokenizer.end_token_id
    for row in range(len(PROMPTS)):
        chosen = y[row].numpy()[weights[row].numpy()].tolist()
        assert chosen == response_ids[row].numpy().tolist() + [end]
        # The features are the pair packed as one text would be.
        whole = prompt_ids[row].numpy().tolist() + response_ids[row].numpy().tolist()
        tokens = x["token_ids"][row].numpy()[x["padding_mask"][row].numpy()]
        # GPT-2's preprocessor starts and ends a text with its end token.
        assert tokens.tolist() == [end] + whole + [end]
    # A prompt that fills the length leaves nothing of its response, not
    # even the end token the packer keeps; a cut response keeps its head.
    _, y, cut = pack_pairs(model.preprocessor, prompt_ids, response_ids, 4)
    assert not np.any(cut.numpy())
    _, y, cut = pack_pairs(model.preprocessor, prompt_ids, response_ids, 10)
    assert y[0].numpy()[cut[0].numpy()].tolist() == response_ids[0].numpy()[:1].tolist()


def test_evaluate_is_the_mean_loss_over_response_tokens(gpt2_preset):  # noqa: F811
    model = build(gpt2_preset, max_length=24)
    x, y, weights = model.tokenize_pairs(PROMPTS, RESPONSES)
    logits = model(x, training=False)
    losses = keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True)
    w = tf.cast(weights, tf.float32)
    expected = float(tf.reduce_sum(losses * w) / tf.reduce_sum(w))
    scores = model.evaluate(PROMPTS, RESPONSES, return_dict=True, verbose=0)
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)
    # Over whole texts (prompts included) the loss is another number.
    whole = model.score([p + r for p, r in zip(PROMPTS, RESPONSES)])["loss"]
    assert whole != pytest.approx(expected, rel=1e-3)


def test_fit_on_pairs_learns_the_responses(gpt2_preset):  # noqa: F811
    model = build(gpt2_preset)
    model.compile(learning_rate=1e-2)
    before = model.evaluate(PROMPTS, RESPONSES, return_dict=True, verbose=0)["loss"]
    history = model.fit(
        PROMPTS * 4,
        RESPONSES * 4,
        epochs=10,
        batch_size=4,
        validation_data=(PROMPTS, RESPONSES),
        verbose=0,
    )
    after = model.evaluate(PROMPTS, RESPONSES, return_dict=True, verbose=0)["loss"]
    assert after < 0.6 * before
    assert history.history["val_loss"][-1] == pytest.approx(after, rel=1e-4)
    # The same pairs as token features in a dataset (`tokenize_pairs`).
    tokens = tf.data.Dataset.from_tensor_slices(
        model.tokenize_pairs(PROMPTS, RESPONSES)
    ).batch(3)
    assert model.evaluate(tokens, return_dict=True, verbose=0)["loss"] == (
        pytest.approx(after, rel=1e-5)
    )
    model.fit(tokens, epochs=1, verbose=0)


def test_a_dataset_of_pairs_is_trained_and_scored_as_the_lists_are(
    gpt2_preset,  # noqa: F811
):
    model = build(gpt2_preset)
    model.compile(learning_rate=1e-2)
    held_out = tl.data.from_pairs(PROMPTS, RESPONSES)
    before = model.score(held_out)["loss"]
    pairs = tf.data.Dataset.from_tensor_slices((PROMPTS, RESPONSES))
    # One epoch of 30 steps (the data set repeated, not epochs: the test
    # checks what 30 steps of training on a dataset of pairs learns).
    model.fit(pairs.repeat(40).shuffle(120, seed=0).batch(4), verbose=0)
    # max_length comes from prompts and responses together: a length chosen
    # from the prompts alone (a multiple of 8 above them) would cut responses.
    longest = int(model.token_counts([p + r for p, r in zip(PROMPTS, RESPONSES)]).max())
    prompts_only = -(-int(model.token_counts(PROMPTS).max()) // 8) * 8
    assert prompts_only < longest <= model.max_length < longest + 8
    lists = model.evaluate(PROMPTS, RESPONSES, return_dict=True, verbose=0)["loss"]
    assert lists < 0.6 * before
    # Tokenized in the tf.data pipeline, the same loss on the same tokens
    # (one batch, as the lists: Keras averages the batches' losses).
    dataset = model.evaluate(pairs.batch(8), return_dict=True, verbose=0)["loss"]
    assert dataset == pytest.approx(lists, rel=1e-4)
    scored = model.score(held_out, batch_size=2)
    assert scored["loss"] == pytest.approx(lists, rel=1e-4)
    weights = model.tokenize_pairs(PROMPTS, RESPONSES)[2]
    assert scored["tokens"] == int(tf.reduce_sum(tf.cast(weights, tf.int32)))


def test_bad_pairs_are_refused(gpt2_preset):  # noqa: F811
    model = build(gpt2_preset, max_length=8)
    with pytest.raises(tl.DataError, match="3 prompts but 2 responses"):
        model.fit(PROMPTS, RESPONSES[:2])
    with pytest.raises(tl.DataError, match="two lists of strings"):
        model.fit(tf.data.Dataset.from_tensor_slices(PROMPTS).batch(2), RESPONSES)
    with pytest.raises(tl.DataError, match="validation_data is a"):
        model.fit(PROMPTS, RESPONSES, validation_data=PROMPTS)
    with pytest.warns(
        UserWarning, match=r"1 of 2 .* max_length=8 .* 1 of them entirely"
    ):
        model.tokenize_pairs(["the cat sat on the mat", "a"], [" x", " y"])

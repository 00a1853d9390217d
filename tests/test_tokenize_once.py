"""`tokenize_once`: the tokenizer runs over the training data once, not per epoch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.errors import DataError


def _counted(texts, labels, reads):
    """A dataset of `(text, label)` whose every full pass appends to `reads`."""

    def generate():
        reads.append(1)
        yield from zip(texts, labels)

    spec = (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
    data = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return data.apply(tf.data.experimental.assert_cardinality(len(texts)))


def test_raw_text_is_read_once_for_all_epochs(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    model.compile(learning_rate=1e-3)
    reads = []
    tokens = model.tokenize_once(_counted(texts, labels, reads))
    # One pass to choose max_length from the texts, one to tokenize and cache.
    assert len(reads) == 2 and int(tokens.cardinality()) == len(texts)
    assert model.max_length is not None
    history = model.fit(
        tokens.shuffle(len(texts), seed=0).batch(16), epochs=3, verbose=0
    )
    assert len(reads) == 2  # three epochs read the cache, not the text
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_training_on_tokens_matches_training_on_text(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    weights = []
    for tokenized in (False, True):
        keras.utils.set_random_seed(0)
        model = tl.TextClassifier.from_backbone(
            tiny_preset, labels=["neg", "pos"], max_length=24, dropout=0.0
        )
        data = tl.data.from_lists(texts, labels)
        if tokenized:
            data = model.tokenize_once(data)
        model.fit(data.batch(8), epochs=2, verbose=0)
        weights.append([w.numpy() for w in model.trainable_weights])
        # Each batch is still padded only to its longest row.
        if tokenized:
            batch = next(iter(data.batch(8).map(model.preprocess_samples)))
            longest = int(np.max(np.sum(batch[0]["padding_mask"], axis=1)))
            assert batch[0]["token_ids"].shape[1] == -(-longest // 8) * 8 < 24
    for raw, tokens in zip(*weights):
        np.testing.assert_allclose(raw, tokens, atol=1e-5)


def test_token_classifier_windows_are_cached(tiny_preset):
    sentences = ["the film was good", "the cast was very bad and the plot was dull"] * 4
    tags = [" ".join("O" for _ in s.split()) for s in sentences]
    tags[0] = "B-PER O O O"
    model = tl.TokenClassifier.from_backbone(
        tiny_preset, tags=["O", "B-PER", "I-PER"], max_length=8
    )
    raw = tl.data.from_lists(sentences, tags)
    tokens = model.tokenize_once(raw)
    # Sentences longer than max_length - 2 pieces become several windows.
    assert int(tokens.cardinality()) > len(sentences)
    raw_scores = model.evaluate(raw.batch(4), return_dict=True, verbose=0)
    windows = model.preprocessor(
        x=tf.constant(sentences), y=model.encode_targets(tf.constant(tags))
    )
    assert int(tokens.cardinality()) == int(windows[0]["token_ids"].shape[0])
    token_scores = model.evaluate(tokens.batch(64), return_dict=True, verbose=0)
    np.testing.assert_allclose(raw_scores["loss"], token_scores["loss"], rtol=1e-5)
    model.fit(tokens.batch(4), epochs=1, verbose=0)


def test_length_batching_sorts_tokens_by_count(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    texts = [t + " very" * (i % 7) for i, t in enumerate(texts)]
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    tokens = model.tokenize_once(tl.data.from_lists(texts, labels))
    batches = list(tl.data.batch_by_length(tokens, 8, group=8, seed=0))
    assert len(batches) == len(texts) // 8
    spreads = [np.ptp(np.sum(x["padding_mask"], axis=1)) for x, _ in batches]
    assert max(spreads) <= 1  # sorted by token count: each batch nearly uniform


def test_tokenize_once_wants_raw_text(tiny_preset):
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], max_length=8
    )
    numbers = tf.data.Dataset.from_tensor_slices(([1.0, 2.0], [0, 1]))
    with pytest.raises(DataError, match="unbatched dataset of raw-text examples"):
        model.tokenize_once(numbers)

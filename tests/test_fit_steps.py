"""One `tf.data` iterator for all the epochs of a `fit` (training/fit_steps.py).

Keras starts a new iterator of a finite dataset every epoch, and each new
iterator instantiates the whole tokenizing pipeline again (2–3 s with the
tests' tiny BPE tokenizer). `one_iterator` repeats the dataset under
`steps_per_epoch` instead, so Keras keeps one iterator; each pass still
reshuffles.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import toy_examples

import tlnlp_tf as tl
from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import steps_per_epoch


def keras_fit_calls(monkeypatch):
    """What each `keras.Model.fit` under a task's `fit` gets: `(cardinality of x,
    steps_per_epoch)`; Keras then trains as usual."""
    calls, original = [], keras.Model.fit

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, tf.data.Dataset):
            calls.append((int(x.cardinality()), kwargs.get("steps_per_epoch")))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    return calls


def test_one_iterator_repeats_a_finite_dataset_under_its_steps_per_epoch():
    data = tf.data.Dataset.range(10).shuffle(10, seed=0).batch(4)
    kwargs = {}
    repeated = one_iterator(data, 3, kwargs)
    assert kwargs == {"steps_per_epoch": 3}
    assert int(repeated.cardinality()) == tf.data.INFINITE_CARDINALITY
    epochs = [
        np.concatenate(list(repeated.skip(3 * e).take(3).as_numpy_iterator()))
        for e in range(3)
    ]
    for epoch in epochs:  # every pass is the whole data set, once
        assert sorted(epoch.tolist()) == list(range(10))
    assert len({tuple(epoch) for epoch in epochs}) > 1  # and it reshuffles


@pytest.mark.parametrize(
    "epochs, kwargs, data",
    [
        (1, {}, tf.data.Dataset.range(8).batch(4)),  # one epoch: one iterator anyway
        (3, {"steps_per_epoch": 1}, tf.data.Dataset.range(8).batch(4)),  # caller's
        (3, {}, tf.data.Dataset.range(8).filter(lambda i: i > 2).batch(4)),  # unknown
        (3, {}, tf.data.Dataset.range(8).repeat().batch(4)),  # infinite
    ],
)
def test_one_iterator_leaves_what_it_cannot_or_need_not_repeat(epochs, kwargs, data):
    before = dict(kwargs)
    assert one_iterator(data, epochs, kwargs) is data
    assert kwargs == before


def test_steps_per_epoch_of_datasets_and_arrays():
    assert steps_per_epoch(tf.data.Dataset.range(10).batch(4), None) == 3
    assert steps_per_epoch(np.zeros((10, 2)), 4) == 3
    assert steps_per_epoch(tf.data.Dataset.range(10).filter(lambda i: i > 0), 4) is None


def test_a_classifier_gives_keras_one_repeated_dataset_for_all_epochs(
    tiny_preset, monkeypatch
):
    calls = keras_fit_calls(monkeypatch)
    texts, labels = toy_examples(16)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    history = model.fit(tl.data.from_lists(texts, labels).batch(8), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert calls == [(tf.data.INFINITE_CARDINALITY, 2)]


def test_a_word_tagger_gives_keras_one_repeated_dataset_for_all_epochs(monkeypatch):
    from test_word_tagger import toy_sentences

    from tlnlp_tf.tasks.word_tagger import WordTagger

    calls = keras_fit_calls(monkeypatch)
    data = toy_sentences(16)
    model = WordTagger.from_vectors(None, data.words, data.tag_names(), units=4)
    history = model.fit(data, epochs=3, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 3
    assert calls == [(tf.data.INFINITE_CARDINALITY, 2)]

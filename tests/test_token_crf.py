"""`TokenClassifier(crf=True)`: a CRF output layer trained, decoded, saved, refused."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_token_classifier import TAGS
from test_token_classifier import toy_tagged

import tlnlp_tf as tl
from tlnlp_tf.layers.crf import CRFLoss
from tlnlp_tf.layers.crf_token_head import CRFTokenHead
from tlnlp_tf.layers.tag_transitions import allowed_transitions


@pytest.fixture(scope="module")
def crf_tagger(tiny_preset):
    """A CRF tagger trained on the toy NER set, and its loss per epoch."""
    keras.utils.set_random_seed(0)
    model = tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS, crf=True)
    model.compile(learning_rate=1e-2)
    tokens = model.tokenize_once(toy_tagged().to_dataset())
    history = model.fit(tokens.shuffle(48, seed=0).batch(8), epochs=5, verbose=0)
    return model, history.history["loss"]


def test_fit_lowers_the_crf_loss_and_decodes_entities(crf_tagger):
    model, losses = crf_tagger
    assert isinstance(model.head, CRFTokenHead) and model.crf is True
    assert isinstance(model.loss, CRFLoss) and model.loss.crf is model.head.crf
    assert losses[-1] < 0.3 * losses[0]
    assert model.score(toy_tagged(16, seed=1))["f1"] > 0.9
    text = "bob lee was in new york ."
    [entities] = model.predict([text])
    assert [(e["text"], e["type"]) for e in entities] == [
        ("bob lee", "PER"),
        ("new york", "LOC"),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert 0.0 < entity["score"] <= 1.0


def test_viterbi_tags_respect_the_scheme(tiny_preset):
    model = tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS, crf=True)
    # Every word scores I-PER highest: the argmax would start with I-PER.
    dense = model.head.token_head.logits
    dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
    dense.bias.assign(np.array([4.0, 1.0, 5.0, 0.0, 0.0], "float32"))
    words = ["ann", "was", "in", "paris", "."]
    counts = model.preprocessor.word_pieces(tf.constant(words)).row_lengths().numpy()
    [(ids, scores)] = model._window_tags([" ".join(words)], [counts], 8)
    assert [TAGS[i] for i in ids] == ["B-PER"] + ["I-PER"] * 4
    start, pairs, end = allowed_transitions(TAGS)
    assert start[ids[0]] and end[ids[-1]]
    assert all(pairs[a, b] for a, b in zip(ids[:-1], ids[1:]))
    assert np.allclose(scores[1:], scores[1]) and scores[0] < scores[1]


def test_round_trip_keeps_the_crf_and_trains_again(crf_tagger, tmp_path):
    model, _ = crf_tagger
    path = str(tmp_path / "crf.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.crf is True and isinstance(restored.head, CRFTokenHead)
    assert restored.loss.crf is restored.head.crf  # re-bound on load
    words = toy_tagged(8, seed=2).words
    assert restored.predict_tags(words)[0] == model.predict_tags(words)[0]
    history = restored.fit(toy_tagged(16).to_dataset().batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(tl.PolicyError, match="with crf=True.*loss='auto'"):
        restored.compile(loss="sparse_categorical_crossentropy")


@pytest.mark.parametrize(
    "tags, says",
    [
        (["O", "PER", "LOC"], "tag 'PER' is not 'O' or PREFIX-TYPE"),
        (["O", "I-PER"], "no 'B-PER' in the tags"),
    ],
)
def test_unreadable_tags_fail_at_construction(tiny_preset, tags, says):
    with pytest.raises(tl.PolicyError, match=says) as error:
        tl.TokenClassifier.from_backbone(tiny_preset, tags=tags, crf=True)
    assert "\n" not in str(error.value)
    plain = tl.TokenClassifier.from_backbone(tiny_preset, tags=tags)
    with pytest.raises(tl.PolicyError, match="no CRF layer"):
        plain.compile(loss=CRFLoss())

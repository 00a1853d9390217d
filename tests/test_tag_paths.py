"""`allowed_path`: the most probable tag sequence a scheme allows."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.decoding.tag_paths import allowed_path
from tlnlp_tf.layers.tag_transitions import allowed_transitions

SCHEMES = {
    "iob2": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "bioes": ["O", "B-PER", "I-PER", "E-PER", "S-PER"],
}


def brute_force(log_probs, start, pairs, end):
    """The best allowed sequence by enumerating every sequence."""
    best, best_score = None, -np.inf
    count, tags = log_probs.shape
    for path in itertools.product(range(tags), repeat=count):
        allowed = start[path[0]] and end[path[-1]]
        allowed = allowed and all(pairs[a, b] for a, b in zip(path, path[1:]))
        score = sum(log_probs[i, tag] for i, tag in enumerate(path))
        if allowed and score > best_score:
            best, best_score = path, score
    return list(best)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("length", [1, 2, 4])
def test_is_the_brute_force_best_allowed_path(scheme, length):
    rng = np.random.default_rng(length)
    transitions = allowed_transitions(SCHEMES[scheme])
    for _ in range(20):
        logits = rng.normal(size=(length, len(SCHEMES[scheme])), scale=3.0)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        path = allowed_path(log_probs, *transitions)
        assert path.tolist() == brute_force(log_probs, *transitions)


def test_mends_what_the_argmax_breaks():
    tags = SCHEMES["iob2"]
    # Argmax: O I-PER B-LOC I-PER (two broken spans).
    probs = np.array(
        [
            [0.40, 0.35, 0.05, 0.10, 0.10],
            [0.10, 0.05, 0.60, 0.05, 0.20],
            [0.10, 0.05, 0.05, 0.70, 0.10],
            [0.05, 0.05, 0.50, 0.05, 0.35],
        ]
    )
    assert probs.argmax(-1).tolist() == [0, 2, 3, 2]
    path = allowed_path(np.log(probs), *allowed_transitions(tags))
    assert [tags[i] for i in path] == ["B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert allowed_path(np.zeros((0, 5)), *allowed_transitions(tags)).shape == (0,)


def test_a_tagger_decodes_allowed_paths_saves_the_choice_and_checks_it(
    tiny_preset, tmp_path
):
    from test_token_classifier import TAGS
    from test_token_classifier import toy_tagged

    keras.utils.set_random_seed(0)
    model = tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS, decoding="allowed")
    model.fit(toy_tagged(16).to_dataset().batch(8), epochs=1, verbose=0)
    sentences = toy_tagged(8, seed=1).words
    tags, _ = model.predict_tags(sentences)
    start, pairs, end = allowed_transitions(TAGS)
    for sentence in tags:
        ids = [TAGS.index(tag) for tag in sentence]
        assert start[ids[0]] and end[ids[-1]]
        assert all(pairs[a, b] for a, b in zip(ids, ids[1:]))
    differs_from_argmax_and_reloads(model, sentences, tags, tmp_path)
    with pytest.raises(tl.PolicyError, match="decoding must be one of"):
        tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS, decoding="beam")
    with pytest.raises(
        tl.PolicyError,
        match="decoding=.allowed. follows the tag scheme, but tag .X-PER. is not",
    ):
        tl.TokenClassifier.from_backbone(
            tiny_preset, tags=["O", "B-PER", "X-PER"], decoding="allowed"
        )


def test_a_word_tagger_decodes_allowed_paths_and_saves_the_choice(tmp_path):
    from test_word_tagger import toy_sentences

    from tlnlp_tf.tasks.word_tagger import WordTagger

    keras.utils.set_random_seed(0)
    data = toy_sentences(16)
    names = data.tag_names()
    model = WordTagger.from_vectors(
        None, data.words, names, units=8, embedding_dim=8, decoding="allowed"
    )
    model.fit(data, epochs=1, batch_size=8, verbose=0)  # barely trained
    sentences = toy_sentences(8, seed=1).words
    tags, _ = model.predict_tags(sentences)
    # The same probabilities, decoded here: the allowed path, which is not
    # what the argmax (repaired) gives for every sentence.
    transitions = allowed_transitions(names)
    expected = []
    for words in sentences:
        ids = model.token_ids(tf.ragged.constant([words]))
        probs = np.asarray(keras.ops.softmax(model._logits(ids)))[0]
        expected.append([names[i] for i in allowed_path(np.log(probs), *transitions)])
    assert tags == expected
    differs_from_argmax_and_reloads(model, sentences, tags, tmp_path)
    with pytest.raises(tl.PolicyError, match="decoding must be one of"):
        WordTagger.from_vectors(None, data.words, names, decoding="greedy")


def differs_from_argmax_and_reloads(model, sentences, tags, folder):
    """The same model decodes other `tags` by argmax; saved and reloaded, it
    keeps `decoding="allowed"` and gives `tags` again."""
    model.decoding = "argmax"
    assert model.predict_tags(sentences)[0] != tags
    model.decoding = "allowed"
    path = str(folder / "tagger.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.decoding == "allowed"
    assert restored.predict_tags(sentences)[0] == tags


def test_auto_takes_the_allowed_path_for_a_scheme_and_the_argmax_without(
    tiny_preset,
):
    from test_token_classifier import TAGS

    tagger = tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS, decoding="auto")
    assert tagger.decodes_allowed_paths
    pos = tl.TokenClassifier.from_backbone(
        tiny_preset, tags=["O", "NOUN", "VERB"], decoding="auto"
    )
    assert not pos.decodes_allowed_paths  # no scheme: argmax, and no error
    probs = np.array([[0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    assert pos.decode(probs).tolist() == [1, 2]
    # The default of every tagger is "auto" (measured: benchmarks/RESULTS.md).
    assert tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS).decoding == ("auto")
    labeller = tl.RoleLabeler.from_backbone(
        tiny_preset, tags=["O", "B-ARG0", "I-ARG0", "B-V"]
    )
    assert labeller.decoding == "auto" and labeller.decodes_allowed_paths
    from tlnlp_tf.tasks.word_tagger import WordTagger

    assert WordTagger(["", "[UNK]", "a"], TAGS).decoding == "auto"

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.tasks.word_spans import sub_word_windows as _windows
from tlnlp_tf.tasks.word_spans import windowed

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
PEOPLE = [["ann"], ["bob", "lee"], ["cy"]]
PLACES = [["paris"], ["rome"], ["new", "york"]]


def toy_tagged(count=48, seed=0):
    """'<person> was in <place> .' sentences with IOB2 tags."""
    rng = np.random.default_rng(seed)
    words, tags = [], []
    for _ in range(count):
        person = PEOPLE[rng.integers(len(PEOPLE))]
        place = PLACES[rng.integers(len(PLACES))]
        words.append(person + ["was", "in"] + place + ["."])
        tags.append(
            ["B-PER"]
            + ["I-PER"] * (len(person) - 1)
            + ["O", "O"]
            + ["B-LOC"]
            + ["I-LOC"] * (len(place) - 1)
            + ["O"]
        )
    return TaggedSentences(words, tags)


@pytest.fixture
def tagger(tiny_preset):
    keras.utils.set_random_seed(0)
    return tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS)


def test_labels_on_first_sub_word_only(tagger):
    words = ["ann", "was", "in", "paris", "."]
    counts = tagger.preprocessor.word_pieces(tf.constant(words)).row_lengths().numpy()
    assert list(counts) == [
        3,
        1,
        2,
        5,
        1,
    ]  # a ##n ##n, was, i ##n, p ##a ##r ##i ##s, .
    x, y, w = tagger.preprocess_samples(
        tf.constant([" ".join(words)]), tf.constant(["B-PER O O B-LOC O"])
    )
    real = int(x["padding_mask"].numpy()[0].sum())
    assert real == 2 + counts.sum()  # [CLS] … [SEP]
    expected = [0]
    for count in counts:
        expected += [1] + [0] * (count - 1)
    weights = w.numpy()[0]
    assert list(weights[:real]) == expected + [0]
    assert list(y.numpy()[0][weights == 1]) == [1, 0, 0, 3, 0]
    tokens = x["token_ids"].numpy()[0]
    assert tokens[0] == 2 and tokens[real - 1] == 3


def test_long_training_sentence_is_windowed_not_truncated(tagger):
    # 12 sub-words (a ##n ##n | was | i ##n | p ##a ##r ##i ##s | .) in windows
    # of 8 - 2 = 6 tokens, 3 apart: starts 0, 3, 6.
    tagger.preprocessor.sequence_length = 8
    x, y, w = tagger.preprocess_samples(
        tf.constant(["ann was in paris .", "ann ."]),
        tf.constant(["B-PER O O B-LOC O", "B-PER O"]),
    )
    assert x["token_ids"].shape[0] == 4  # three windows + the short sentence
    tagged = [list(y.numpy()[row][w.numpy()[row] == 1]) for row in range(4)]
    assert tagged == [[1, 0, 0], [0, 0, 3], [3, 0], [1, 0]]
    # Every window is framed by [CLS] ... [SEP].
    tokens, mask = x["token_ids"].numpy(), x["padding_mask"].numpy()
    for row in range(4):
        assert tokens[row][0] == 2 and tokens[row][mask[row].sum() - 1] == 3


def test_fit_on_a_long_sentence_warns_of_no_truncation(tagger):
    # 65 words (more sub-words than the tiny backbone's 64 positions) are
    # windowed in training and prediction, so fit must not warn "truncated".
    long = toy_tagged(13, seed=1)
    words = [[w for sentence in long.words for w in sentence]]
    tags = [[t for sentence in long.tags for t in sentence]]
    data = TaggedSentences(words + toy_tagged(7).words, tags + toy_tagged(7).tags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tagger.fit(data.to_dataset().batch(4), epochs=1, verbose=0)
    assert not [w for w in caught if "truncat" in str(w.message)]
    assert tagger.max_length == 64  # the backbone's limit: the sentence needs more
    predicted, _ = tagger.predict_tags(words)
    assert len(predicted[0]) == len(words[0])


def test_learns_and_decodes_entities_with_offsets(tagger):
    tagger.compile(learning_rate=1e-2)
    # 15 passes as 3 epochs of 5 (an epoch's callbacks and logs run 3 times).
    data = toy_tagged().to_dataset().shuffle(48, seed=0).repeat(5).batch(8)
    history = tagger.fit(data, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    text = "bob lee was in new york ."
    [entities] = tagger.predict([text])
    assert [(e["text"], e["type"]) for e in entities] == [
        ("bob lee", "PER"),
        ("new york", "LOC"),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert 0.5 < entity["score"] <= 1.0
    truth = toy_tagged(16, seed=1)
    predicted, _ = tagger.predict_tags(truth.words)
    assert tl.metrics.entity_scores(truth.tags, predicted)["f1"] > 0.9


def test_evaluate_reports_entity_scores_as_score_and_seqeval(tagger):
    from seqeval.metrics import f1_score
    from seqeval.metrics import precision_score
    from seqeval.scheme import IOB2

    tagger.compile(learning_rate=1e-2)
    tagger.fit(toy_tagged().to_dataset().batch(8), epochs=2, verbose=0)
    truth = toy_tagged(16, seed=1)
    truth.tags[0] = ["O"] * len(truth.tags[0])  # some errors, so F1 < 1 may show
    scored = tagger.score(truth)
    assert set(scored) == {"precision", "recall", "f1", "per_type"}
    predicted, _ = tagger.predict_tags(truth.words)
    strict = dict(mode="strict", scheme=IOB2, zero_division=0)
    assert scored["f1"] == pytest.approx(f1_score(truth.tags, predicted, **strict))
    assert scored["precision"] == pytest.approx(
        precision_score(truth.tags, predicted, **strict)
    )
    for data in (truth, truth.to_dataset().batch(4)):
        logs = tagger.evaluate(data, return_dict=True, verbose=0)
        assert {k: logs[k] for k in scored} == scored
        assert np.isfinite(logs["loss"])
    values = tagger.evaluate(truth, verbose=0)  # Keras's list: the top-level numbers
    assert values[-1] == scored["f1"]


def test_windows_cover_every_word_with_overlap():
    assert _windows([1, 1, 1], 10) == [(0, 3)]
    windows = _windows([2] * 10, 6)  # 3 words a window
    assert windows[0] == (0, 3) and windows[-1][1] == 10
    covered = set()
    for start, end in windows:
        assert sum([2] * (end - start)) <= 6
        covered.update(range(start, end))
    assert covered == set(range(10))
    assert _windows([9, 1], 4) == [(0, 1), (1, 2)]  # an over-long word stands alone


def test_each_word_keeps_its_most_central_window():
    seen = []

    def tag_windows(texts, counts):  # a window's tags: its index, scores: offsets
        seen.extend(texts)
        return [([k] * len(c), list(range(len(c)))) for k, c in enumerate(counts)]

    ids, scores = windowed([list("abcdef"), ["x"]], [[1] * 6, [1]], 4, tag_windows)
    assert seen == ["a b c d", "c d e f", "x"]
    # c is one word from an edge in window 0, on the edge in window 1; d the reverse
    assert list(ids[0]) == [0, 0, 0, 1, 1, 1] and list(ids[1]) == [2]
    assert list(scores[0]) == [0, 1, 2, 1, 2, 3]


def test_long_text_is_windowed_not_truncated(tagger):
    tagger.max_length = 16  # 14 sub-words a window
    tagger.preprocessor.sequence_length = 16
    text = " ".join(["ann was in rome ."] * 10)  # 50 words
    tags, _ = tagger.predict_tags([text.split()])
    assert len(tags[0]) == 50  # every word tagged, far beyond one window


def test_round_trip_and_unknown_tag(tagger, tmp_path):
    data = toy_tagged(16).to_dataset().batch(8)
    tagger.fit(data, epochs=1, verbose=0)
    path = str(tmp_path / "tagger.keras")
    tagger.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, tl.TokenClassifier) and restored.tags == TAGS
    a, _ = tagger.predict_tags([["ann", "was", "in", "rome", "."]])
    b, _ = restored.predict_tags([["ann", "was", "in", "rome", "."]])
    assert a == b
    bad = tf.data.Dataset.from_tensor_slices((["ann was"], ["B-PER B-ORG"])).batch(1)
    with pytest.raises(tl.DataError, match="Unknown tag.*B-ORG"):
        tagger.fit(bad, epochs=1, verbose=0)
    with pytest.raises(tl.DataError, match="tag 'B-ORG'"):  # before training
        tagger.fit(data, validation_data=bad, epochs=1, verbose=0)


def test_tagging_defaults_from_the_conll_sweep(tagger):
    assert tagger.default_learning_rate() == 2e-4
    assert tagger.default_layer_decay() == 0.9
    multipliers = tagger.optimizer.multipliers
    assert min(multipliers.values()) == 0.9**3  # embeddings of a 2-layer backbone


def test_too_few_updates_are_said_before_training(tagger):
    data = toy_tagged(12).to_dataset().batch(4)  # 3 batches per epoch
    with pytest.warns(
        UserWarning, match=r"6 optimizer updates \(2 epoch\(s\) of 3"
    ) as caught:
        tagger.fit(data, epochs=2, verbose=0)
    assert any("Pass epochs=100 " in str(w.message) for w in caught)
    tagger.min_updates = 6  # enough now: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        tagger.fit(data, epochs=2, verbose=0)


def test_auto_epochs_reach_the_minimum_updates(tagger):
    from tlnlp_tf.training.update_budget import auto_epochs

    assert auto_epochs(tagger, 6) == (50, auto_epochs(tagger, 6)[1])
    assert "18 optimizer updates" in auto_epochs(tagger, 6)[1]
    assert auto_epochs(tagger, 100) == (3, "the default")  # 300 updates already
    assert auto_epochs(tagger, 7)[0] == 43  # ceil(300 / 7)
    tagger.min_updates = None
    assert auto_epochs(tagger, 6) == (3, "the default")

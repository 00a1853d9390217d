"""SpanExtractor: windows, answer positions, n-best decoding with offsets, training."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import NEGATIVE
from conftest import POSITIVE
from conftest import SUBJECTS

import tlnlp_tf as tl
from tlnlp_tf.errors import DataError


@pytest.fixture
def extractor(tiny_preset):
    keras.utils.set_random_seed(0)
    return tl.SpanExtractor.from_backbone(tiny_preset, doc_stride=4)


def windows_of(model, question, context, answer_words=None, length=16):
    model.preprocessor.sequence_length = length
    x = {"question": tf.constant([question]), "context": tf.constant([context])}
    y = None if answer_words is None else tf.constant([answer_words])
    return model.preprocessor.windows(x, y)


def test_windows_cover_the_context_and_keep_word_ids(extractor):
    # "was" is one token, "ann" three (a ##n ##n), "in" two (i ##n).
    context = "was ann was in was ann was"
    features, positions, windows = windows_of(extractor, "was", context, [1, 1])
    tokens = features["token_ids"].numpy()
    words = windows["token_words"].numpy()
    # 16 tokens - [CLS] was [SEP] … [SEP] = 12 context tokens of 11: one window.
    assert tokens.shape == (1, 16) and list(windows["example"].numpy()) == [0]
    assert list(words[0][:3]) == [-1, -1, -1]
    assert list(words[0][3:15]) == [0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 6]
    assert words[0][15] == -1  # the closing [SEP]
    # The answer "ann" (word 1) spans its three pieces: tokens 4..6.
    assert positions.numpy().tolist() == [[4, 6]]
    segments = features["segment_ids"].numpy()[0]
    assert list(segments[:3]) == [0, 0, 0] and all(segments[3:16] == 1)


def test_long_context_becomes_overlapping_windows(extractor):
    context = "was ann was in was ann was in was ann"  # 18 context tokens
    features, positions, windows = windows_of(
        extractor, "was", context, [9, 9], length=12
    )
    # budget = 12 - 3 - 1 = 8 tokens, stride 4: starts 0, 4, 8, 12 cover 18 tokens.
    assert list(windows["example"].numpy()) == [0, 0, 0, 0]
    words = windows["token_words"].numpy()
    assert list(words[1][3:11]) == [2, 3, 3, 4, 5, 5, 5, 6]
    # "ann" (word 9) is tokens 15..17: only the last window (start 12) holds it.
    assert positions.numpy().tolist() == [[0, 0], [0, 0], [0, 0], [6, 8]]
    assert int(features["padding_mask"].numpy()[3].sum()) == 3 + 1 + 6


def test_answer_cut_by_a_window_edge_points_to_cls(extractor):
    # Context tokens: was was was a ##n ##n was; windows of 4 tokens, stride 2:
    # [0, 4) and [4, 7) cut "ann" (tokens 3..5); [2, 6) holds it whole.
    extractor.preprocessor.doc_stride = 2
    _, positions, _ = windows_of(
        extractor, "was", "was was was ann was", [3, 3], length=8
    )
    assert positions.numpy().tolist() == [[0, 0], [4, 6], [0, 0]]


def test_long_contexts_choose_the_limit_without_a_truncation_warning(extractor):
    # Contexts longer than the backbone's 64 positions are windowed, never
    # truncated: choosing max_length must not warn "truncated".
    questions = ["was ann ?"] * 3
    contexts = [" ".join(["was ann in"] * 30)] * 3  # 180 context tokens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        extractor._choose_max_length((questions, contexts))
    assert not [w for w in caught if "truncat" in str(w.message)]
    assert extractor.max_length == 64  # the backbone's limit
    assert extractor.preprocessor.sequence_length == 64


def fake_logits(model, start_token, end_token):
    """Make `predict_on_batch` prefer spans from `start_token` to `end_token` ids."""

    def predict_on_batch(features):
        ids = np.asarray(features["token_ids"])
        logits = np.zeros((len(ids), 2, ids.shape[1]), "float32")
        logits[:, 0][ids == start_token] = 5.0
        logits[:, 1][ids == end_token] = 5.0
        logits[:, :, 0] = 1.0  # [CLS]: the "no answer" score
        return logits

    model.predict_on_batch = predict_on_batch


def token_id(model, word):
    return int(model.preprocessor.tokenizer.token_to_id(word))


@pytest.mark.parametrize(
    "context",
    [
        "the cast was good, and the plot was dull.",
        "the film... the plot — 好 the cast: good!",
        # several windows:
        "was was was was was was the cast was good was was was was was",
    ],
)
def test_predict_returns_offsets_that_slice_the_context(extractor, context):
    extractor.max_length = 12
    extractor.preprocessor.sequence_length = 12
    fake_logits(extractor, token_id(extractor, "cast"), token_id(extractor, "good"))
    [result] = extractor.predict([{"question": "cast", "context": context}])
    assert context[result["start"] : result["end"]] == result["answer"]
    assert result["answer"].lower().startswith("cast") and result[
        "answer"
    ].lower().endswith("good")
    assert 0.0 < result["score"] <= 1.0


def test_chinese_characters_are_words_with_offsets(extractor):
    extractor.max_length = 16
    extractor.preprocessor.sequence_length = 16
    unknown = token_id(extractor, "[UNK]")
    fake_logits(extractor, unknown, unknown)
    [result] = extractor.predict({"question": "was", "context": "was 北京 was"})
    # Each CJK character is a word of its own ([UNK] here): a one-character answer.
    assert result["answer"] in ("北", "京", "北京")
    assert "was 北京 was"[result["start"] : result["end"]] == result["answer"]


def test_max_answer_length_limits_spans(extractor):
    extractor.max_answer_length = 2
    extractor.max_length = 16
    extractor.preprocessor.sequence_length = 16
    fake_logits(extractor, token_id(extractor, "cast"), token_id(extractor, "good"))
    [result] = extractor.predict(
        {"question": "was", "context": "cast was was was good"}
    )
    assert len(result["answer"].split()) <= 2


def test_no_answer_when_allowed_and_cls_wins(extractor):
    extractor.max_length = 16
    extractor.preprocessor.sequence_length = 16
    fake_logits(extractor, -1, -1)  # no span beats [CLS]
    [result] = extractor.predict({"question": "was", "context": "the cast was good"})
    assert result["answer"]  # SQuAD v1: always a span
    extractor.allow_no_answer = True
    [result] = extractor.predict({"question": "was", "context": "the cast was good"})
    assert (result["answer"], result["start"], result["end"]) == ("", None, None)
    assert 0.0 < result["score"] <= 1.0


@pytest.mark.parametrize(
    "item, message",
    [
        ({"question": "", "context": "the film"}, "Input 0: the question is empty"),
        ({"question": "what", "context": "  "}, "Input 0: the context is empty"),
        ("what", "expected a dict with 'question' and 'context'"),
    ],
)
def test_bad_prediction_inputs(extractor, item, message):
    with pytest.raises(DataError, match=message):
        extractor.predict([item])


def toy_questions(count, seed):
    """Contexts of subjects and one sentiment word; the answer is that word."""
    rng = np.random.default_rng(seed)
    ids, titles, questions, contexts, answers = [], [], [], [], []
    for i in range(count):
        parts = list(rng.choice(SUBJECTS, 3))
        word = str(rng.choice(POSITIVE + NEGATIVE))
        parts.insert(int(rng.integers(4)), word)
        context = " ".join(parts) + " ."
        ids.append(f"q{i}")
        titles.append(f"article {i % 8}")
        questions.append("what was it ?")
        contexts.append(context)
        answers.append([{"text": word, "start": context.index(word)}])
    return tl.data.QuestionAnswers(ids, titles, questions, contexts, answers)


@pytest.mark.extended
def test_learns_toy_answers_and_round_trips(extractor, tmp_path):
    data = toy_questions(160, seed=0)
    train, dev = data.split_articles(6)
    extractor.compile(learning_rate=1e-2)
    # 6 passes as 3 epochs of 2 (an epoch's callbacks and logs run 3 times).
    history = extractor.fit(
        train.to_dataset().shuffle(200, seed=0).repeat(2).batch(16), epochs=3, verbose=0
    )
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    predictions = extractor.predict(dev.inputs())
    scores = tl.metrics.squad_scores(
        [p["answer"] for p in predictions], dev.answer_texts()
    )
    assert scores["f1"] > 0.8
    # evaluate reports the task's metric (as `score` and `tlnlp evaluate`), not
    # a window accuracy: from the QuestionAnswers and from a batched dataset.
    scored = extractor.score(dev)
    assert scored == tl.metrics.rounding.rounded(scores)
    logs = extractor.evaluate(dev, return_dict=True, verbose=0)
    assert "accuracy" not in logs and np.isfinite(logs["loss"])
    assert {k: logs[k] for k in scored} == scored
    logs = extractor.evaluate(dev.to_dataset().batch(16), return_dict=True, verbose=0)
    assert {k: logs[k] for k in scored} == scored  # one answer each here
    for prediction, item in zip(predictions, dev.inputs()):
        assert (
            item["context"][prediction["start"] : prediction["end"]]
            == prediction["answer"]
        )
    path = str(tmp_path / "qa.keras")
    extractor.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, tl.SpanExtractor)
    assert restored.max_length == extractor.max_length
    assert restored.preprocessor.doc_stride == 4
    assert restored.predict(dev.inputs()) == predictions

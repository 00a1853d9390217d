"""SQuAD reader (v1.1 and v2) and the official exact-match / F1 scores."""

import json

import pytest

import tlnlp_tf as tl
from tlnlp_tf.errors import DataError

CONTEXT = "Angela Merkel's visit to Paris, in 2019, was short."


def squad_file(tmp_path, qas, context=CONTEXT, title="Politics", name="squad.json"):
    document = {
        "version": "1.1",
        "data": [
            {"title": title, "paragraphs": [{"context": context, "qas": qas}]},
            {
                "title": "Other",
                "paragraphs": [
                    {
                        "context": "The sky is blue.",
                        "qas": [
                            {
                                "id": "sky",
                                "question": "What colour is the sky?",
                                "answers": [{"text": "blue", "answer_start": 11}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def question(qid, text, answer, start):
    return {
        "id": qid,
        "question": text,
        "answers": [{"text": answer, "answer_start": start}],
    }


def test_reads_v1_questions_answers_and_articles(tmp_path):
    path = squad_file(
        tmp_path,
        [question("q1", "When?", "2019", 35), question("q2", "Where?", "Paris", 25)],
    )
    data = tl.data.read_squad(path)
    assert data.ids == ["q1", "q2", "sky"]
    assert data.answers[0] == [{"text": "2019", "start": 35}]
    assert not data.has_impossible
    first, rest = data.split_articles(1)
    assert first.ids == ["q1", "q2"] and rest.ids == ["sky"]
    assert data.inputs()[2] == {
        "question": "What colour is the sky?",
        "context": "The sky is blue.",
    }


def test_answer_words_follow_punctuation_and_possessives(tmp_path):
    data = tl.data.read_squad(
        squad_file(
            tmp_path,
            [
                question("q1", "Whose visit?", "Angela Merkel", 0),
                question("q2", "When?", "2019", 35),
            ],
        )
    )
    words = data.words(CONTEXT)
    first, last = data.answer_words(0)
    assert CONTEXT[words[first][1] : words[last][2]] == "Angela Merkel"
    first, last = data.answer_words(1)
    assert (first, last) == (9, 9) and words[first][0] == "2019"
    element = next(iter(data.to_dataset()))
    assert (
        element[0]["context"]
        .numpy()
        .decode()
        .startswith("Angela Merkel ' s visit to Paris ,")
    )
    assert element[1].numpy().tolist() == [0, 1]


def test_reads_v2_impossible_questions(tmp_path):
    qas = [
        question("q1", "Where?", "Paris", 25),
        {
            "id": "q2",
            "question": "Who won?",
            "is_impossible": True,
            "answers": [],
            "plausible_answers": [{"text": "Merkel", "answer_start": 7}],
        },
    ]
    data = tl.data.read_squad(squad_file(tmp_path, qas))
    assert data.answers[1] == [] and data.has_impossible
    assert data.answer_texts()[1] == [""]
    assert data.answer_words(1) == (-1, -1)


def test_mismatched_answer_start_names_the_question(tmp_path):
    path = squad_file(
        tmp_path,
        [question("q1", "Where?", "Paris", 20), question("q2", "When?", "2019", 35)],
    )
    with pytest.raises(
        DataError,
        match=r"question q1: answer_start 20 does not point at the answer 'Paris'",
    ):
        tl.data.read_squad(path)
    with pytest.warns(UserWarning, match="1 questions had answers"):
        data = tl.data.read_squad(path, skip_mismatched=True)
    assert data.ids == ["q2", "sky"]


@pytest.mark.parametrize(
    "qas, context, message",
    [
        (
            [question("q1", "  ", "Paris", 25)],
            CONTEXT,
            "question q1: the question is empty",
        ),
        (
            [question("q1", "Where?", "Paris", 25)],
            " ",
            "paragraph 0: the context is empty",
        ),
        (
            [{"id": "q1", "question": "Where?", "answers": []}],
            CONTEXT,
            "question q1: no answers",
        ),
        (
            [{"id": "q1", "question": "Where?"}],
            CONTEXT,
            "question q1: expected a field 'answers'",
        ),
    ],
)
def test_bad_records_are_named(tmp_path, qas, context, message):
    with pytest.raises(DataError, match=message):
        tl.data.read_squad(squad_file(tmp_path, qas, context=context))


def test_invalid_json_gives_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"data": [\n  {"title": "x",\n}')
    with pytest.raises(
        DataError, match=r"broken.json, line 3, column 1: not valid JSON"
    ):
        tl.data.read_squad(str(path))


def test_normalisation_matches_the_official_script():
    assert tl.metrics.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert tl.metrics.normalize_answer("an apple, a pear") == "apple pear"
    assert tl.metrics.normalize_answer("Theatre") == "theatre"  # "the" only as a word


def test_exact_match_and_f1_hand_computed():
    assert tl.metrics.exact_match("the Broncos", "Broncos") == 1.0
    # prediction {denver, broncos} vs gold {broncos}: P = 1/2, R = 1, F1 = 2/3.
    assert tl.metrics.token_f1("Denver Broncos", "the Broncos") == pytest.approx(2 / 3)
    # {in, 2019, paris} vs {paris}: P = 1/3, R = 1 → F1 = 0.5.
    assert tl.metrics.token_f1("in 2019 Paris", "Paris") == pytest.approx(0.5)
    assert tl.metrics.token_f1("blue", "red") == 0.0
    assert tl.metrics.token_f1("", "") == 1.0 and tl.metrics.token_f1("", "x") == 0.0


def test_squad_scores_take_the_best_gold_answer():
    scores = tl.metrics.squad_scores(
        ["Denver Broncos", "blue sky", ""],
        [["Broncos", "Denver Broncos"], ["the sky"], [""]],
    )
    # EM: 1 + 0 + 1 over 3; F1: 1 + 2/3 + 1 over 3.
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        tl.metrics.squad_scores(["a", "b"], [["a"]])

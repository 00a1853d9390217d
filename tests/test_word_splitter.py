import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.data.word_splitter import WordSplitter
from tlnlp_tf.data.word_splitter import word_shape
from tlnlp_tf.data.words import split_words

# CoNLL-2003 style training words: abbreviations, hyphens, numbers kept whole.
CONLL_LIKE = [
    ["U.S.", "officials", "said", "the", "cross-border", "talks", "failed", "."],
    ["Mr.", "Smith", "paid", "1,000", "dollars", "at", "3.5", "percent", "."],
    ["The", "long-term", "U.K.", "plan", "cost", "2,500", "or", "4.25", "."],
    ["He", "left", "Paris", "for", "the", "U.S.", "on", "Monday", "."],
]

TEXTS = [
    "",
    "   ",
    "Merkel visited Paris.",
    "In the U.S., a well-known firm paid $3.75 (or 1,250,000?) to Mr. Smith.",
    "Paris.Then he said: «ça va?» — naïve café…",
    "北京欢迎你。Tokyo-based U.S.-listed firms",
    "tabs\tand\nnewlines  U.S.\u00a0U.K.",
    "a_b __init__ e.g. i.e., x--y 3.5.",
]


@pytest.fixture
def splitter():
    return WordSplitter().fit(CONLL_LIKE)


def words(splitter, text):
    return [word for word, _, _ in splitter.split(text)]


@pytest.mark.parametrize("text", TEXTS)
def test_unfitted_splits_as_split_words(text):
    assert WordSplitter().split(text) == split_words(text)
    assert not WordSplitter().fitted


def test_learns_words_and_shapes(splitter):
    assert {"U.S.", "U.K.", "Mr.", "cross-border", "3.5", "1,000"} <= splitter.whole
    assert "Paris" not in splitter.whole and "." not in splitter.whole
    # Two different words per shape; "a." (Mr.) must not generalise.
    assert {"a-a", "0.0", "0,0", "a.a."} <= splitter.shapes
    assert "a." not in splitter.shapes
    assert [word_shape(w) for w in ["cross-border", "3.5", "U.S."]] == [
        "a-a",
        "0.0",
        "a.a.",
    ]


def test_keeps_training_words_and_shapes_whole(splitter):
    assert words(splitter, "He went to the U.S. today.") == [
        "He",
        "went",
        "to",
        "the",
        "U.S.",
        "today",
        ".",
    ]
    text = "In the U.S., a well-known firm paid 3.75 to Mr. Smith."
    assert words(splitter, text) == [
        "In",
        "the",
        "U.S.",
        ",",
        "a",
        "well-known",  # unseen, but "a-a" was learned
        "firm",
        "paid",
        "3.75",
        "to",
        "Mr.",
        "Smith",
        ".",
    ]
    # A sentence-final period is not absorbed: "a." stays exact-match only.
    assert words(splitter, "He visited Paris.") == ["He", "visited", "Paris", "."]
    assert words(splitter, "Corp.") == ["Corp", "."]
    # An unseen abbreviation of the learned shape is one word.
    assert words(splitter, "the E.U. said") == ["the", "E.U.", "said"]
    assert words(splitter, "(U.S.)") == ["(", "U.S.", ")"]


def test_clitics_and_the_final_period_split_as_in_training():
    splitter = WordSplitter().fit(
        [
            ["O'Neill", "and", "D'Alema", "met", "Bitar", "'s", "aide", "."],
            ["Prices", "rose", "6", ".", "1.", "Smith", "U.S.", "Corp.", "..."],
            ["They", "left", "the", "U.S", "."],
        ]
    )
    assert "a'a" in splitter.shapes and "'s" in splitter.whole
    # A shape does not swallow the clitic the training data split off.
    assert words(splitter, "Lara's O'Brien") == ["Lara", "'s", "O'Brien"]
    # The text's last period ends the sentence ("1." is whole elsewhere) ...
    assert words(splitter, "It rose 1.") == ["It", "rose", "1", "."]
    assert words(splitter, "1. Smith") == ["1.", "Smith"]
    assert words(splitter, "He left the U.S.") == ["He", "left", "the", "U.S", "."]
    assert words(splitter, "Acme Corp.") == ["Acme", "Corp", "."]
    # ... unless the word is none without it, or the period is an ellipsis's.
    assert words(WordSplitter(["U.S."]), "the U.S.") == ["the", "U.S."]
    assert words(splitter, "Wait...") == ["Wait", "..."]


def test_runs_of_letters_never_become_a_shape():
    # Word-segmented Chinese: "北京" is two split_words pieces, kept as itself
    # only; no shape merges any run of CJK characters.
    splitter = WordSplitter().fit([["北京", "上海", "欢迎", "你"]])
    assert splitter.shapes == frozenset()
    assert words(splitter, "北京欢迎你去广州") == [
        "北京",
        "欢迎",
        "你",
        "去",
        "广",
        "州",
    ]
    long_word = "-".join("abcdefghijklmnopqrst")  # 39 pieces
    assert WordSplitter().fit([[long_word, "a-b"]]).max_pieces == 16


@pytest.mark.parametrize("text", TEXTS)
def test_offsets_slice_the_text_exactly(splitter, text):
    found = splitter.split(text)
    for word, start, end in found:
        assert text[start:end] == word and word.strip() == word and word
    starts = [start for _, start, _ in found]
    assert starts == sorted(starts)
    # The words cover every non-space character, once each.
    assert "".join(word for word, _, _ in found) == "".join(text.split())


def test_config_round_trip(splitter):
    config = splitter.get_config()
    assert set(config) == {"whole", "shapes", "max_pieces"}
    assert all(isinstance(config[key], list) for key in ("whole", "shapes"))
    restored = WordSplitter.from_config(config)
    assert restored == splitter
    for text in TEXTS:
        assert restored.split(text) == splitter.split(text)
    assert tl.data.WordSplitter is WordSplitter


def test_fit_caps_the_words_it_keeps():
    many = [[f"w{i}-x" for i in range(6000)], ["w1-x"] * 3]
    splitter = WordSplitter().fit(many)
    assert len(splitter.whole) == 5000 and "w1-x" in splitter.whole


def test_token_classifier_splits_raw_text_as_its_training_data(tiny_preset, tmp_path):
    keras.utils.set_random_seed(0)
    tags = ["O", "B-LOC", "I-LOC"]
    model = tl.TokenClassifier.from_backbone(tiny_preset, tags=tags)
    assert not model.word_splitter.fitted
    assert model.get_config()["word_splitter"] is None
    sentences = ["he went to the U.S. today .", "the cross-border talks ."]
    labels = ["O O O O B-LOC O O", "O O O O"]
    model.fit(sentences, labels, batch_size=2, epochs=1, verbose=0)
    assert "U.S." in model.word_splitter.whole
    text = "He went to the U.S. today."
    [tags_found], _ = model.predict_tags([text])
    assert len(tags_found) == 7  # "U.S." is one word, the final "." another
    for entity in model.predict([text])[0]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    fitted = model.word_splitter
    later = ["a b-c ."]  # a later fit reads its data through the same hook
    model._choose_max_length(later)
    assert model.word_splitter is fitted  # not fitted again by a later fit

    path = str(tmp_path / "tagger.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.word_splitter == fitted
    assert restored.predict_tags([text])[0] == model.predict_tags([text])[0]
    restored._choose_max_length(later)
    assert restored.word_splitter == fitted  # restored: kept as it is

    # A config without the key (a model saved before splitters) still loads.
    config = model.get_config()
    del config["word_splitter"]
    old = tl.TokenClassifier.from_config(config)  # (its vocabulary is an asset)
    assert not old.word_splitter.fitted
    assert old.word_splitter.split(text) == split_words(text)

    # A splitter given to the constructor is used as it is.
    given = tl.TokenClassifier.from_backbone(
        tiny_preset, tags=tags, word_splitter={"whole": ["x-ray"], "shapes": []}
    )
    given._choose_max_length(sentences)
    assert given.word_splitter.whole == {"x-ray"}
    assert len(given.predict_tags(["an x-ray of the U.S."])[0][0]) == 8
    with pytest.raises(tl.PolicyError, match="word_splitter"):
        tl.TokenClassifier.from_backbone(tiny_preset, tags=tags, word_splitter=3)

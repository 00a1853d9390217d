"""`WordTagger`: a BiLSTM (+ CRF) tagger on static vectors learns a toy NER set."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gensim.models import KeyedVectors

import tlnlp_tf as tl
from tlnlp_tf.data import TaggedSentences
from tlnlp_tf.tasks.word_tagger import WordTagger
from tlnlp_tf.tasks.word_tagger import token_vocabulary

NAMES = ["ann", "bob", "carl", "dana"]
PLACES = ["paris", "rome", "new york", "oslo"]


def toy_sentences(count, seed=0):
    """'ann was in new york .' and 'in rome , bob slept .' with IOB2 tags."""
    rng = np.random.default_rng(seed)
    words, tags = [], []
    for i in range(count):
        name = NAMES[rng.integers(len(NAMES))]
        place = PLACES[rng.integers(len(PLACES))].split()
        place_tags = ["B-LOC"] + ["I-LOC"] * (len(place) - 1)
        if i % 2:
            words.append([name, "was", "in", *place, "."])
            tags.append(["B-PER", "O", "O", *place_tags, "O"])
        else:
            words.append(["in", *place, ",", name, "slept", "."])
            tags.append(["O", *place_tags, "O", "B-PER", "O", "O"])
    return TaggedSentences(words, tags, source="toy")


def trained(crf):
    keras.utils.set_random_seed(0)
    data = toy_sentences(48)
    model = WordTagger.from_vectors(
        None, data.words, data.tag_names(), crf=crf, units=16, embedding_dim=16
    )
    model.compile(learning_rate=1e-2)
    model.fit(data, epochs=8, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def plain():
    return trained(crf=False)


@pytest.fixture(scope="module")
def with_crf():
    return trained(crf=True)


@pytest.mark.parametrize("name", ["plain", "with_crf"])
def test_learns_the_toy_entities(name, request):
    model = request.getfixturevalue(name)
    held_out = toy_sentences(16, seed=1)
    assert model.score(held_out)["f1"] >= 0.9
    tags, scores = model.predict_tags([["bob", "was", "in", "oslo", "."]])
    assert tags == [["B-PER", "O", "O", "B-LOC", "O"]]
    assert len(scores[0]) == 5 and all(0 < s <= 1 for s in scores[0])
    logs = model.evaluate(held_out, verbose=0, return_dict=True)
    assert logs["f1"] == model.score(held_out)["f1"]  # the entity scores, as score
    if name == "plain":
        assert logs["accuracy"] >= 0.9  # padding left out


def test_crf_model_trains_on_the_crf_loss(with_crf, plain):
    assert isinstance(with_crf.loss, tl.layers.crf.CRFLoss)
    assert with_crf.loss.crf is with_crf.crf_layer
    assert plain.crf_layer is None
    with pytest.raises(tl.PolicyError, match="crf=True"):
        with_crf.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(tl.PolicyError, match="CRFLoss"):
        plain.compile(loss=tl.layers.crf.CRFLoss(with_crf.crf_layer))


@pytest.mark.parametrize("name", ["plain", "with_crf"])
def test_keras_round_trip_predicts_the_same(name, request, tmp_path):
    model = request.getfixturevalue(name)
    path = str(tmp_path / "tagger.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, WordTagger) and loaded.crf == model.crf
    sentences = toy_sentences(8, seed=2).words + [["zed", "was", "in", "rome"]]
    expected_tags, expected_scores = model.predict_tags(sentences)
    tags, scores = loaded.predict_tags(sentences)
    assert tags == expected_tags
    np.testing.assert_allclose(np.concatenate(scores), np.concatenate(expected_scores))
    if model.crf:
        np.testing.assert_allclose(
            loaded.crf_layer.transitions.numpy(), model.crf_layer.transitions.numpy()
        )
        assert loaded.loss.crf is loaded.crf_layer  # ready to train again


def test_predict_offsets_slice_the_input(plain):
    texts = ["Ann was in New York.", "In Rome ,  Bob slept ."]
    results = plain.predict(texts)
    assert [(e["text"], e["type"]) for e in results[0]] == [
        ("Ann", "PER"),
        ("New York", "LOC"),
    ]
    for text, entities in zip(texts, results):
        for entity in entities:
            assert text[entity["start"] : entity["end"]] == entity["text"]


def test_chinese_characters_are_tokens():
    keras.utils.set_random_seed(0)
    words = [list("张三在北京。"), list("李四在上海，很好")]
    tags = [
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"],
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "O"],
    ]
    data = TaggedSentences(words, tags)
    model = WordTagger.from_vectors(
        None, data.words, data.tag_names(), units=8, embedding_dim=8
    )
    assert "，" in model.vocabulary and "。" in model.vocabulary
    ids, targets, weights = next(iter(model._pipeline(data.to_dataset().batch(2))))
    assert ids.shape == targets.shape == weights.shape == (2, 8)
    assert weights.numpy().sum() == 14  # padding weighs nothing
    text = "王五 在北京。"
    (entities,) = model.predict([text])
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    tags, _ = model.predict_tags([text])
    assert len(tags[0]) == 6  # 王 五 在 北 京 。


def test_from_vectors_starts_at_the_vectors():
    words = ["paris", "rome", ".", "ann", "Oslo", "extra"]
    vectors = KeyedVectors(8)
    vectors.add_vectors(words, np.random.default_rng(0).normal(size=(6, 8)))
    data = toy_sentences(8)
    model = WordTagger.from_vectors(vectors, data.words, data.tag_names(), units=8)
    matrix = model.embedding.embeddings.numpy()
    vocabulary = model.vocabulary
    assert matrix.shape == (len(vocabulary), 8)
    for word in ["paris", "rome", ".", "ann"]:  # "." kept: not stripped
        np.testing.assert_array_equal(matrix[vocabulary.index(word)], vectors[word])
    assert "extra" in vocabulary  # the vectors' own words follow
    np.testing.assert_array_equal(matrix[:2], 0.0)
    assert model.vectors_found >= 5

    cased = WordTagger.from_vectors(
        vectors, [["Oslo", "Bob"]], ["O", "B-LOC", "I-LOC"], lowercase=False
    )
    row = cased.vocabulary.index("Oslo")
    np.testing.assert_array_equal(
        cased.embedding.embeddings.numpy()[row], vectors["Oslo"]
    )
    ids = cased.token_ids(tf.constant(["Oslo oslo Bob"])).numpy()
    assert ids[0, 0] == row and ids[0, 1] == 1  # case-sensitive: "oslo" unknown


def test_random_embeddings_and_frozen():
    data = toy_sentences(8)
    model = WordTagger.from_vectors(
        None, data.words, data.tag_names(), embedding_dim=12, freeze_embeddings=True
    )
    assert model.embedding.embeddings.shape[1] == 12
    assert not model.embedding.trainable
    assert model.vectors_found == 0
    assert token_vocabulary([["a", "B"], ["b"]]) == ["", "[UNK]", "b", "a"]


def test_unknown_tag_names_the_sentence(plain):
    data = toy_sentences(4)
    data.tags[2][0] = "B-ORG"
    with pytest.raises(tl.DataError, match=r"toy, sentence 3 .*'B-ORG'"):
        plain.fit(data, epochs=1, verbose=0)
    with pytest.raises(tl.DataError, match="sentence 1 .*2 tokens but 1 tags"):
        plain.evaluate([["ann", "slept"]], [["B-PER"]], verbose=0)
    with pytest.raises(tl.DataError, match="batch"):
        plain.fit(data.to_dataset(), verbose=0)
    # In a dataset the tags are checked in the graph: a one-line DataError too.
    with pytest.raises(tl.DataError, match="Unknown tag.*B-ORG"):
        plain.fit(data.to_dataset().batch(4), verbose=0)


def test_predict_splits_text_as_the_training_words_were_split():
    data = TaggedSentences(
        [["ann", "was", "in", "the", "U.S.", "."]] * 4,
        [["B-PER", "O", "O", "O", "B-LOC", "O"]] * 4,
    )
    model = WordTagger.from_vectors(None, data.words, data.tag_names(), units=4)
    model.fit(data, epochs=1, verbose=0)
    assert "U.S." in model.word_splitter.whole
    tags, _ = model.predict_tags(["bob was in the U.S. ."])
    assert len(tags[0]) == 6  # "U.S." one token, as in training
    restored = WordTagger.from_config(model.get_config())
    assert restored.word_splitter == model.word_splitter

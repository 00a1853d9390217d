import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import NEGATIVE
from conftest import POSITIVE
from conftest import toy_examples
from gensim.models import KeyedVectors

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.pretraining import word_vectors

LABELS = ["neg", "pos"]
WORD2VEC_TEXT = "3 4\ngood 1 2 3 4\nbad -1 -2 -3 -4\nfilm 0 0.5 1 0\n"
GLOVE_TEXT = "good 1 2 3 4\nbad -1 -2 -3 -4\nfilm 0 0.5 1 0\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def vectors():
    """16-dim vectors for the toy vocabulary but 'cast', plus 'Plot' and 'Movie'."""
    words = [
        w
        for w in (" ".join(toy_examples(64)[0]) + " brilliant").split()
        if w not in ("cast", ".", "plot", "movie")
    ]
    words = list(dict.fromkeys(words)) + ["Plot", "Movie", "movie,"]
    kv = KeyedVectors(16)
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 16)))
    return kv


@pytest.fixture(scope="module")
def frozen_cnn(vectors):
    """A CNN on frozen vectors and its embedding matrix before one epoch of fit."""
    texts, labels = toy_examples(64)
    keras.utils.set_random_seed(0)
    model = tl.WordClassifier.from_vectors(
        vectors, texts=texts, labels=LABELS, freeze_embeddings=True
    )
    before = [w.numpy().copy() for w in model.weights]
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0)
    return model, before


# === Reading vectors ===


def test_text_glove_and_binary_formats_load(tmp_path):
    text = word_vectors.load_vectors(write(tmp_path, "w2v.txt", WORD2VEC_TEXT))
    glove = word_vectors.load_vectors(write(tmp_path, "glove.txt", GLOVE_TEXT + "\n"))
    assert text.index_to_key == glove.index_to_key == ["good", "bad", "film"]
    np.testing.assert_array_equal(text["film"], [0, 0.5, 1, 0])
    np.testing.assert_array_equal(glove.vectors, text.vectors)
    binary = str(tmp_path / "w2v.bin")
    text.save_word2vec_format(binary, binary=True)
    loaded = word_vectors.load_vectors(binary)  # detected by the extension
    assert loaded.index_to_key == text.index_to_key
    np.testing.assert_array_equal(loaded.vectors, text.vectors)
    assert len(word_vectors.load_vectors(binary, format="binary", limit=2)) == 2
    assert (
        len(word_vectors.load_vectors(str(tmp_path / "glove.txt"), "glove", limit=1))
        == 1
    )


def test_compressed_and_fasttext_files(tmp_path):
    import gzip

    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    compressed = tmp_path / "w2v.txt.gz"
    compressed.write_bytes(gzip.compress(WORD2VEC_TEXT.encode()))
    assert word_vectors.load_vectors(str(compressed)).index_to_key == [
        "good",
        "bad",
        "film",
    ]

    sentences = word_vectors.tokenize(toy_examples(40)[0])
    model = FastText(vector_size=8, min_count=1, workers=1, seed=0, bucket=1000)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=1)
    path = str(tmp_path / "model.bin")
    save_facebook_model(model, path)
    loaded = word_vectors.load_vectors(path)  # a fastText model, by its magic number
    matrix, found = word_vectors.embedding_matrix(
        ["", "[UNK]", "film", "filmish"], loaded
    )
    assert found.tolist() == [False, False, True, True]  # "filmish": from its n-grams
    np.testing.assert_array_equal(matrix[2], loaded["film"])
    np.testing.assert_allclose(matrix[3], loaded["filmish"])
    assert "filmish" not in loaded.key_to_index


def test_inconsistent_dimension_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.txt", "3 4\ngood 1 2 3 4\nbad -1 -2 -3\nfilm 0 0 1 0\n")
    with pytest.raises(tl.DataError) as error:
        word_vectors.load_vectors(path)
    message = str(error.value)
    assert path in message and "line 3" in message
    assert "expected 4 values" in message and "found 3" in message
    glove = write(tmp_path, "glove.txt", "good 1 2 3\nbad 1 2 3\nfilm 1 2 3 4 5\n")
    with pytest.raises(
        tl.DataError, match=r"glove.txt, line 3: expected 3 values .*line 1.*found 5"
    ):
        word_vectors.load_vectors(glove, format="glove")


def test_other_bad_files_are_named(tmp_path):
    missing = str(tmp_path / "nope.vec")
    with pytest.raises(tl.DataError, match="nope.vec: no such file"):
        word_vectors.load_vectors(missing)
    value = write(tmp_path, "value.txt", "good 1 2\nbad 1 x\n")
    with pytest.raises(
        tl.DataError, match=r"value.txt, line 2: value 'x' is not a number"
    ):
        word_vectors.load_vectors(value)
    count = write(tmp_path, "count.txt", "5 4\ngood 1 2 3 4\n")
    with pytest.raises(tl.DataError, match="declares 5 vectors, the file has 1"):
        word_vectors.load_vectors(count)
    with pytest.raises(
        tl.DataError, match="line 1: expected the word2vec header.*glove"
    ):
        word_vectors.load_vectors(
            write(tmp_path, "g.txt", GLOVE_TEXT), format="word2vec"
        )
    with pytest.raises(tl.PolicyError, match="format must be one of"):
        word_vectors.load_vectors(value, format="csv")


# === Vocabulary, embeddings and the OOV policy ===


def test_oov_policy(vectors):
    texts = ["The cast was brilliant, the plot was GOOD.", "the movie was bad"]
    vocabulary = word_vectors.build_vocabulary(texts, max_tokens=1000, vectors=vectors)
    ours = [
        "",
        "[UNK]",
        "the",
        "was",
        "cast",
        "brilliant",
        "plot",
        "good",
        "movie",
        "bad",
    ]
    assert vocabulary[:10] == ours  # the texts' words, most frequent first
    # then the vectors' own words in file order, but keys that are not words of ours
    assert vocabulary[10:] == [
        w for w in vectors.index_to_key if w not in ours + ["Plot", "Movie", "movie,"]
    ]
    assert "great" in vocabulary and len(set(vocabulary)) == len(vocabulary)
    assert word_vectors.build_vocabulary(texts, 12, vectors) == vocabulary[:12]
    assert word_vectors.build_vocabulary(texts, 5, vectors) == ours[:5]
    matrix, found = word_vectors.embedding_matrix(vocabulary, vectors, seed=3)
    row = vocabulary.index
    np.testing.assert_array_equal(matrix[:2], 0.0)  # padding and [UNK]
    for word in ("the", "brilliant", "good", "great"):
        np.testing.assert_array_equal(
            matrix[row(word)], vectors[word]
        )  # exactly its vector
    np.testing.assert_array_equal(
        matrix[row("plot")], vectors["Plot"]
    )  # a key tokenizing to it
    np.testing.assert_array_equal(
        matrix[row("movie")], vectors["Movie"]
    )  # the most frequent one
    assert not found[row("cast")] and found[row("plot")]
    scale = np.sqrt(3.0) * np.std(matrix[found])
    cast = matrix[row("cast")]
    assert np.all(np.abs(cast) <= scale) and np.any(cast != 0)
    again, _ = word_vectors.embedding_matrix(vocabulary, vectors, seed=3)
    np.testing.assert_array_equal(again, matrix)  # seeded

    model = tl.WordClassifier.from_vectors(
        vectors, texts=texts, labels=LABELS, max_tokens=1000, seed=3
    )
    assert model.vocabulary == vocabulary and model.vectors_found == int(found.sum())
    np.testing.assert_array_equal(model.embedding.embeddings.numpy(), matrix)
    ids = model.token_ids(tf.constant(["the PLOT, was   unheard-of!", ""])).numpy()
    assert ids.tolist() == [[row("the"), row("plot"), row("was"), 1], [1, 0, 0, 0]]


def test_model_tokenization_is_word2vec_tokenization(vectors):
    texts = ["It's a GREAT film!!", "naïve, über-cool; (really)  \t spaced"]
    model = tl.WordClassifier.from_vectors(
        None, texts=texts, num_classes=2, embedding_dim=4
    )
    ids = model.token_ids(tf.constant(texts)).numpy()
    words = [[model.vocabulary[i] for i in row if i] for row in ids]
    assert words == word_vectors.tokenize(texts)
    assert words[0] == ["its", "a", "great", "film"]


# === WordClassifier ===


def test_frozen_embeddings_stay_bit_identical(frozen_cnn):
    model, before = frozen_cnn
    after = {w.path: w.numpy() for w in model.weights}
    names = [w.path for w in model.weights]
    embedding = model.embedding.embeddings.path
    assert embedding not in [w.path for w in model.trainable_weights]
    np.testing.assert_array_equal(after[embedding], before[names.index(embedding)])
    moved = [
        name for name, old in zip(names, before) if not np.array_equal(after[name], old)
    ]
    assert moved and embedding not in moved
    assert any("conv" in name for name in moved) and any(
        "logits" in name for name in moved
    )


def test_trainable_embeddings_move(vectors):
    texts, labels = toy_examples(32)
    model = tl.WordClassifier.from_vectors(
        vectors, texts=texts, labels=LABELS, encoder="bilstm"
    )
    before = model.embedding.embeddings.numpy().copy()
    ids = np.array([LABELS.index(label) for label in labels])
    model.fit(texts, ids, batch_size=16, epochs=1, verbose=0)  # lists, integer labels
    after = model.embedding.embeddings.numpy()
    used = np.unique(model.token_ids(tf.constant(texts)).numpy())
    assert not np.array_equal(after[used], before[used])
    unused = np.setdiff1d(np.arange(len(before)), used)
    np.testing.assert_array_equal(after[unused], before[unused])  # no gradient, no move


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_encoders_learn_the_toy_task(encoder):
    texts, labels = toy_examples(64, seed=0)
    held_texts, held_labels = toy_examples(32, seed=1)
    keras.utils.set_random_seed(0)
    model = tl.WordClassifier.from_vectors(
        None, texts=texts, labels=LABELS, encoder=encoder, embedding_dim=16
    )
    model.compile(learning_rate=1e-2)
    train = tl.data.from_lists(texts, labels).shuffle(64, seed=0).batch(16)
    model.fit(train, epochs=6, verbose=0)
    scores = model.evaluate(
        tl.data.from_lists(held_texts, held_labels).batch(32),
        return_dict=True,
        verbose=0,
    )
    assert set(scores) == {"loss", "accuracy", "f1"}
    assert scores["accuracy"] >= 0.8  # chance is 0.5 (measured: 1.0)
    result = model.predict(
        [f"the plot was very {POSITIVE[0]} .", f"the food was very {NEGATIVE[0]} ."]
    )
    assert result["label"] == ["pos", "neg"]
    assert result["probabilities"].shape == (2, 2)
    np.testing.assert_allclose(result["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(result["score"], result["probabilities"].max(axis=1))


def test_save_and_reload_same_predictions(frozen_cnn, tmp_path):
    model, _ = frozen_cnn
    texts = toy_examples(16, seed=2)[0] + ["a word never seen", ""]
    path = str(tmp_path / "words.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, tl.WordClassifier)
    assert restored.labels == LABELS and restored.vocabulary == model.vocabulary
    assert restored.freeze_embeddings and not restored.embedding.trainable
    assert restored.sequence_length == model.sequence_length
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 4
    a, b = model.predict(texts), restored.predict(texts)
    assert a["label"] == b["label"]
    np.testing.assert_array_equal(a["probabilities"], b["probabilities"])


def test_bad_model_input_is_explained(frozen_cnn):
    model, _ = frozen_cnn
    with pytest.raises(tl.DataError, match="batched dataset"):
        model.fit(tl.data.from_lists(["good"], ["pos"]), verbose=0)
    with pytest.raises(tl.DataError, match="no words"):
        tl.WordClassifier.from_vectors(None, texts=["...", " "], num_classes=2)
    with pytest.raises(tl.PolicyError, match="encoder must be one of"):
        tl.WordClassifier.from_vectors(
            None, texts=["good"], num_classes=2, encoder="rnn"
        )


# === Training vectors ===


def test_train_word2vec_on_a_tiny_corpus():
    texts = toy_examples(40)[0]
    trained = word_vectors.train_word2vec(texts, vector_size=12, min_count=1, epochs=2)
    words = {word for words in word_vectors.tokenize(texts) for word in words}
    assert set(trained.index_to_key) == words
    assert trained.vector_size == 12 and trained.vectors.shape == (len(words), 12)
    again = word_vectors.train_word2vec(texts, vector_size=12, min_count=1, epochs=2)
    np.testing.assert_array_equal(again.vectors, trained.vectors)  # workers=1, seed
    rare = word_vectors.train_word2vec(
        texts + ["zyzzyva"], vector_size=12, min_count=2, epochs=1
    )
    assert "zyzzyva" not in rare.key_to_index and "film" in rare.key_to_index


def test_empty_corpus_is_an_error_before_training():
    for texts in ([], ["", "  ", "!!! ..."]):
        with pytest.raises(tl.DataError, match="corpus is empty"):
            word_vectors.train_word2vec(texts)
    with pytest.raises(tl.DataError, match="min_count=2"):
        word_vectors.train_word2vec(["one two three"])


def test_cli_pretrain_word2vec(tmp_path, capsys):
    corpus = write(tmp_path, "reviews.txt", "\n".join(toy_examples(60)[0]) + "\n")
    output = str(tmp_path / "w2v")
    code = main(
        [
            "pretrain",
            "--kind",
            "word2vec",
            "--text",
            corpus,
            "--output",
            output,
            "--vector-size",
            "8",
            "--epochs",
            "2",
            "--min-count",
            "1",
        ]
    )
    assert code == 0
    assert sorted(os.listdir(output)) == ["pretrain.json", "vectors.txt"]
    loaded = word_vectors.load_vectors(os.path.join(output, "vectors.txt"))
    with open(os.path.join(output, "pretrain.json")) as file:
        report = json.load(file)
    assert report["kind"] == "word2vec" and report["text"] == corpus
    assert (
        report["documents"] == 60
        and report["vector_size"] == 8
        and report["epochs"] == 2
    )
    assert len(loaded) == report["vocabulary_size"] and loaded.vector_size == 8
    assert "wonderful" in loaded.key_to_index and "." not in loaded.key_to_index
    assert json.loads(capsys.readouterr().out)["vocabulary_size"] == len(loaded)
    model = tl.WordClassifier.from_vectors(
        os.path.join(output, "vectors.txt"), texts=["the film was good"], labels=LABELS
    )
    np.testing.assert_allclose(model.embedding.embeddings.numpy()[2], loaded["the"])

    empty = write(tmp_path, "empty.txt", "\n\n")
    code = main(
        [
            "pretrain",
            "--kind",
            "word2vec",
            "--text",
            empty,
            "--output",
            str(tmp_path / "none"),
        ]
    )
    assert code == 2 and "corpus is empty" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "none")
    punctuation = write(tmp_path, "punctuation.txt", "!!!\n...\n")
    code = main(
        [
            "pretrain",
            "--kind",
            "word2vec",
            "--text",
            punctuation,
            "--output",
            str(tmp_path / "none"),
        ]
    )
    assert code == 2 and "corpus is empty" in capsys.readouterr().err

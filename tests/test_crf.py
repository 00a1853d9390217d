import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers import CRF
from tlnlp_tf.layers import CRFLoss
from tlnlp_tf.layers.tag_transitions import allowed_transitions

TAGS = ["O", "B-PER", "I-PER", "B-LOC"]
# Row 0: four words; row 1: a word, a non-first sub-word, a word, padding.
MASK = np.array([[1, 1, 1, 1], [1, 0, 1, 0]], bool)


def _crf(tags=TAGS, seed=0, **kwargs):
    crf = CRF(tags, **kwargs)
    rng = np.random.default_rng(seed)
    count = crf.num_tags
    crf.transitions.assign(rng.normal(size=(count, count)).astype("float32"))
    crf.start_transitions.assign(rng.normal(size=count).astype("float32"))
    crf.end_transitions.assign(rng.normal(size=count).astype("float32"))
    return crf


def _emissions(seed=1, shape=(2, 4, 4), scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=shape)).astype("float32")


def _paths(crf, emissions, decoding):
    """`{path: score}` of every path the CRF allows, by enumeration, in float64."""
    pairs = crf.transitions.numpy().astype("float64")
    start = crf.start_transitions.numpy().astype("float64")
    end = crf.end_transitions.numpy().astype("float64")
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=len(emissions)):
        steps = list(zip(path[:-1], path[1:]))
        if not all(crf.allowed_pairs[i, j] for i, j in steps):
            continue
        if decoding and not (crf.allowed_start[path[0]] and crf.allowed_end[path[-1]]):
            continue
        score = start[path[0]] + end[path[-1]]
        score += sum(emissions[t, tag] for t, tag in enumerate(path))
        scores[path] = score + sum(pairs[i, j] for i, j in steps)
    return scores


@pytest.mark.parametrize("tags", [TAGS, 4])
def test_log_likelihood_is_brute_force_enumeration(tags):
    crf = _crf(tags)
    emissions = _emissions()
    gold = np.array([[1, 2, 0, 3], [3, 2, 0, 9]])  # masked positions: any value
    got = crf.log_likelihood(emissions, gold, MASK).numpy()
    for row in range(2):
        kept = emissions[row][MASK[row]].astype("float64")
        scores = _paths(crf, kept, decoding=False)
        log_partition = np.logaddexp.reduce(list(scores.values()))
        expected = scores[tuple(gold[row][MASK[row]])] - log_partition
        assert got[row] == pytest.approx(expected, abs=1e-4)
    # Weights work as a mask; an empty row has likelihood 0.
    weights = np.array([[0.5, 2, 1, 1], [0, 0, 0, 0]], "float32")
    both = crf.log_likelihood(emissions, gold, weights).numpy()
    assert both[0] == pytest.approx(got[0], abs=1e-5) and both[1] == 0.0


def test_viterbi_is_brute_force_argmax_in_a_graph():
    crf = _crf()
    decode = tf.function(
        crf.decode,
        input_signature=[
            tf.TensorSpec([None, None, 4], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ],
    )
    for seed in range(3):
        emissions = _emissions(seed, scale=2.0)
        got = decode(emissions, MASK).numpy()
        for row in range(2):
            scores = _paths(crf, emissions[row][MASK[row]], decoding=True)
            best = max(scores, key=scores.get)
            assert tuple(got[row][MASK[row]]) == best
            assert (got[row][~MASK[row]] == 0).all()


@pytest.mark.parametrize(
    "tags",
    [
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
        ["O", "B-PER", "I-PER", "E-PER", "S-PER"],
        ["B", "M", "E", "S"],
    ],
)
def test_decoding_never_breaks_the_scheme(tags):
    crf = _crf(tags, seed=3)
    # Transitions that reward exactly the forbidden moves, loud emissions.
    start, pairs, end = allowed_transitions(tags)
    crf.transitions.assign(np.where(pairs, -5.0, 5.0).astype("float32"))
    crf.start_transitions.assign(np.where(start, -5.0, 5.0).astype("float32"))
    crf.end_transitions.assign(np.where(end, -5.0, 5.0).astype("float32"))
    rng = np.random.default_rng(0)
    emissions = _emissions(4, shape=(300, 7, len(tags)), scale=10.0)
    mask = rng.random((300, 7)) < 0.7
    decoded = crf.decode(emissions, mask).numpy()
    for path, labelled in zip(decoded, mask):
        path = path[labelled]
        if len(path) == 0:
            continue
        assert start[path[0]] and end[path[-1]], [tags[i] for i in path]
        assert all(pairs[i, j] for i, j in zip(path[:-1], path[1:]))
    if tags[0] == "O":
        names = [[tags[i] for i in p[m]] for p, m in zip(decoded, mask)]
        assert not any(s and s[0].startswith("I-") for s in names)
        assert not any(
            a == "O" and b.startswith("I-") for s in names for a, b in zip(s, s[1:])
        )


def _tagger(tags=("O", "B-LOC", "I-LOC")):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 6))
    crf = CRF(list(tags), name="crf")
    model = keras.Model(inputs, crf(keras.layers.Dense(len(tags))(inputs)))
    model.compile(keras.optimizers.Adam(0.05), loss=CRFLoss(crf))
    return model, crf


def _batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 6)).astype("float32")
    y = rng.integers(0, 3, size=(8, 5))
    y[y == 2] = 1  # no I-LOC after O: gold paths that the scheme allows
    y[:, 1] = np.where(y[:, 0] == 1, 2, y[:, 1])  # and some B-LOC I-LOC
    weights = (rng.random((8, 5)) < 0.8).astype("float32")
    weights[:, 0] = 1.0
    return x, y, weights


def test_one_step_lowers_the_negative_log_likelihood():
    model, crf = _tagger()
    x, y, weights = _batch()
    loss = CRFLoss(crf)
    before = float(loss(y, model(x), weights))
    transitions = crf.transitions.numpy().copy()
    model.train_on_batch(x, y, sample_weight=weights)
    after = float(loss(y, model(x), weights))
    assert after < before
    assert not np.allclose(crf.transitions.numpy(), transitions)
    # Per labelled token: the mean of each row's NLL shared over its tokens.
    nll = -crf.log_likelihood(model(x), y, weights).numpy()
    assert after == pytest.approx(nll.sum() / weights.sum(), rel=1e-5)


def test_gradients_and_decoding_compile_with_xla():
    # Keras compiles `fit` with XLA by default on a GPU.
    crf, (x, y, weights) = _crf(["O", "B-LOC", "I-LOC"]), _batch()
    emissions = tf.constant(x[..., :3])

    @tf.function(jit_compile=True)
    def step(emissions):
        with tf.GradientTape() as tape:
            loss = CRFLoss(crf)(y, emissions, weights)
        return tape.gradient(loss, crf.trainable_variables), crf.decode(emissions)

    gradients, decoded = step(emissions)
    assert all(np.isfinite(g.numpy()).all() for g in gradients)
    assert np.abs(gradients[0].numpy()).sum() > 0
    np.testing.assert_array_equal(decoded, crf.decode(emissions))


def test_saves_and_reloads_with_the_same_decode(tmp_path):
    model, crf = _tagger()
    x, y, weights = _batch()
    model.train_on_batch(x, y, sample_weight=weights)
    path = str(tmp_path / "crf.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    again = loaded.get_layer("crf")
    assert again.get_config()["tags"] == ["O", "B-LOC", "I-LOC"]
    np.testing.assert_array_equal(
        again.decode(loaded.predict(x, verbose=0), weights),
        crf.decode(model.predict(x, verbose=0), weights),
    )
    # The restored loss has no layer: compile again to train, as documented.
    with pytest.raises(PolicyError, match="CRFLoss"):
        loaded.train_on_batch(x, y, sample_weight=weights)


@pytest.mark.parametrize(
    "tags, scheme, named",
    [
        (["O", "B-PER", "PER"], "auto", "'PER'"),
        (["O", "B-PER", "X-PER"], "auto", "'X-PER'"),
        (["O", "B-PER", "I-PER", "M-LOC"], "auto", "'I-PER'"),
        (["O", "I-PER"], "auto", "'I-PER'.*'B-PER'"),
        (["O", "B-PER", "I-PER", "S-PER"], "auto", "'B-PER'.*'E-PER'"),
        (["O", "B-PER", "E-PER"], "iob2", "'E-PER'"),
        (["O", "O"], "auto", "distinct"),
        (["O", "B-PER"], "bilou", "scheme"),
        (4, "iob2", "tag names"),
    ],
)
def test_tags_the_scheme_cannot_read_raise(tags, scheme, named):
    with pytest.raises(PolicyError, match=named) as error:
        CRF(tags, scheme=scheme)
    assert "\n" not in str(error.value)


def test_unconstrained_and_wrong_width():
    start, pairs, end = allowed_transitions(["O", "PER"], scheme="none")
    assert start.all() and pairs.all() and end.all()
    with pytest.raises(PolicyError, match="one per tag"):
        CRF(TAGS).decode(np.zeros((1, 2, 3), "float32"))

"""Samplers on hand-built Markov models: the sequences each must choose, exactly.

A model here is a `next(prompt, cache, index)` over a fixed table: the
logits of the next token depend on the previous token only. Beam search is
checked against the best sequence found by brute force over all sequences.
"""

import itertools

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tlnlp_tf.decoding import PenalizedSampler
from tlnlp_tf.decoding import block_repeated_ngrams
from tlnlp_tf.decoding import make_sampler
from tlnlp_tf.decoding import penalize_repetitions
from tlnlp_tf.errors import PolicyError

# From token 0, going to 1 looks best (0.58) but 1 leads nowhere (at most
# 0.34): greedy finds 0 1 0 (0.197), the best is 0 2 2 (0.4 * 0.9 = 0.36).
TRAP = np.log(
    np.array(
        [
            [0.02, 0.58, 0.40],
            [0.34, 0.33, 0.33],
            [0.05, 0.05, 0.90],
        ]
    )
)


def markov(table):
    """`next` of a first-order Markov model with `table[previous]` as logits."""
    table = tf.constant(table, tf.float32)

    def next(prompt, cache, index):
        previous = tf.gather(prompt, index - 1, axis=1)
        return tf.gather(table, previous), None, cache

    return next


def start(batch, length, token=0):
    """Prompts of `length` positions holding the start `token`, generated from 1."""
    return tf.fill([batch, length], tf.constant(token, tf.int32))


def generate(sampler, table, batch=1, length=3, jit=False):
    next = markov(table)

    def run(prompt):
        return sampler(next, prompt, index=1)

    if jit:
        run = tf.function(run, jit_compile=True)
    return run(start(batch, length)).numpy()


def log_likelihood(table, sequence):
    log_probs = tf.nn.log_softmax(tf.constant(table, tf.float32)).numpy()
    return sum(log_probs[a, b] for a, b in zip(sequence, sequence[1:]))


def brute_force_best(table, length):
    vocabulary = len(table)
    candidates = [
        (0,) + rest for rest in itertools.product(range(vocabulary), repeat=length - 1)
    ]
    return list(max(candidates, key=lambda s: log_likelihood(table, s)))


def test_greedy_follows_the_most_likely_token():
    assert generate(make_sampler("greedy"), TRAP).tolist() == [[0, 1, 0]]


def test_beam_finds_the_best_sequence_greedy_misses():
    best = brute_force_best(TRAP, 3)
    assert best == [0, 2, 2]
    assert generate(make_sampler("beam", num_beams=2), TRAP).tolist() == [best]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_wide_enough_is_exact_on_random_models(seed):
    # With as many beams as prefixes, beam search keeps every prefix: exact.
    table = np.random.default_rng(seed).normal(scale=2.0, size=(3, 3))
    length = 4
    best = brute_force_best(table, length)
    found = generate(make_sampler("beam", num_beams=9), table, length=length)
    assert found.tolist() == [best]


def test_top_k_with_k_1_is_greedy():
    sampler = make_sampler("top_k", k=1, seed=3)
    assert generate(sampler, TRAP, batch=4).tolist() == [[0, 1, 0]] * 4


def test_top_p_samples_only_from_the_nucleus():
    # Every row: 0.5, 0.3, 0.15, 0.05. With p = 0.7 the nucleus is {0, 1}.
    table = np.log(np.tile([0.5, 0.3, 0.15, 0.05], (4, 1)))
    tokens = generate(make_sampler("top_p", p=0.7, seed=0), table, batch=64, length=9)
    generated = set(tokens[:, 1:].ravel().tolist())
    assert generated == {0, 1}


def test_repetition_penalty_changes_a_repeated_choice():
    # Raw logits, the same from every token: 1 wins unless penalized.
    table = np.tile([1.0, 2.0, 1.5], (3, 1))
    plain = generate(make_sampler("greedy"), table, length=4)
    assert plain.tolist() == [[0, 1, 1, 1]]
    penalized = generate(make_sampler("greedy", repetition_penalty=2.0), table, 1, 4)
    # After "0 1": 1 -> 2.0 / 2 = 1.0 < 1.5, so 2. After "0 1 2": 0.5, 1.0, 0.75.
    assert penalized.tolist() == [[0, 1, 2, 1]]


def test_penalty_divides_positive_and_multiplies_negative_logits():
    logits = tf.constant([[2.0, -1.0, 3.0, 0.5]])
    out = penalize_repetitions(logits, tf.constant([[0, 1, 0, 2]]), 2, 2.0)
    # Only positions 0 and 1 count: tokens 0 and 1, not 2.
    np.testing.assert_allclose(out.numpy(), [[1.0, -2.0, 3.0, 0.5]])


def test_block_repeated_ngrams_forbids_the_completing_token():
    prompt = tf.constant([[1, 2, 3, 1, 0], [1, 2, 1, 2, 0]])
    logits = tf.zeros([2, 4])
    two = block_repeated_ngrams(logits, prompt, 4, 2).numpy()
    # Row 0: "1 2" occurred and the last token is 1 -> 2 is forbidden.
    # Row 1: the last token is 2; "2 1" occurred -> 1 is forbidden.
    assert (two < -1e8).tolist() == [
        [False, False, True, False],
        [False, True, False, False],
    ]
    three = block_repeated_ngrams(logits, prompt, 4, 3).numpy()
    # Row 0: "3 1" never began a trigram. Row 1: "1 2" began "1 2 1".
    assert (three < -1e8).tolist() == [
        [False, False, False, False],
        [False, True, False, False],
    ]
    # Positions at or after `index` do not count.
    early = block_repeated_ngrams(logits, prompt, 2, 2).numpy()
    assert not (early < -1e8).any()


def _bigrams(row):
    return list(zip(row, row[1:]))


@pytest.mark.parametrize("name", ["greedy", "beam"])
def test_no_repeat_bigrams_never_repeats_a_bigram(name):
    # A model that wants "1 2 1 2 ...": every bigram would repeat.
    table = np.full((5, 5), -3.0)
    table[:, 1] = 0.0
    table[1, 2] = 1.0
    table[2, 1] = 1.0
    plain = generate(make_sampler(name, num_beams=3), table, length=8)[0].tolist()
    assert len(set(_bigrams(plain))) < len(_bigrams(plain))
    sampler = make_sampler(name, num_beams=3, no_repeat_ngram_size=2)
    blocked = generate(sampler, table, length=8)[0].tolist()
    assert len(set(_bigrams(blocked))) == len(_bigrams(blocked))


@pytest.mark.parametrize("name", ["greedy", "beam", "top_k", "top_p", "random"])
def test_every_sampler_runs_under_xla_with_the_penalties(name):
    table = np.random.default_rng(0).normal(size=(6, 6))
    options = dict(num_beams=2, k=3, p=0.8, seed=1)
    plain = make_sampler(name, **options)
    sampler = make_sampler(
        name, repetition_penalty=1.5, no_repeat_ngram_size=2, **options
    )
    assert isinstance(sampler, PenalizedSampler)
    for each in (plain, sampler):
        tokens = generate(each, table, batch=3, length=7, jit=True)
        assert tokens.shape == (3, 7) and ((tokens >= 0) & (tokens < 6)).all()
    blocked = generate(sampler, table, batch=3, length=7, jit=True)
    for row in blocked.tolist():
        assert len(set(_bigrams(row))) == len(_bigrams(row))
    if name in ("greedy", "beam"):  # deterministic: XLA and eager agree
        eager = generate(sampler, table, batch=3, length=7)
        assert eager.tolist() == blocked.tolist()


def test_penalized_sampler_serializes_and_reloads():
    sampler = make_sampler("beam", num_beams=3, repetition_penalty=1.2)
    config = keras_hub.samplers.serialize(sampler)
    again = keras_hub.samplers.deserialize(config)
    assert isinstance(again, PenalizedSampler)
    assert isinstance(again.sampler, keras_hub.samplers.BeamSampler)
    assert again.sampler.num_beams == 3 and again.repetition_penalty == 1.2
    assert again.get_config() == sampler.get_config()
    also = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert also.get_config() == sampler.get_config()
    assert PenalizedSampler("top_k").sampler.k == 5  # by name, keras-hub defaults


def test_make_sampler_names_and_instances():
    assert isinstance(make_sampler("Top-K", k=2), keras_hub.samplers.TopKSampler)
    assert make_sampler("top_p", p=0.5).p == 0.5
    assert make_sampler("random", temperature=0.5).temperature == 0.5
    own = keras_hub.samplers.GreedySampler()
    assert make_sampler(own) is own
    wrapped = make_sampler(own, no_repeat_ngram_size=3)
    assert wrapped.sampler is own and wrapped.no_repeat_ngram_size == 3


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(name="nucleus"), "unknown sampler 'nucleus'; expected one of greedy"),
        (dict(name="beam", num_beams=0), "num_beams must be an integer >= 1"),
        (dict(k=0), "k must be an integer >= 1"),
        (dict(p=0.0), "p must be in (0, 1]"),
        (dict(temperature=0), "temperature must be a positive number"),
        (dict(repetition_penalty=0.0), "repetition_penalty must be a positive"),
        (dict(repetition_penalty=float("nan")), "repetition_penalty must be"),
        (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size must be an integer"),
        (dict(seed="1"), "seed must be an integer or None"),
        (dict(name=3), "name must be one of greedy, beam, top_k, top_p, random"),
    ],
)
def test_bad_options_are_one_line_policy_errors(kwargs, words):
    with pytest.raises(PolicyError) as error:
        make_sampler(**kwargs)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_penalized_sampler_is_not_wrapped_twice():
    once = make_sampler("greedy", repetition_penalty=1.2)
    assert make_sampler(once) is once
    with pytest.raises(PolicyError, match="PenalizedSampler already"):
        make_sampler(once, no_repeat_ngram_size=2)

"""`make_sampler`: a keras-hub sampler from a name and plain options.

```python
sampler = make_sampler("beam", num_beams=4)
```
"""

import numbers
import re

import keras_hub
import numpy as np

from tlnlp_tf.decoding.penalties import PenalizedSampler
from tlnlp_tf.decoding.penalties import check_ngram_size
from tlnlp_tf.decoding.penalties import check_penalty
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.errors import positive_number

SAMPLERS = ("greedy", "beam", "top_k", "top_p", "random")
# The keyword options of `generate(..., **sampler_options)`.
SAMPLER_OPTIONS = (
    "num_beams",
    "k",
    "p",
    "temperature",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "seed",
)


def make_sampler(
    name="greedy",
    *,
    num_beams=4,
    k=10,
    p=0.9,
    temperature=1.0,
    repetition_penalty=1.0,
    no_repeat_ngram_size=0,
    seed=None,
):
    """A `keras_hub.samplers.Sampler` by name, with repetition control when asked.

    Args:
        name: `"greedy"` (the most likely token), `"beam"` (beam search,
            `num_beams` beams, the best-scoring sequence), `"top_k"` (sample
            among the `k` most likely), `"top_p"` (sample from the nucleus:
            the most likely tokens whose probabilities add up to `p`) or
            `"random"` (sample from the whole distribution); `"top-k"` and
            upper case are accepted too. A `keras_hub.samplers.Sampler`
            instance is used as it is (then `num_beams`, `k`, `p`,
            `temperature` and `seed` do not apply).
        num_beams: beams of `"beam"`, at least 1.
        k: tokens `"top_k"` samples among, at least 1.
        p: the probability mass of `"top_p"`, in (0, 1].
        temperature: divides the logits before the softmax (above 0; lower
            is more peaked).
        repetition_penalty: CTRL's penalty on tokens already in the
            sequence (`penalize_repetitions`), above 0; 1.0 is off.
        no_repeat_ngram_size: no n-gram of this many tokens is generated
            twice (`block_repeated_ngrams`); 0 is off.
        seed: the seed of the sampling samplers, or `None`.

    Returns:
        The keras-hub sampler; a `PenalizedSampler` around it when
        `repetition_penalty != 1` or `no_repeat_ngram_size > 0`.

    Example:

    ```python
    greedy = make_sampler()
    beam = make_sampler("beam", num_beams=4, no_repeat_ngram_size=3)
    nucleus = make_sampler("top_p", p=0.9, temperature=0.7, seed=0)
    ```
    """
    repetition_penalty = check_penalty(repetition_penalty)
    no_repeat_ngram_size = check_ngram_size(no_repeat_ngram_size)
    if isinstance(name, keras_hub.samplers.Sampler):
        sampler = name
        if isinstance(sampler, PenalizedSampler) and (
            repetition_penalty != 1.0 or no_repeat_ngram_size > 0
        ):
            raise PolicyError(
                "make_sampler: the sampler is a PenalizedSampler already; pass "
                "repetition_penalty and no_repeat_ngram_size to it, or give a "
                "plain keras-hub sampler."
            )
    elif isinstance(name, str):
        sampler = _by_name(name, num_beams, k, p, temperature, seed)
    else:
        raise PolicyError(
            f"make_sampler: name must be one of {', '.join(SAMPLERS)} or a "
            f"keras_hub.samplers.Sampler, got {type(name).__name__}."
        )
    if repetition_penalty == 1.0 and no_repeat_ngram_size == 0:
        return sampler
    return PenalizedSampler(
        sampler,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size,
    )


def _by_name(name, num_beams, k, p, temperature, seed):
    key = name.strip().lower().replace("-", "_")
    if key not in SAMPLERS:
        raise PolicyError(
            f"make_sampler: unknown sampler {name!r}; expected one of "
            f"{', '.join(SAMPLERS)}."
        )
    temperature = _positive("temperature", temperature)
    _count("num_beams", num_beams)
    _count("k", k)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (0 < p <= 1):
        raise PolicyError(f"make_sampler: p must be in (0, 1], got {p!r}.")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
    ):
        raise PolicyError(
            f"make_sampler: seed must be an integer or None, got {seed!r}."
        )
    samplers = keras_hub.samplers
    if key == "greedy":
        return samplers.GreedySampler(temperature=temperature)
    if key == "beam":
        return samplers.BeamSampler(num_beams=int(num_beams), temperature=temperature)
    if key == "top_k":
        return samplers.TopKSampler(k=int(k), seed=seed, temperature=temperature)
    if key == "top_p":
        return samplers.TopPSampler(p=float(p), seed=seed, temperature=temperature)
    return samplers.RandomSampler(seed=seed, temperature=temperature)


def _positive(option, value):
    return positive_number(value, f"make_sampler: {option} must be a positive number")


def _count(option, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise PolicyError(
            f"make_sampler: {option} must be an integer >= 1, got {value!r}."
        )


def resolve_sampler(sampler, options):
    """`(sampler, cache key)` from a name and options (see `make_sampler`).

    A shorthand's number is its option (`"beam-4"`: `num_beams=4`, `"top_k-10"`,
    `"top_p-0.9"`); unknown options are a `PolicyError`. A
    `keras_hub.samplers.Sampler` given as it is has no key: its compiled
    function is not kept.

    ```python
    sampler, key = resolve_sampler("top_k-3", {"seed": 0})  # k=3, seeded
    ```
    """
    unknown = sorted(set(options) - set(SAMPLER_OPTIONS))
    if unknown:
        raise PolicyError(
            f"generate: unknown sampler option(s) {unknown}; expected "
            f"{', '.join(SAMPLER_OPTIONS)}."
        )
    if isinstance(sampler, str):
        shorthand = re.match(r"^\s*(beam|top_k|top_p)-(\S+)\s*$", sampler.lower())
        if shorthand:  # "beam-4", "top_k-10", "top_p-0.9"
            option = {"beam": "num_beams", "top_k": "k", "top_p": "p"}
            kind, value = shorthand.groups()
            try:
                value = float(value) if kind == "top_p" else int(value)
            except ValueError:
                raise PolicyError(
                    f"generate: sampler={sampler!r}; expected e.g. 'beam-4', "
                    "'top_k-10' or 'top_p-0.9'."
                ) from None
            sampler, options = kind, dict(options, **{option[kind]: value})
        beams = options.get("num_beams", 4)
        if sampler.strip().lower() == "beam" and (
            not isinstance(beams, (int, np.integer)) or beams < 1
        ):
            raise PolicyError(
                f"generate(sampler='beam'): num_beams={beams!r}; expected a "
                "positive integer (the beams kept at each step)."
            )
    elif not isinstance(sampler, keras_hub.samplers.Sampler):
        raise PolicyError(
            f"generate: sampler={sampler!r}; expected one of "
            f"{', '.join(SAMPLERS)} or a keras_hub.samplers.Sampler."
        )
    made = make_sampler(sampler, **options)
    if not isinstance(sampler, str):
        return made, None
    sampler = sampler.strip().lower().replace("-", "_")
    return made, (sampler, tuple(sorted((k, repr(v)) for k, v in options.items())))

"""A seeded uniform sample of a stream of unknown length, in constant memory.

Reservoir sampling, Li's Algorithm L (1994): one pass, `count` items held,
and O(count * log(n / count)) random draws rather than one per item, so a
10-million-row file costs its read, not its sampling. The sample keeps the
stream's order.

```python
reservoir_sample(range(1_000_000), 3, seed=0)  # 3 numbers, ascending
```
"""

import math

import numpy as np

from tlnlp_tf.data.examples import check_count


def reservoir_sample(items, count, seed=0):
    """`count` items of the iterable `items` (all of them if fewer), in order.

    Every item is read (a stream's per-line checks all run); every subset
    of `count` items is equally likely; the same `seed` and stream give the
    same sample.

    ```python
    lines = (f"line {i}" for i in range(100_000))
    reservoir_sample(lines, 3, seed=1)  # 3 of the lines, in their order
    ```
    """
    check_count(count)
    rng = np.random.default_rng(seed)
    stream = enumerate(items)
    kept = []
    for index, item in stream:
        kept.append((index, item))
        if len(kept) == count:
            break
    else:
        return [item for _, item in kept]
    weight = math.exp(math.log(_uniform(rng)) / count)
    following = count + _skip(rng, weight)
    for index, item in stream:
        if index == following:
            kept[int(rng.integers(count))] = (index, item)
            weight *= math.exp(math.log(_uniform(rng)) / count)
            following += 1 + _skip(rng, weight)
    kept.sort(key=lambda pair: pair[0])
    return [item for _, item in kept]


def _uniform(rng):
    """A uniform draw in (0, 1] (never 0: its logarithm is taken)."""
    return 1.0 - rng.random()


def _skip(rng, weight):
    """How many items the reservoir passes over before the next replacement."""
    if weight >= 1.0:
        return 0
    return math.floor(math.log(_uniform(rng)) / math.log1p(-weight))

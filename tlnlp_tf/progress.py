"""Progress bars for the long steps outside `fit`: Keras' `Progbar`, on stderr.

Tokenizing a dataset once, encoding cached features, scoring sources, the
pretraining corpus pass and the forgetting probes show a bar like `fit`'s,
after one line that says what is running. The bar goes to stderr, so the JSON
that `tlnlp` prints on stdout stays clean. `verbose=0` (the functions that
show one take it), or `keras.utils.disable_interactive_logging()` for all of
Keras, turns them off.

```python
from tlnlp_tf.progress import progress

for text in progress(["a", "b", "c"], "counting texts"):
    pass
```
"""

import contextlib
import sys

import keras


def progress(items, label, total=None, verbose="auto", unit="step", every=1):
    """Yield `items` while a bar, headed by `label`, counts them.

    `total` defaults to `len(items)` when it has one; without it the bar
    counts up ("42/Unknown"). `verbose`: `"auto"` or 1 shows it, 0 hides it.
    `every`: redraw after this many items (cheap items: rows of a file).
    """
    if verbose == 0 or not keras.config.is_interactive_logging_enabled():
        yield from items
        return
    if total is None:
        try:
            total = len(items)
        except TypeError:  # no length (an iterator; a dataset of unknown size)
            pass
    bar = _Bar(label, total, unit)
    count = 0
    for item in items:
        yield item
        count += 1
        if count % every == 0:
            bar.update(count, finalize=False)  # the last update draws it full
    bar.update(count, finalize=True)


class _Bar:
    """A `keras.utils.Progbar` that writes to stderr, after a line naming the step."""

    def __init__(self, label, total, unit):
        print(f"{label} …", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):
            self.bar = keras.utils.Progbar(total, unit_name=unit)

    def update(self, count, finalize=None):
        with contextlib.redirect_stdout(sys.stderr):
            self.bar.update(count, finalize=finalize)

"""This process's memory while it trains: `rss_mb()` and `RSSAtSteps`.

`tlnlp pretrain` on a streamed corpus reports the resident set size at
steps 10, 100 and the last one (`report["rss_mb"]`): flat numbers say the
input pipeline does not grow with the corpus.

```python
log = RSSAtSteps(steps=(10, 100))
model.fit(data, epochs=1, callbacks=[log])
log.rss_mb  # {10: 2210.4, 100: 2214.9, 250: 2215.3}
```
"""

import os

import keras


def rss_mb():
    """This process's resident set size in MB (Linux `/proc`, else psutil;
    `None` where neither is available)."""
    try:
        with open("/proc/self/statm") as file:
            pages = int(file.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.Process().memory_info().rss / 2**20, 1)


class RSSAtSteps(keras.callbacks.Callback):
    """Record `rss_mb()` after the given optimizer steps and after the last.

    Steps count from 1 across epochs (`fit`'s `initial_epoch` included, so
    a resumed run records the steps it ran under their own numbers).
    `rss_mb` maps each recorded step to MB.
    """

    def __init__(self, steps=(10, 100)):
        super().__init__()
        self.steps = set(steps)
        self.rss_mb = {}
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._last = step
        if step in self.steps:
            self.rss_mb[step] = rss_mb()

    def on_train_end(self, logs=None):
        if self._last is not None:
            self.rss_mb[self._last] = rss_mb()

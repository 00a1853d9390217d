"""Targets a task cannot take, refused before training or as one-line errors.

`TargetChecks` checks a finite dataset's targets in Python before `fit` and
`evaluate` (each task says what it takes in `check_targets`); a target that
reaches the graph anyway (a streamed file) fails the task's `encode_targets`
assertion, which `target_errors()` turns into a `DataError`.

Example:

```python
try:
    with target_errors():  # what a target refused in the graph becomes
        model.evaluate(["a fine film"], ["great"])
except tl.DataError as error:
    print(error)  # label 'great' is not one of the model's labels
```
"""

import contextlib
import re

import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError

# The messages of the in-graph target checks (`encode_targets`).
_TARGET_ERRORS = (
    "Unknown label",
    "Unknown tag",
    "Labels must be class indices",
    "could not correctly convert string",  # a regression target, not a number
    "A sentence and its tags differ in length",
)


class TargetChecks:
    """Checks of a task's targets, mixed into `TextTask`.

    ```python
    data = tf.data.Dataset.from_tensor_slices((["a fine film"], ["great"]))
    try:
        model.check_dataset_targets(data, "the training data")
    except tl.DataError as error:
        print(error)  # the training data: label 'great' is not one of ...
    ```
    """

    def check_targets(self, targets, where):
        """Raise `DataError` unless the model can take `targets` (a list or array).

        Subclasses check label names, class indices, tags or numbers.
        """

    def check_target_spec(self, dataset, where):
        """Raise `DataError` when a dataset's target type cannot be right."""

    def check_dataset_targets(self, dataset, where):
        """`check_targets` over every target of a finite dataset (not repeated)."""
        if not isinstance(dataset.element_spec, tuple):
            return
        if len(dataset.element_spec) < 2 or int(dataset.cardinality()) < 0:
            return  # no targets, or infinite / unknown length: checked in the graph
        targets = []
        for element in dataset.map(lambda *e: e[1]).as_numpy_iterator():
            if hasattr(element, "to_list"):  # ragged tag ids
                element = element.to_list()
            targets.extend(np.reshape(np.asarray(element, dtype=object), -1))
        self.check_targets(targets, where)


@contextlib.contextmanager
def target_errors():
    """A target refused in the graph (`encode_targets`) as a one-line `DataError`."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        text = str(error.message).replace("\\'", "'")
        if not any(marker in text for marker in _TARGET_ERRORS):
            raise
        found = re.search(r"assertion failed: (.*)", text) or re.search(
            r"(could not correctly convert string: .*)", text
        )
        detail = " ".join((found.group(1) if found else text).split())[:300]
        raise DataError(
            f"A target in the data is not one the model takes: {detail}. Give "
            "the model every label (labels=...) or fix the data."
        ) from None

"""Errors raised for bad input, before any training starts."""

import math
import numbers


class DataError(ValueError):
    """A data file or in-memory data set is not what the task expects.

    The message names the file (and line or column where there is one) and
    what was expected.

    Example:

    ```python
    try:
        tl.data.from_lists(["loved it", "dull"], ["pos"])
    except tl.DataError as error:
        print(error)  # from_lists: 2 texts but 1 labels; ...same length.
    ```
    """


class BackboneError(ValueError):
    """A backbone spec cannot be resolved, fetched or loaded.

    Example:

    ```python
    try:
        tl.load_backbone("./no-such-folder")
    except tl.BackboneError as error:
        print(error)  # Backbone folder './no-such-folder' does not exist. ...
    ```
    """


class PolicyError(ValueError):
    """A freeze policy or training option is malformed or does not fit.

    Example:

    ```python
    try:
        tl.TextClassifier.from_backbone("minilm", num_classes=2, freeze="top-2")
    except tl.PolicyError as error:
        print(error)  # names the freeze policies there are
    ```
    """


def positive_number(value, expected):
    """`value` as a float when it is a finite real number above 0.

    Otherwise a `PolicyError` that says what was `expected` and what came:

    ```python
    positive_number(2, "repetition_penalty must be a positive number")  # 2.0
    # 0, -1, nan, inf, True or "2" raise PolicyError("..., got 0.")
    ```
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PolicyError(f"{expected}, got {value!r}.")
    return float(value)

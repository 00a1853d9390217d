"""Errors raised for bad input, before any training starts."""


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

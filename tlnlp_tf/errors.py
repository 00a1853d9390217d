"""Errors raised for bad input, before any training starts."""


class DataError(ValueError):
    """A data file or in-memory data set is not what the task expects.

    The message names the file (and line or column where there is one) and
    what was expected.
    """


class BackboneError(ValueError):
    """A backbone spec cannot be resolved, fetched or loaded."""


class PolicyError(ValueError):
    """A freeze policy or training option is malformed or does not fit."""

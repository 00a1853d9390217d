"""Strict JSON lines: one object a line, each field checked, errors with file and line.

Python's `json` accepts a key given twice (the last wins) and `NaN` or
`Infinity`; a training file holding either is almost always a mistake, so
both are refused here with the line that holds them.

```python
from tlnlp_tf.data.json_lines import json_object
json_object('{"text": "good"}', "train.jsonl, line 1")  # {"text": "good"}
```
"""

import json

from tlnlp_tf.errors import DataError


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs):
    record = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


class _NonFinite(Exception):
    pass


def _refuse_constant(name):
    raise _NonFinite(name)


def json_object(raw, where):
    """The JSON object on one line, or a `DataError` saying what is wrong.

    A field given twice, `NaN` or `Infinity`, or anything but an object is
    refused, with `where` (file and line) in the message.

    ```python
    json_object('{"text": "good", "label": 1}', "train.jsonl, line 1")
    ```
    """
    try:
        record = json.loads(
            raw, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant
        )
    except _DuplicateKey as key:
        raise DataError(f"{where}: field '{key}' is given twice.") from None
    except _NonFinite as name:
        raise DataError(
            f"{where}: {name} is not a JSON number (JSON has no NaN or "
            "infinity); write a finite number."
        ) from None
    except ValueError as error:
        raise DataError(f"{where}: not valid JSON ({error}).") from None
    if not isinstance(record, dict):
        raise DataError(
            f"{where}: expected a JSON object {{...}}, found a {type(record).__name__}."
        )
    return record


def json_field(value, name, is_label, where):
    """A field of a JSON record as a string: texts must be strings, labels
    may also be numbers or booleans (kept as their JSON text).

    ```python
    json_field(1, "label", True, "train.jsonl, line 1")  # "1"
    ```
    """
    if isinstance(value, str):
        return value
    if is_label and isinstance(value, (bool, int, float)):
        return json.dumps(value)
    kind = "null" if value is None else type(value).__name__
    expected = "a string, number or boolean" if is_label else "a string"
    raise DataError(f"{where}: field '{name}' is {kind}; expected {expected}.")

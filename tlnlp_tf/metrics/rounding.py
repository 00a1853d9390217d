"""Rounding nested metric dicts for JSON output."""


def rounded(value, digits=6):
    """`value` with every float (in nested dicts too) rounded to `digits`.

    ```python
    assert rounded({"f1": 0.12345678, "per_type": {"PER": {"f1": 1 / 3}}}) == {
        "f1": 0.123457, "per_type": {"PER": {"f1": 0.333333}}}
    ```
    """
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    return round(value, digits) if isinstance(value, float) else value

"""The tag transitions a tagging scheme (IOB2, BIOES, BMES) allows.

Derived from the tag names: under IOB2 an `I-X` follows only `B-X` or
`I-X`; under BIOES/BMES an `I-X`/`M-X`/`E-X` follows only `B-X` or
`I-X`/`M-X`, `O`, `B-`, `S-` follow only `O`, `E-`, `S-`, and a path
neither starts with a continuing tag nor ends with an open one. The CRF
(`tlnlp_tf.layers.CRF`) decodes and scores under these constraints, and a
softmax tagger's `decoding="allowed"` (`tlnlp_tf.decoding.tag_paths`)
finds the most probable path they allow.

Example:

```python
start, pairs, end = allowed_transitions(["O", "B-PER", "I-PER"])
assert not start[2] and not pairs[0, 2] and pairs[1, 2] and end.all()
```
"""

import numpy as np

from tlnlp_tf.errors import PolicyError

SCHEMES = ("auto", "iob2", "bioes", "bmes", "none")
_PREFIXES = {"iob2": "BI", "bioes": "BIES", "bmes": "BMES"}


class TagSchemeError(PolicyError):
    """Tags whose transitions cannot be derived.

    `reason` says what is wrong with the tags and `remedy` what to do; the
    message is both, after `subject` (whose tags they are). A caller with
    another remedy (a softmax tagger's `decoding="allowed"`) words its own
    error from `reason`.

    ```python
    try:
        allowed_transitions(["O", "X-PER"])
    except TagSchemeError as error:
        print(error.reason)  # tag 'X-PER' is not 'O' or PREFIX-TYPE ...
    ```
    """

    def __init__(self, reason, remedy="check the tags", subject="Tags"):
        super().__init__(f"{subject}: {reason}; {remedy}.")
        self.reason = reason
        self.remedy = remedy


def allowed_transitions(tags, scheme="auto"):
    """The transitions a tag scheme allows: `(start [K], pairs [K, K], end [K])`.

    Boolean numpy arrays: `start[j]`, tag `j` may begin a sequence;
    `pairs[i, j]`, tag `j` may follow tag `i`; `end[i]`, tag `i` may close
    one. `tags` as a number (or `scheme="none"`) allows everything. A tag
    the scheme cannot read, tags that mix schemes, or a tag no allowed path
    can reach (an `I-X` with no `B-X`) is a `TagSchemeError` naming the tag.

    Example:

    ```python
    start, pairs, end = allowed_transitions(["O", "B-PER", "I-PER"])
    assert not start[2] and not pairs[0, 2] and pairs[1, 2] and end.all()
    ```
    """
    if isinstance(tags, bool) or not isinstance(tags, (int, np.integer, list, tuple)):
        raise TagSchemeError(
            f"expected a list of tag names or their number, got {tags!r}",
            "pass the tag names",
        )
    if scheme not in SCHEMES:
        raise TagSchemeError(
            f"the scheme must be one of {SCHEMES}, got {scheme!r}", "pass one of them"
        )
    if isinstance(tags, (int, np.integer)):
        if tags < 1 or scheme not in ("auto", "none"):
            raise TagSchemeError(
                f"tags={tags}: a number of tags must be positive, and takes no "
                "scheme (its transitions cannot be derived)",
                "pass the tag names",
            )
        return _everything(int(tags))
    names = [str(tag) for tag in tags]
    if not names or len(set(names)) != len(names):
        raise TagSchemeError(
            f"the tags must be distinct and not empty, got {names}", "check the tags"
        )
    if scheme == "none":
        return _everything(len(names))
    parsed = [_parse(tag) for tag in names]
    scheme = _scheme(names, parsed) if scheme == "auto" else scheme
    for tag, (prefix, _) in zip(names, parsed):
        if prefix != "O" and prefix not in _PREFIXES[scheme]:
            raise TagSchemeError(
                f"tag '{tag}' is not in the {scheme.upper()} scheme (prefixes "
                f"{', '.join(_PREFIXES[scheme])}, or 'O')",
                "check the tags or the scheme",
            )
    inside = "M" if scheme == "bmes" else "I"
    opens = "B" + inside  # the tags a continuing tag may follow (same type)
    if scheme == "iob2":
        continuing, closed, starts, ends = inside, "OBI", "OB", "OBI"
    else:
        continuing, closed, starts, ends = inside + "E", "OES", "OBS", "OES"
    start = np.array([prefix in starts for prefix, _ in parsed])
    end = np.array([prefix in ends for prefix, _ in parsed])
    pairs = np.zeros((len(names), len(names)), bool)
    for i, (before, kind_before) in enumerate(parsed):
        for j, (after, kind_after) in enumerate(parsed):
            if after in continuing:
                pairs[i, j] = before in opens and kind_before == kind_after
            else:  # O, B-, S- follow a closed span (or, under IOB2, anything)
                pairs[i, j] = before in closed
    _check_paths(names, parsed, scheme, start, pairs, end)
    return start, pairs, end


def _everything(count):
    return np.ones(count, bool), np.ones((count, count), bool), np.ones(count, bool)


def _parse(tag):
    """`(prefix, type)` of a tag name: `("O", None)`, `("B", "PER")`, `("S", "")`."""
    if tag == "O":
        return "O", None
    if len(tag) == 1 and tag in "BIMES":
        return tag, ""  # bare prefixes, as in word segmentation (B M E S)
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIMES":
        return tag[0], tag[2:]
    raise TagSchemeError(
        f"tag '{tag}' is not 'O' or PREFIX-TYPE with a prefix in B, I, M, E, S, "
        "so its transitions cannot be derived",
        "pass scheme='none' to learn them unconstrained",
    )


def _scheme(names, parsed):
    """The scheme of tag names: BMES with `M-`, BIOES with `E-`/`S-`, else IOB2."""
    prefixes = {prefix for prefix, _ in parsed}
    if "M" in prefixes and "I" in prefixes:
        tag = next(name for name, (p, _) in zip(names, parsed) if p == "I")
        raise TagSchemeError(
            f"tag '{tag}' (BIOES/IOB2) is mixed with M- tags (BMES)",
            "use one tag scheme",
        )
    if "M" in prefixes:
        return "bmes"
    if prefixes & {"E", "S"}:
        return "bioes"
    return "iob2"


def _check_paths(names, parsed, scheme, start, pairs, end):
    """Each tag is on an allowed path, every length has one; else `TagSchemeError`."""
    reached, closing = start.copy(), end.copy()
    while True:
        grown = reached | pairs[reached].any(axis=0)
        grown_closing = closing | pairs[:, closing].any(axis=1)
        if (grown == reached).all() and (grown_closing == closing).all():
            break
        reached, closing = grown, grown_closing
    for index, name in enumerate(names):
        if reached[index] and closing[index]:
            continue
        kind = parsed[index][1]
        needed = ("B" if not reached[index] else "E") + (f"-{kind}" if kind else "")
        hint = f" (no '{needed}' in the tags)" if needed not in names else ""
        raise TagSchemeError(
            f"tag '{name}' is on no path the {scheme.upper()} scheme allows{hint}",
            "check the tags or pass scheme='none'",
        )
    if not (start & end & pairs.diagonal()).any():
        raise TagSchemeError(
            f"{names}: no tag can start, end and follow itself (as 'O' or 'S-X' "
            "can), so some lengths have no allowed path",
            "add 'O'",
        )

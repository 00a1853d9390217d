"""Examples that say each label in words: SetFit's templated examples.

With a handful of labels per class, a sentence encoder learns more when
the training set also holds a sentence that states each class, such as
"This sentence is positive" for label `1`: contrastive training
(`freeze="setfit"`) then pulls the real examples of a class toward the
sentence that names it, and the head sees the class's meaning once. This
is the setfit library's `get_templated_dataset` (its default template,
more copies); its zero-shot use is training on these examples alone.

Example:

```python
extra = templated_examples({"0": "negative", "1": "positive"}, per_label=2)
extra.texts   # ["This sentence is negative", ... "This sentence is positive", ...]
extra.labels  # ["0", "0", "1", "1"]
train = train.concatenate(extra.to_dataset())  # add to (text, label) data
```
"""

import string

from tlnlp_tf.data.examples import Examples
from tlnlp_tf.errors import DataError

TEMPLATE = "This sentence is {}"  # setfit's default template
# setfit's default `sample_size` is 2. SST-2 dev, MiniLM, 8 labels per class,
# freeze="setfit", 5 draws (benchmarks/few_labels.py): no templated examples
# 0.656 ± 0.045; 2 copies 0.701 ± 0.035; 8 copies 0.723 ± 0.014 (above 2
# copies on 3 of 5 draws, at about the same time). Hence 8. On all-mpnet-base-v2
# (8 copies, same draws) they leave SetFit level: 0.868 ± 0.015 against 0.870.
PER_LABEL = 8
SOURCE = "<templated examples>"


def templated_examples(label_words, template=TEMPLATE, per_label=PER_LABEL):
    """`Examples` of `template` filled with each label's words, `per_label` times.

    Args:
        label_words: a dict from each label (as the training data spells it,
            such as `"0"`) to the words that name it (`"negative"`), or a list
            of labels that are words already (`["sports", "politics"]`).
        template: a string with one `{}`, where the words go.
        per_label: how many copies of each label's sentence (setfit's
            `sample_size`); more copies weigh the sentence more in training.

    Returns:
        `Examples` with `texts` and `labels` (strings); `to_dataset()` gives
        the `(text, label)` elements of `tl.data.read_csv`.

    Example:

    ```python
    extra = templated_examples(["sports", "politics"], template="A story about {}.")
    ```
    """
    if isinstance(label_words, dict):
        pairs = list(label_words.items())
    elif isinstance(label_words, (list, tuple)):
        pairs = [(label, label) for label in label_words]
    else:
        raise DataError(
            "templated_examples: label_words must be a dict from label to "
            "words or a list of labels, got "
            f"{type(label_words).__name__}."
        )
    if not pairs:
        raise DataError("templated_examples: label_words is empty.")
    _check_template(template)
    if isinstance(per_label, bool) or not isinstance(per_label, int) or per_label < 1:
        raise DataError(
            "templated_examples: per_label must be a positive integer, got "
            f"{per_label!r}."
        )
    texts, labels = [], []
    for label, words in pairs:
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise DataError(
                f"templated_examples: label {label!r} must be a string or an "
                "integer, as in the training data."
            )
        if not isinstance(words, str) or not words.strip():
            raise DataError(
                f"templated_examples: the words of label {label!r} must be a "
                f"non-empty string, got {words!r}."
            )
        texts += [template.format(words.strip())] * per_label
        labels += [str(label)] * per_label
    return Examples(texts, labels=labels, source=SOURCE)


def _check_template(template):
    """A string with exactly one empty `{}` field, else a `DataError`."""
    if not isinstance(template, str):
        raise DataError(
            "templated_examples: template must be a string, got "
            f"{type(template).__name__}."
        )
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise DataError(
            f"templated_examples: template {template!r}: {error}."
        ) from None
    fields = [field for _, field, _, _ in parsed if field is not None]
    if fields != [""]:
        raise DataError(
            f"templated_examples: template {template!r} must hold exactly one "
            "'{}' where the label's words go."
        )

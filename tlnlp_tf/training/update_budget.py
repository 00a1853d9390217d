"""Say when a `fit` takes too few optimizer updates for its task to learn.

With few labelled examples, a number of epochs that suits a large set
gives a handful of optimizer updates, and the warmed-up, decaying learning
rate barely moves the model: CoNLL-2003 with 185 training sentences and
`tlnlp fit`'s 3 epochs tags almost nothing (`benchmarks/RESULTS.md`,
few_sentences_ner). A task class sets `min_updates` (and
`few_updates_evidence`, the measurement behind it); `fit` then warns before
training when `steps per epoch * epochs` falls short, and says how many
epochs reach the minimum.

Example:

```python
tagger = tl.TokenClassifier.from_backbone("minilm", tags=["O", "B-PER", "I-PER"])
warn_few_updates(tagger, steps_per_epoch=6, epochs=3)
# UserWarning: TokenClassifier.fit: 18 optimizer updates (3 epoch(s) of 6 batches) …
```
"""

import warnings

from tlnlp_tf.training.contrastive import is_setfit


def warn_few_updates(task, steps_per_epoch, epochs, stacklevel=3):
    """Warn when `task.min_updates` is set and this fit takes fewer updates."""
    minimum = getattr(task, "min_updates", None)
    if not minimum or not steps_per_epoch:
        return False
    updates = int(steps_per_epoch) * int(epochs)
    if updates >= minimum:
        return False
    needed = epochs_to_reach(minimum, steps_per_epoch)
    warnings.warn(
        f"{type(task).__name__}.fit: {updates} optimizer updates ({epochs} "
        f"epoch(s) of {steps_per_epoch} batches), fewer than the {minimum} this "
        f"task needs at its default learning rate with few examples "
        f"({task.few_updates_evidence}). Pass epochs={needed} (or a smaller "
        f"batch size) for at least {minimum} updates.",
        stacklevel=stacklevel,
    )
    return True


# `tlnlp fit`'s epochs when `--epochs` is not given and updates suffice.
DEFAULT_EPOCHS = 3
# Its contrastive epochs under `freeze="setfit"`: SetFit's default, `fit`'s,
# and that of every SetFit figure in benchmarks/RESULTS.md (few_labels_sst2,
# 2026-12-06: 3 epochs on SST-2's five 8-per-class draws, MiniLM, scored
# 0.654 ± 0.041 against 0.655 ± 0.045 for 1, in 229 s against 108 s a draw).
SETFIT_EPOCHS = 1
SETFIT_EPOCHS_EVIDENCE = (
    "3 epochs scored 0.654 against 0.655 on SST-2 with 8 labels per class, "
    "in 2.1 times the time"
)


def auto_epochs(task, steps_per_epoch):
    """`(epochs, reason)` for `tlnlp fit` without `--epochs`: `DEFAULT_EPOCHS`,
    or as many as reach `task.min_updates` when those fall short;
    `SETFIT_EPOCHS` of contrastive pairs under `freeze="setfit"`.

    ```python
    tagger = tl.TokenClassifier.from_backbone("minilm", tags=["O", "B-PER", "I-PER"])
    auto_epochs(tagger, steps_per_epoch=6)  # (50, "3 epochs of 6 batches are 18 …")
    ```
    """
    if is_setfit(getattr(task, "freeze", None)):
        return SETFIT_EPOCHS, (
            f"{SETFIT_EPOCHS} contrastive epoch under freeze='setfit' (SetFit's "
            f"default; {SETFIT_EPOCHS_EVIDENCE}). Pass --epochs to choose"
        )
    minimum = getattr(task, "min_updates", None)
    if not minimum or not steps_per_epoch or steps_per_epoch < 1:
        return DEFAULT_EPOCHS, "the default"
    if steps_per_epoch * DEFAULT_EPOCHS >= minimum:
        return DEFAULT_EPOCHS, "the default"
    epochs = epochs_to_reach(minimum, steps_per_epoch)
    return epochs, (
        f"{DEFAULT_EPOCHS} epochs of {steps_per_epoch} batches are "
        f"{DEFAULT_EPOCHS * steps_per_epoch} optimizer updates, fewer than the "
        f"{minimum} {type(task).__name__} needs with few examples "
        f"({task.few_updates_evidence}); {epochs} epochs give "
        f"{epochs * steps_per_epoch}. Pass --epochs to choose"
    )


def epochs_to_reach(updates, steps_per_epoch):
    """The fewest epochs of `steps_per_epoch` batches that make `updates` steps."""
    return -(-int(updates) // int(steps_per_epoch))

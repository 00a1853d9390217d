"""The token tasks' training defaults, chosen from the training data.

`TokenClassifier` (and `RoleLabeler`) were tuned on all of CoNLL-2003: peak
rate 2e-4 with layer decay 0.9, about 2,200 optimizer updates. Measured on
3,400-sentence draws at 3 epochs of batch 32 (321 updates, MiniLM,
`benchmarks/token_defaults.py`; test entity F1, allowed-path decoding):

| draw | 5e-5, no decay | 1e-4, no decay | 2e-4, decay 0.9 | 4e-4, decay 0.9 |
|---|---|---|---|---|
| CoNLL-2003, 17% of words in entities | 0.639 | 0.818 | 0.826 | 0.837 |
| the same made sparse, 5.8% | 0.269 | – | **0.536** | 0.466 |

So the peak rate stays 2e-4 with decay 0.9 (a higher one helped the dense
draw by a point and cost the sparse one seven); what the data change is how
many updates the run needs. The sparse draw gained 12.6 points from 1,275
updates (batch 8: 0.662 even at 5e-5). The update minimum of
`TokenClassifier` (`min_updates`, 300, measured on dense CoNLL) therefore
grows as the share of words in entities falls below CoNLL's:

    min_updates = base * max(1, 0.17 / entity_density), at most 5 * base

`fit` warns below it and says which `epochs` reach it; `tlnlp fit` without
`--epochs` trains that many. A high [UNK] share is warned about too: no
rate fixes a vocabulary that misses the language (MSRA on MiniLM: 61%).

Example:

```python
choose_token_rates({"entity_density": 0.058, "unknown_share": 0.0}, 321)
# {"learning_rate": 0.0002, "layer_decay": 0.9, "min_updates": 880, ...}
```
"""

import warnings

import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.token_data_profile import PROFILE_SAMPLE
from tlnlp_tf.tasks.token_data_profile import token_data_profile
from tlnlp_tf.training.fit_steps import static_batch_size

__all__ = [
    "PROFILE_SAMPLE",
    "choose_token_rates",
    "dataset_token_profile",
    "token_data_profile",
]

PEAK_RATE, LAYER_DECAY = 2e-4, 0.9
# CoNLL-2003's share of training words inside entities, where the base
# update minimum was measured; sparser data need proportionally more.
REFERENCE_DENSITY = 0.17
MAX_FACTOR = 5
# Above this share of words whose first piece is [UNK], the backbone's
# vocabulary does not cover the data's language (MSRA on MiniLM: 0.61).
UNKNOWN_WARNING = 0.2
RATE_EVIDENCE = (
    "at 321 updates 2e-4 beat 5e-5 on CoNLL-2003 draws of 3,400 sentences, "
    "dense (0.826 vs 0.639 entity F1) and sparse (0.536 vs 0.269), and 4e-4 "
    "on the sparse one (0.466); benchmarks/RESULTS.md, token_defaults"
)
SPARSE_EVIDENCE = (
    "a CoNLL-2003 draw of 3,400 sentences with 5.8% of words in entities "
    "scored entity F1 0.536 after 321 updates, 0.662 after 1,275; "
    "benchmarks/RESULTS.md, token_defaults"
)


def choose_token_rates(profile, updates, min_updates=300):
    """`{"learning_rate", "layer_decay", "min_updates", "updates_evidence",
    "reason"}` for a token task's training data.

    `profile` is `token_data_profile(...)` of the training sentences,
    `updates` the optimizer steps of the `fit` (None when unknown, only
    reported), `min_updates` the task's minimum on data as dense as CoNLL.

    ```python
    choose_token_rates({"entity_density": 0.058}, 321)["min_updates"]  # 880
    ```
    """
    density = profile.get("entity_density")
    if density is None:  # not measured: the base minimum
        factor = 1.0
    else:
        factor = MAX_FACTOR if not density else REFERENCE_DENSITY / density
        factor = min(MAX_FACTOR, max(1.0, factor))
    needed = int(round(min_updates * factor / 10) * 10) if factor > 1 else min_updates
    unknown = profile.get("unknown_share") or 0.0
    if unknown > UNKNOWN_WARNING:
        warnings.warn(
            f"{unknown:.0%} of the training words start with the backbone's "
            "unknown token: its vocabulary does not cover this text, and a "
            "backbone for the data's language will transfer far better (MSRA on "
            "MiniLM, 61% unknown: entity F1 0.45 against 0.86 for a character "
            "BiLSTM-CRF; benchmarks/RESULTS.md).",
            stacklevel=4,
        )
    runs = "updates unknown" if updates is None else f"{updates} updates"
    if factor > 1:
        budget = (
            f"{density:.1%} of words in entities (CoNLL-2003: 17%): at least "
            f"{needed} updates instead of {min_updates}"
        )
    elif density is None:
        budget = f"at least {needed} updates"
    else:
        budget = f"{density:.1%} of words in entities: at least {needed} updates"
    return {
        "learning_rate": PEAK_RATE,
        "layer_decay": LAYER_DECAY,
        "min_updates": needed,
        "updates_evidence": SPARSE_EVIDENCE if factor > 1 else None,
        "reason": f"{runs}; {budget}; peak 2e-4, decay 0.9 ({RATE_EVIDENCE})",
    }


def dataset_token_profile(task, x):
    """`token_data_profile` of the first sentences of a token task's training
    dataset `x`; None for token features, or for tags `task` does not know
    (`fit` says so).

    ```python
    model = tl.TokenClassifier.from_backbone("minilm", tags=["O", "B-PER", "I-PER"])
    data = tf.data.Dataset.from_tensor_slices((["Ann left"], ["B-PER O"]))
    dataset_token_profile(model, data.batch(1))["entity_density"]  # 0.5
    ```
    """
    if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
        return None
    batch = static_batch_size(x) or 32  # unknown (no drop_remainder): 32
    try:
        data = task.labelled(x, steps=-(-PROFILE_SAMPLE // batch))
    except DataError:
        return None
    if data is None or not len(data.words):
        return None
    return token_data_profile(task.preprocessor.tokenizer, data.words, data.tags)

"""`freeze="setfit"` on a task model: contrastive pairs, then the solved head.

`TextTask.fit` hands over here when the policy is `"setfit"` (or
`"setfit-lora-R"`): stage 1 (`tlnlp_tf.training.contrastive`) fine-tunes
the backbone on pairs drawn from the labelled texts, stage 2
(`tlnlp_tf.tasks.feature_cache`) solves the head on the new embeddings.

Example:

```python
model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"], freeze="setfit")
history = model.fit(["a good film", "a dull film"] * 4, ["1", "0"] * 4)
history.pairs, history.contrastive["loss"]
```
"""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.feature_cache import fit_head
from tlnlp_tf.tasks.inputs import flat_strings
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.training import contrastive


def fit_setfit(task, x, epochs, kwargs):
    """Stage 1 for `epochs`, then the head; returns the head's `History`.

    `contrastive_iterations` (a `fit` keyword) is the pairs per example (one
    positive, one negative each); `"auto"` (default):
    `contrastive.default_settings`. The `History` carries `contrastive` (stage
    1's losses) and `pairs`.
    """
    iterations = kwargs.pop("contrastive_iterations", "auto")
    if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
        raise PolicyError(
            "freeze='setfit' trains on raw texts and labels (lists or a "
            "tf.data.Dataset of strings), not on token features."
        )
    if int(x.cardinality()) == tf.data.INFINITE_CARDINALITY:
        raise PolicyError(
            "freeze='setfit' reads its few labelled examples once: pass a "
            "finite dataset (no repeat())."
        )
    texts, pairs, labels = labelled_texts(task, x)
    stage = contrastive.fit_contrastive(
        task,
        texts,
        pairs,
        labels,
        epochs=epochs,
        iterations=iterations,
        learning_rate=task._compile_args.get("learning_rate", "auto"),
        # NumPy's global state: `keras.utils.set_random_seed` fixes the pairs.
        seed=int(np.random.randint(1 << 30)),
        verbose=kwargs.get("verbose", "auto"),
        names=getattr(task, "labels", None),
    )
    history = fit_head(task, x, epochs=1, **kwargs)
    history.contrastive = stage.history
    history.pairs = stage.pairs
    return history


def labelled_texts(task, dataset):
    """`(texts, pairs or None, class indices)` of a batched raw-text dataset."""
    texts, pairs, labels = [], [], []
    for element in dataset:
        features, y, _ = keras.utils.unpack_x_y_sample_weight(element)
        if y is None:
            raise DataError("freeze='setfit' needs labelled training data.")
        if isinstance(features, tuple):
            texts.extend(flat_strings(features[0]))
            pairs.extend(flat_strings(features[1]))
        else:
            texts.extend(flat_strings(features))
        labels.extend(np.asarray(task.encode_targets(y)).tolist())
    return texts, pairs or None, labels

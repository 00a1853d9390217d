"""How many tokens a task reads, and the inputs it would cut.

`max_length` is fixed at construction or chosen once from the training
data (`fit`, `tokenize_once`); `predict` and `evaluate` never change it, and
warn with the count of inputs longer than it.

Example:

```python
model.count_truncated(["a fine film", "dull " * 600])  # 1, and a warning
```
"""

import warnings

import numpy as np
import tensorflow as tf

from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.lengths import token_lengths
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import as_text_dataset
from tlnlp_tf.tasks.inputs import check_batched
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_raw_text
from tlnlp_tf.tasks.inputs import length_order
from tlnlp_tf.tasks.inputs import texts_of


class InputLengths:
    """`max_length` chosen from the training data, and truncation counted.

    Mixed into `TextTask`, before `keras_hub.models.Task` (whose `predict`
    `predict_with_truncation` calls).

    ```python
    model.sequence_length()  # max_length, else the preprocessor's
    ```
    """

    # True where the task reads longer inputs in windows: no truncation warning.
    windows_long_inputs = False

    def predict_with_truncation(self, x=None, batch_size=None, **kwargs):
        """`(outputs, truncated)`: raw outputs, and how many inputs were cut.

        Inputs longer than `max_length` tokens (the preprocessor's length
        before `fit` chooses one) are truncated: a warning names their count
        and the limit. `truncated` is `None` for token features.
        """
        if isinstance(x, tf.data.Dataset):
            check_batched(x, "predict")
        truncated = self.count_truncated(x)
        if not is_raw_text(x):
            return super().predict(x, batch_size=batch_size, **kwargs), truncated
        order = length_order(x)
        data = as_text_dataset(x, batch_size or 32, order)
        outputs = super().predict(data, **kwargs)
        restored = np.empty_like(outputs)
        restored[order] = outputs
        return restored, truncated

    def count_truncated(self, x):
        """How many raw inputs of `x` are longer than the model's token limit (warns).

        Checks the texts first: an empty one is a `DataError`. `None` when
        `x` holds no raw text.
        """
        if self.preprocessor is None:
            return None
        if isinstance(x, tf.data.Dataset) and not has_raw_text(x):
            return None
        texts, pairs = texts_of(x)
        if not texts:
            return None
        for part in (texts, pairs or []):
            check_texts(part)
        limit = int(self.sequence_length())
        texts, pairs = self.length_inputs(texts, pairs)
        lengths = token_lengths(self.preprocessor.tokenizer, texts, pairs)
        truncated = int(np.sum(lengths > limit))
        if truncated:
            warnings.warn(
                f"{truncated} of {len(lengths)} inputs are longer than "
                f"max_length={limit} tokens (the longest has {int(lengths.max())}) "
                f"and were truncated to their first {limit} tokens.",
                stacklevel=3,
            )
        return truncated

    def sequence_length(self):
        """Tokens per input read now: `max_length`, else the preprocessor's."""
        if self.max_length is not None:
            return int(self.max_length)
        length = getattr(self.preprocessor, "sequence_length", None)
        return int(length or getattr(self.backbone, "max_sequence_length", 512))

    def _choose_max_length(self, x):
        """Fix `max_length` from training data `x` (only `fit` and `tokenize_once`)."""
        if self.max_length is not None or self.preprocessor is None:
            return
        texts, pairs = texts_of(x, LENGTH_SAMPLE)
        if not texts:
            return
        limit = getattr(self.backbone, "max_sequence_length", 512)
        self.max_length = choose_sequence_length(
            self.preprocessor.tokenizer,
            *self.length_inputs(texts, pairs),
            limit=limit,
            warn=not self.windows_long_inputs,
        )
        self.preprocessor.sequence_length = self.max_length

    def length_inputs(self, texts, pairs):
        """`(texts, pairs)` as the model reads them, for token lengths: a pair
        is one input here (a bi-encoder reads each text alone)."""
        return texts, pairs

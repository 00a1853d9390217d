"""`LoraAdapters`: the LoRA verbs of a task model (`freeze="lora-R"`).

A mixin of `TextTask` and `LanguageModel`: `save_adapters` and
`load_adapters` (only the factors, and a task's head, keyed by layer path:
`tlnlp_tf/backbones/lora.py`), `merge_adapters` (a plain model with the
factors folded in), and the restart of factors that a `.keras` file or a
weights file loads as zeros.

Example:

```python
import tlnlp_tf as tl

model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"], freeze="lora-8")
model.save_adapters("sst2.adapters.npz")
model.load_adapters("sst2.adapters.npz")
merged = model.merge_adapters()
```
"""

from tlnlp_tf.backbones import lora as adapters


class LoraAdapters:
    """LoRA adapter verbs (a mixin of the task models; see the module)."""

    def save_adapters(self, path):
        """Write only the LoRA factors (and a task's head) to `path`, an `.npz` file.

        Example:

        ```python
        model.save_adapters("sst2.adapters.npz")
        ```
        """
        return adapters.save_adapters(self, path)

    def load_adapters(self, path):
        """Restore `save_adapters` weights into a model built the same way.

        Example:

        ```python
        model = tl.TextClassifier.from_backbone(
            "minilm", labels=["0", "1"], freeze="lora-8"
        )
        model.load_adapters("sst2.adapters.npz")
        ```
        """
        return adapters.load_adapters(self, path)

    def merge_adapters(self, freeze="all"):
        """A new plain model (no LoRA) with the factors folded into the kernels.

        Example:

        ```python
        model.merge_adapters().save("sst2.keras")
        ```
        """
        return adapters.merge_adapters(self, freeze=freeze)

    def make_train_function(self, force=False):
        # A `.keras` file or weights backup loads LoRA factors as zeros
        # (merged into the kernels): restart them, or they never train.
        adapters.restart_lora(self.backbone)
        return super().make_train_function(force=force)

    def load_weights(self, filepath, *args, **kwargs):
        result = super().load_weights(filepath, *args, **kwargs)
        adapters.restart_lora(self.backbone)
        return result

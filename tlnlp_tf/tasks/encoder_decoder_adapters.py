"""LoRA adapters of `EncoderDecoderLM`: the verbs, and the view `lora.py` reads.

Both halves' LoRA factors are the adapters; the decoder's always-trained
new layers (cross-attention, a new target vocabulary's embedding) travel
with them, keyed by path.

```python
view = AdapterView(tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4"))
view.freeze  # "lora-4"
```
"""

from tlnlp_tf.backbones import lora as adapters
from tlnlp_tf.backbones.freezing import lora_layers
from tlnlp_tf.backbones.freezing import lora_rank
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.encoder_decoder_inputs import split_policy


class AdapterView:
    """What `tlnlp_tf.backbones.lora` reads of a task, for both sides at once.

    `backbone` holds the warm-started weights (their LoRA factors are the
    adapters, the rest is fingerprinted); `head` the always-trained layers.
    """

    def __init__(self, model):
        policies = set(model.freeze.values()) - {"all"}
        ranks = {lora_rank(policy) for policy in policies}
        if len(policies) != 1 or None in ranks:
            raise PolicyError(
                f"save_adapters/load_adapters need freeze='lora-R' (or 'lora-R' on "
                f"one side and 'all' on the other); this model's is {model.freeze}."
            )
        self.freeze = policies.pop()
        new = [w for layer in new_layers_of(model) for w in layer.weights]
        new_ids = {id(w) for w in new}
        sides = (model.backbone, model.decoder)
        layers = [layer for side in sides for layer in lora_layers(side)]
        self.backbone = _Weights(
            [w for w in model.weights if id(w) not in new_ids], layers
        )
        self.head = _Weights([w for w in new if w.name not in adapters.LORA_FACTORS])
        self.labels = None


class EncoderDecoderAdapters:
    """The LoRA verbs of `EncoderDecoderLM`: both sides' factors and the new
    layers saved, loaded and merged together (by path)."""

    def save_adapters(self, path):
        """Write only the LoRA factors and the new layers to `path` (`.npz`).

        Both sides must be under `"lora-R"` (one rank) or `"all"`; the file
        holds the factors of both sides and the decoder's always-trained
        layers (cross-attention, a new vocabulary's embedding), by path.

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4")
        model.save_adapters("summaries.adapters.npz")
        ```
        """
        return adapters.save_adapters(AdapterView(self), path)

    def load_adapters(self, path):
        """Restore `save_adapters` weights (same spec, variant and policy).

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4")
        model.save_adapters("summaries.adapters.npz")
        tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4").load_adapters(
            "summaries.adapters.npz"
        )
        ```
        """
        adapters.load_adapters(AdapterView(self), path)
        return self

    def merge_adapters(self, freeze="all"):
        """A new plain model (no LoRA) with both sides' factors folded in.

        Each LoRA kernel of the encoder and the decoder becomes
        `W + (alpha / rank) * A @ B`, as the layer computes it, so the merged
        model generates as this one does; it saves and reloads as a plain
        `.keras` model. `freeze` is its policy, one string or per side
        (`"all"`: only the decoder's new layers would train); not `"lora-R"`.

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4")
        model.merge_adapters().save("summarizer.keras")
        ```
        """
        AdapterView(self)  # refuses a model without LoRA factors
        policies = split_policy(freeze)
        if any(lora_rank(policy) is not None for policy in policies.values()):
            raise PolicyError(
                f"merge_adapters(freeze={freeze!r}): the merged model has no LoRA "
                "factors; pass 'all', 'none', 'embeddings' or 'bottom-N'."
            )
        config = self.get_config()
        config.update(
            backbone=self.backbone.__class__.from_config(self.backbone.get_config()),
            decoder=self.decoder.__class__.from_config(self.decoder.get_config()),
            preprocessor=self.preprocessor,
            target_tokenizer=self.target_tokenizer,
            freeze=freeze,
            lora_targets=None,
        )
        merged = self.__class__(**config)
        layers = lora_layers(self.backbone) + lora_layers(self.decoder)
        adapters.copy_merged_weights(self, merged, layers, "merge_adapters")
        return merged


class _Weights:
    """Weights (and the LoRA layers among them), as `lora.py` reads a backbone."""

    def __init__(self, weights, layers=()):
        self.weights = weights
        self._layers = list(dict.fromkeys(layers))

    def _flatten_layers(self, include_self=False):
        return list(self._layers)


# `lora.py` names the task in the file by its class name.
AdapterView.__name__ = AdapterView.__qualname__ = "EncoderDecoderLM"


def new_layers_of(model):
    layers = model.decoder.new_layers()
    if model.target_tokenizer is not None:
        layers.append(model.decoder.token_embedding)
    return layers

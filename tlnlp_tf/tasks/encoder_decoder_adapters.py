"""LoRA adapters of `EncoderDecoderLM`: what `tlnlp_tf.backbones.lora` reads.

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

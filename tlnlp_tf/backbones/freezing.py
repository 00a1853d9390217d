"""Layer groups of a backbone and the freeze policies over them.

A backbone's layers with weights fall into ordered groups: `"embeddings"`
(everything below the first transformer layer), `"layer_0"` …
`"layer_{N-1}"`, and `"pooler"` (anything above the last one). A policy says
which groups stay frozen:

| policy       | frozen                                  |
|--------------|-----------------------------------------|
| `"none"`     | nothing: full fine-tuning               |
| `"all"`      | the whole backbone: feature extraction  |
| `"embeddings"` | the embeddings                        |
| `"bottom-N"` | the embeddings and layers 0 … N-1       |
| `"lora-R"`   | the whole backbone; rank-R LoRA factors train |

`"lora-R"` calls keras-hub's `backbone.enable_lora(R, target_layer_names)`
(`lora_targets=None`: keras-hub's default names, `query`/`value` and
`query_dense`/`value_dense`, the attention query and value projections);
only the LoRA factors `lora_kernel_a/b` of those layers train, their
kernels and biases stay frozen.

Example:

```python
import tlnlp_tf as tl

backbone, _ = tl.load_backbone("minilm")
tl.backbones.apply_freeze(backbone, "bottom-2")
tl.backbones.parameter_counts(backbone)  # {"trainable": …, "frozen": …, "total": …}
```

Keras 3 bakes the trainable set into the compiled train step: task models
recompile when their policy changes (`TextClassifier.set_freeze`).
"""

import collections
import re

from tlnlp_tf.errors import PolicyError

POLICIES = ("none", "all", "embeddings", "bottom-N", "lora-R")
LORA_FACTORS = ("lora_kernel_a", "lora_kernel_b")
_LAYER_INDEX = re.compile(r"^(?:transformer|encoder|decoder)_(?:layer|block)_(\d+)$")


def layer_groups(backbone):
    """Return an ordered dict `{group name: [layers]}` of `backbone`.

    Only layers that hold weights are listed.

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    list(layer_groups(backbone))  # ["embeddings", "layer_0", …, "layer_5", "pooler"]
    ```
    """
    numbered = {}
    for layer in backbone.layers:
        match = _LAYER_INDEX.match(layer.name)
        if match:
            numbered[layer] = int(match.group(1))
    if not numbered:
        raise PolicyError(
            f"Backbone '{backbone.name}' has no numbered transformer layers "
            "(expected names like 'transformer_layer_0'); only the policies "
            "'none' and 'all' apply to it."
        )
    groups = collections.OrderedDict(embeddings=[])
    for index in sorted(set(numbered.values())):
        groups[f"layer_{index}"] = []
    groups["pooler"] = []
    seen_numbered = False
    for layer in backbone.layers:
        if layer in numbered:
            seen_numbered = True
            groups[f"layer_{numbered[layer]}"].append(layer)
        elif layer.weights:
            groups["pooler" if seen_numbered else "embeddings"].append(layer)
    return groups


def num_layers(backbone):
    """The number of transformer layers of `backbone`."""
    return sum(name.startswith("layer_") for name in layer_groups(backbone))


def frozen_groups(backbone, policy):
    """The group names `policy` freezes on `backbone` (validates `policy`).

    Under `"lora-R"` every group's own weights are frozen: all are listed.
    """
    policy = _normalize(policy)
    groups = list(layer_groups(backbone)) if policy != "none" else []
    if policy == "none":
        return []
    if policy == "all" or policy.startswith("lora-"):
        return groups
    if policy == "embeddings":
        return ["embeddings"]
    count = _bottom_count(policy)
    available = num_layers(backbone)
    if count > available:
        raise PolicyError(
            f"Freeze policy '{policy}' asks for {count} layers, but the "
            f"backbone has {available} transformer layers: use bottom-0 … "
            f"bottom-{available}, or 'all' to freeze everything."
        )
    return ["embeddings"] + [f"layer_{i}" for i in range(count)]


def apply_freeze(backbone, policy, lora_targets=None):
    """Set `trainable` on `backbone`'s layers according to `policy`.

    Returns the normalised policy string. A compiled model holding the
    backbone must be compiled again for the change to take effect.
    `lora_targets` (only for `"lora-R"`) names the layers that get LoRA
    factors; `None` is keras-hub's `backbone.default_lora_layer_names()`.

    Example:

    ```python
    apply_freeze(backbone, "lora-8", lora_targets=["query", "key", "value"])
    ```
    """
    policy = _normalize(policy)
    if policy.startswith("lora-"):
        return _apply_lora(backbone, policy, lora_targets)
    enabled = lora_layers(backbone)
    if enabled:
        raise PolicyError(
            f"Freeze policy '{policy}': LoRA (rank {enabled[0].lora_rank}) is "
            f"enabled on backbone '{backbone.name}', and its factors cannot be "
            "removed: keep the policy 'lora-R', or fold the factors into the "
            "kernels first (model.merge_adapters(freeze=...))."
        )
    frozen = set(frozen_groups(backbone, policy))
    backbone.trainable = True
    if policy == "all":
        backbone.trainable = False
        return policy
    if policy == "none":
        return policy
    for name, layers in layer_groups(backbone).items():
        for layer in layers:
            layer.trainable = name not in frozen
    return policy


def lora_layers(backbone):
    """The layers of `backbone` (at any depth) that carry LoRA factors.

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm", num_classes=2, freeze="lora-8")
    len(lora_layers(model.backbone))  # query and value of each of the 6 layers: 12
    ```
    """
    return [
        layer
        for layer in backbone._flatten_layers(include_self=False)
        if getattr(layer, "lora_enabled", False)
    ]


def lora_rank(policy):
    """R of a `"lora-R"` policy, or `None` for the other policies."""
    policy = _normalize(policy)
    return _lora_rank(policy) if policy.startswith("lora-") else None


def _apply_lora(backbone, policy, targets):
    rank = _lora_rank(policy)
    if not hasattr(backbone, "enable_lora"):
        raise PolicyError(
            f"Freeze policy '{policy}' needs a keras-hub Backbone (with "
            f"enable_lora); got {type(backbone).__name__}."
        )
    if targets is None:
        targets = backbone.default_lora_layer_names()
    elif isinstance(targets, str) or not all(isinstance(t, str) for t in targets):
        raise PolicyError(
            "lora_targets is a list of layer names (e.g. ['query', 'value']), "
            f"got {targets!r}."
        )
    targets = list(targets)
    found = [
        layer
        for layer in backbone._flatten_layers(include_self=False)
        if layer.name in targets and layer.weights and hasattr(layer, "enable_lora")
    ]
    if not found:
        raise PolicyError(
            f"Freeze policy '{policy}': backbone '{backbone.name}' has no dense "
            f"layer named {' or '.join(repr(t) for t in targets)} to put LoRA "
            "factors on; pass lora_targets=[...] with the names of its attention "
            "projections (e.g. ['query', 'value'])."
        )
    enabled = lora_layers(backbone)
    if not enabled:
        backbone.enable_lora(rank, target_layer_names=targets)
    elif enabled[0].lora_rank != rank or set(map(id, enabled)) != set(map(id, found)):
        raise PolicyError(
            f"Freeze policy '{policy}': LoRA of rank {enabled[0].lora_rank} is already "
            f"enabled on {len(enabled)} layers of backbone '{backbone.name}'; its rank "
            "and targets cannot change. Build a new model, or fold the factors into "
            "the kernels first (model.merge_adapters())."
        )
    # keras-hub leaves the biases of the LoRA layers trainable: freeze all
    # but the factors, so that only they (and the task head) train.
    backbone.trainable = True
    for layer in backbone._flatten_layers(include_self=False):
        layer.trainable = False
    for layer in found:
        layer.trainable = True
        for weight in layer.weights:
            weight.trainable = weight.name in LORA_FACTORS
    return policy


def parameter_counts(model):
    """`{"trainable", "frozen", "total"}` parameter counts of a model or layer.

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    apply_freeze(backbone, "all")
    assert parameter_counts(backbone)["trainable"] == 0
    ```
    """
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = sum(int(w.numpy().size) for w in model.weights)
    return {"trainable": trainable, "frozen": total - trainable, "total": total}


def describe_freezing(backbone):
    """A text table: each layer group, its parameters, trainable or frozen.

    A group with only some weights training (LoRA factors) shows how many.

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm", num_classes=2, freeze="bottom-2")
    print(describe_freezing(model.backbone))  # embeddings, layer_0, layer_1 frozen
    ```
    """
    lines = [f"{'group':<12} {'parameters':>12}  state"]
    for name, layers in layer_groups(backbone).items():
        weights = [w for layer in layers for w in layer.weights]
        params = sum(_size(w) for w in weights)
        trainable = (
            sum(_size(w) for w in weights if w.trainable) if backbone.trainable else 0
        )
        if trainable == params:
            state = "trainable"
        elif trainable == 0:
            state = "frozen"
        elif any(w.name in LORA_FACTORS for w in weights):
            state = f"frozen, {trainable:,} LoRA trainable"
        else:
            state = f"{trainable:,} trainable"
        lines.append(f"{name:<12} {params:>12,}  {state}")
    counts = parameter_counts(backbone)
    lines.append(
        f"{'total':<12} {counts['total']:>12,}  "
        f"{counts['trainable']:,} trainable, {counts['frozen']:,} frozen"
    )
    return "\n".join(lines)


def _size(weight):
    size = 1
    for dim in weight.shape:
        size *= int(dim)
    return size


def _normalize(policy):
    if not isinstance(policy, str):
        raise PolicyError(
            f"A freeze policy is a string ({', '.join(POLICIES)}), got {policy!r}."
        )
    policy = policy.strip().lower()
    if policy in ("none", "all", "embeddings"):
        return policy
    if policy.startswith("bottom-"):
        _bottom_count(policy)
        return policy
    if policy.startswith("lora-"):
        return f"lora-{_lora_rank(policy)}"
    raise PolicyError(
        f"Unknown freeze policy '{policy}': expected one of "
        f"{', '.join(POLICIES)} (e.g. 'bottom-2', 'lora-8')."
    )


def _bottom_count(policy):
    text = policy[len("bottom-") :]
    if not text.isdigit():
        raise PolicyError(
            f"Freeze policy '{policy}': N in 'bottom-N' must be a "
            "non-negative integer, e.g. 'bottom-2'."
        )
    return int(text)


def _lora_rank(policy):
    text = policy[len("lora-") :]
    if not text.isdigit() or int(text) < 1:
        raise PolicyError(
            f"Freeze policy '{policy}': R in 'lora-R' is the rank of the LoRA "
            "factors, a positive integer, e.g. 'lora-8'."
        )
    return int(text)

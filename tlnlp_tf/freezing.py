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

Example:

```python
backbone, _ = tlnlp_tf.load_backbone("minilm")
tlnlp_tf.apply_freeze(backbone, "bottom-2")
tlnlp_tf.parameter_counts(backbone)  # {"trainable": …, "frozen": …, "total": …}
```

Keras 3 bakes the trainable set into the compiled train step: task models
recompile when their policy changes (`TextClassifier.set_freeze`).
"""

import collections
import re

from tlnlp_tf.errors import PolicyError

POLICIES = ("none", "all", "embeddings", "bottom-N")
_LAYER_INDEX = re.compile(r"^(?:transformer|encoder|decoder)_(?:layer|block)_(\d+)$")


def layer_groups(backbone):
    """Return an ordered dict `{group name: [layers]}` of `backbone`.

    Only layers that hold weights are listed.
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
    """The group names `policy` freezes on `backbone` (validates `policy`)."""
    policy = _normalize(policy)
    groups = list(layer_groups(backbone)) if policy != "none" else []
    if policy == "none":
        return []
    if policy == "all":
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


def apply_freeze(backbone, policy):
    """Set `trainable` on `backbone`'s layers according to `policy`.

    Returns the normalised policy string. A compiled model holding the
    backbone must be compiled again for the change to take effect.
    """
    policy = _normalize(policy)
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


def parameter_counts(model):
    """`{"trainable", "frozen", "total"}` parameter counts of a model or layer."""
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = sum(int(w.numpy().size) for w in model.weights)
    return {"trainable": trainable, "frozen": total - trainable, "total": total}


def describe_freezing(backbone):
    """A text table: each layer group, its parameters, trainable or frozen."""
    lines = [f"{'group':<12} {'parameters':>12}  state"]
    for name, layers in layer_groups(backbone).items():
        params = sum(layer.count_params() for layer in layers)
        trainable = all(_effectively_trainable(l, backbone) for l in layers)
        state = "trainable" if trainable else "frozen"
        lines.append(f"{name:<12} {params:>12,}  {state}")
    counts = parameter_counts(backbone)
    lines.append(
        f"{'total':<12} {counts['total']:>12,}  "
        f"{counts['trainable']:,} trainable, {counts['frozen']:,} frozen"
    )
    return "\n".join(lines)


def _effectively_trainable(layer, backbone):
    return backbone.trainable and layer.trainable


def _normalize(policy):
    if not isinstance(policy, str):
        raise PolicyError(
            f"A freeze policy is a string ({', '.join(POLICIES)}), "
            f"got {policy!r}."
        )
    policy = policy.strip().lower()
    if policy in ("none", "all", "embeddings"):
        return policy
    if policy.startswith("bottom-"):
        _bottom_count(policy)
        return policy
    raise PolicyError(
        f"Unknown freeze policy '{policy}': expected one of "
        f"{', '.join(POLICIES)} (e.g. 'bottom-2')."
    )


def _bottom_count(policy):
    text = policy[len("bottom-"):]
    if not text.isdigit():
        raise PolicyError(
            f"Freeze policy '{policy}': N in 'bottom-N' must be a "
            "non-negative integer, e.g. 'bottom-2'."
        )
    return int(text)

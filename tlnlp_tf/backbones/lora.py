"""LoRA adapters of a task model: save them alone, load them, fold them into kernels.

Under a `"lora-R"` freeze policy only the LoRA factors (`lora_kernel_a/b`)
and the task head train. `save_adapters` writes just those weights to a small
`.npz` file, with what `load_adapters` checks before restoring them: the
task, the policy, the label names, every weight's path and shape, and a
fingerprint (SHA-256) of the frozen backbone weights they were trained on.
`merge_adapters` returns a plain model (no LoRA) whose kernels are
`W + (alpha / rank) * A @ B`.

The functions take any keras-hub task with `backbone`, `head` and `freeze`
attributes; `TextTask` exposes them as methods.

Example:

```python
model = tl.TextClassifier.from_backbone("minilm", labels=labels, freeze="lora-8")
model.fit(train.batch(32), epochs=3)
save_adapters(model, "sst2.adapters.npz")            # 1.8 MB for MiniLM, lora-8
fresh = tl.TextClassifier.from_backbone("minilm", labels=labels, freeze="lora-8")
load_adapters(fresh, "sst2.adapters.npz")            # predicts as `model` does
merge_adapters(fresh).save("sst2.keras")             # a plain model
```
"""

import hashlib
import json
import warnings

import keras
import numpy as np

from tlnlp_tf.backbones.freezing import LORA_FACTORS
from tlnlp_tf.backbones.freezing import lora_layers
from tlnlp_tf.backbones.freezing import lora_rank
from tlnlp_tf.backbones.gguf import complete_backbone_config
from tlnlp_tf.errors import PolicyError

FORMAT = "tlnlp_tf.adapters"
VERSION = 1


def adapter_weights(model):
    """`{path: variable}`: the LoRA factors of the backbone, then the head's weights."""
    weights = [w for w in model.backbone.weights if w.name in LORA_FACTORS]
    weights += list(model.head.weights)
    return {w.path: w for w in weights}


def base_fingerprint(backbone):
    """SHA-256 of the backbone's own weights (paths, shapes, values; not LoRA's)."""
    digest = hashlib.sha256()
    for weight in sorted(backbone.weights, key=lambda w: w.path):
        if weight.name in LORA_FACTORS:
            continue
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight.value))
        digest.update(f"{weight.path}:{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def save_adapters(model, path):
    """Write the LoRA factors and head of `model` (policy `"lora-R"`) to `path` (.npz).

    Example:

    ```python
    save_adapters(model, "sst2.adapters.npz")
    ```
    """
    _require_lora(model, "save_adapters")
    weights = adapter_weights(model)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "task": type(model).__name__,
        "freeze": model.freeze,
        "names": _names(model),
        "paths": list(weights),
        "shapes": [list(map(int, w.shape)) for w in weights.values()],
        "base": base_fingerprint(model.backbone),
    }
    arrays = {
        f"weight_{i}": keras.ops.convert_to_numpy(w.value)
        for i, w in enumerate(weights.values())
    }
    with open(path, "wb") as file:  # a file object: numpy adds no suffix
        np.savez(file, meta=np.array(json.dumps(meta)), **arrays)
    return path


def load_adapters(model, path):
    """Restore adapters written by `save_adapters` into `model`.

    `model` must be built like the one that saved them: the same task,
    backbone weights, labels and freeze policy. Anything else raises
    `PolicyError` saying what differs. Weights are matched by path
    (`variable.path`, e.g. `transformer_layer_0/self_attention_layer/query/
    lora_kernel_a`), never by position (keras-hub's `save_lora_weights`
    matches by position: keras-team/keras-hub#2701), so they land on the
    same layers whatever the order in which the model was built. A model
    with LoRA on more layers than the file (e.g. `lora_targets` adding
    `"key"`) loads it, with a warning: its other factors stay fresh, and a
    fresh factor pair changes nothing (`B = 0`).

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=labels, freeze="lora-8")
    load_adapters(model, "sst2.adapters.npz")
    ```
    """
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data.files:
            raise PolicyError(
                f"{path} is not an adapters file (written by save_adapters)."
            )
        meta = json.loads(str(data["meta"]))
        values = [data[f"weight_{i}"] for i in range(len(meta.get("paths", [])))]
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise PolicyError(
            f"{path} is not a version-{VERSION} adapters file written by save_adapters."
        )
    _require_lora(model, "load_adapters")
    checks = (
        ("task", meta["task"], type(model).__name__, "build a {saved}"),
        (
            "freeze policy",
            meta["freeze"],
            model.freeze,
            "build the model with freeze='{saved}'",
        ),
        ("labels", meta["names"], _names(model), "build the model with these labels"),
    )
    for what, saved, found, fix in checks:
        if saved != found:
            raise PolicyError(
                f"{path}: the adapters' {what} is {saved!r}, "
                f"this model's is {found!r}: " + fix.format(saved=saved) + "."
            )
    saved = dict(zip(meta["paths"], values))
    weights = adapter_weights(model)
    missing = sorted(set(saved) - set(weights))
    untrained = sorted(set(weights) - set(saved))
    if missing or any(w.name not in LORA_FACTORS for w in map(weights.get, untrained)):
        raise PolicyError(
            f"{path}: the adapters' weights do not match this model's LoRA layers "
            f"and head (in the file only: {missing[:4]}; in the model only: "
            f"{untrained[:4]}): build the model with the same lora_targets."
        )
    for name, value in saved.items():
        if tuple(map(int, weights[name].shape)) != value.shape:
            raise PolicyError(
                f"{path}: weight {name} has shape {value.shape} in the file and "
                f"{tuple(weights[name].shape)} in this model."
            )
    if meta["base"] != base_fingerprint(model.backbone):
        raise PolicyError(
            f"{path}: these adapters were trained on other backbone weights than this "
            "model's (the fingerprints of the frozen weights differ): build the model "
            "from the same backbone spec, with weights='pretrained'. (A model "
            "reloaded from .keras holds its factors merged into the kernels: it is a "
            "different base.)"
        )
    for name, value in saved.items():  # by path: the order of the file is free
        weights[name].assign(value)
    if untrained:
        layers = sorted({name.rpartition("/")[0] for name in untrained})
        warnings.warn(
            f"{path}: {len(layers)} LoRA layer(s) of this model have no adapters in "
            f"the file ({', '.join(layers[:3])}{', ...' if len(layers) > 3 else ''}); "
            "they keep their fresh factors, which change no prediction until trained.",
            stacklevel=2,
        )
    return model


def merge_adapters(model, freeze="all"):
    """A new model like `model` with its LoRA factors folded into the kernels.

    Each LoRA layer's kernel becomes `W + (alpha / rank) * A @ B`, computed
    as the layer computes it in its forward pass, so the merged model
    predicts as `model` does. The result has no LoRA weights: it saves and
    reloads as a plain `.keras` model. `freeze` is its policy (`"all"`: only
    the head would train).

    Example:

    ```python
    merged = merge_adapters(model)
    merged.save("model.keras")
    ```
    """
    _require_lora(model, "merge_adapters")
    if lora_rank(freeze) is not None:
        raise PolicyError(
            f"merge_adapters(freeze='{freeze}'): the merged model has no LoRA "
            "factors; pass 'all', 'none', 'embeddings' or 'bottom-N'."
        )
    config = model.get_config()
    backbone = model.backbone
    config.update(
        backbone=backbone.__class__.from_config(complete_backbone_config(backbone)),
        preprocessor=model.preprocessor,
        freeze=freeze,
        lora_targets=None,
    )
    merged = model.__class__.from_config(config)
    copy_merged_weights(model, merged, lora_layers(backbone), "merge_adapters")
    return merged


def copy_merged_weights(model, merged, layers, where):
    """Copy `model`'s weights into `merged` by path, LoRA `layers` folded in.

    Each kernel of `layers` becomes `W + (alpha / rank) * A @ B`; the LoRA
    factors themselves are left out. `merged` is the same model rebuilt
    without LoRA: its weights must have exactly the other weights' paths.

    Example:

    ```python
    plain = merge_adapters(model)  # rebuilt without LoRA, then this copy
    copy_merged_weights(model, plain, lora_layers(model.backbone), "adapters")
    ```
    """
    source = {w.path: w for w in model.weights if w.name not in LORA_FACTORS}
    kernels = {}
    for layer in layers:
        kernel = next(w for w in layer.weights if w.name == "kernel")
        delta = keras.ops.matmul(layer.lora_kernel_a, layer.lora_kernel_b)
        value = keras.ops.add(kernel, (layer.lora_alpha / layer.lora_rank) * delta)
        kernels[kernel.path] = keras.ops.cast(value, kernel.dtype)
    targets = {w.path: w for w in merged.weights}
    if set(targets) != set(source):
        raise RuntimeError(
            f"{where}: the rebuilt model's weights differ from the original's: "
            f"{sorted(set(targets) ^ set(source))[:4]}"
        )
    for path, weight in targets.items():
        weight.assign(kernels.get(path, source[path].value))


def restart_lora(backbone):
    """Re-initialise LoRA factors that are both zero; return how many layers.

    Keras saves a LoRA layer with its factors merged into the kernel and,
    on loading, sets both factors to zero: the model predicts the same, but
    `A = B = 0` gets no gradient. A fresh `A` (keras-hub's He-uniform) with
    `B` still zero restarts LoRA on top of the merged kernel without
    changing a prediction.
    """
    restarted = 0
    for layer in lora_layers(backbone):
        a, b = layer.lora_kernel_a, layer.lora_kernel_b
        if not np.any(keras.ops.convert_to_numpy(a.value)) and not np.any(
            keras.ops.convert_to_numpy(b.value)
        ):
            a.assign(keras.initializers.HeUniform()(a.shape, dtype=a.dtype))
            restarted += 1
    return restarted


def _require_lora(model, action):
    rank = lora_rank(getattr(model, "freeze", "none"))
    if rank is None or not lora_layers(model.backbone):
        raise PolicyError(
            f"{action} needs a model with LoRA adapters (freeze='lora-R', e.g. "
            f"'lora-8'); this model's policy is '{getattr(model, 'freeze', None)}'."
        )
    return rank


def _names(model):
    names = getattr(model, "labels", None) or getattr(model, "tags", None)
    return None if names is None else [str(n) for n in names]

"""Mean-pooled features of raw texts from a backbone, at any transformer layer."""

import re

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import WEIGHTS
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers import SequencePooling
from tlnlp_tf.progress import progress

# `"minilm@random"`: the spec's architecture with freshly initialised weights.
RANDOM_SUFFIX = "@random"
# Texts sampled (evenly) to choose the sequence length.
LENGTH_SAMPLE = 2048
_LAYER_NAME = re.compile(r"transformer_layer_(\d+)")


def extract_features(
    spec,
    texts,
    text_pairs=None,
    layer=None,
    batch_size=64,
    max_length=None,
    weights="pretrained",
):
    """Frozen features of `texts`: the backbone's token vectors, mean-pooled.

    Tokenization runs in `tf.data`; texts are encoded in batches of similar
    length, each batch cut to its longest text (`trim_padding`), and come
    back in their original order. Padding never enters the mean.

    Args:
        spec: a backbone spec (see `load_backbone`); a trailing `"@random"`
            (`"minilm@random"`) means `weights="random"`.
        texts: a list of strings; `text_pairs`: the second texts of pairs.
        layer: `None` (the last layer) or the index `i` of a transformer
            layer (`0` is the first, `-1` the last): its output is pooled.
        batch_size: texts per forward pass.
        max_length: most tokens per text (pair); `None` chooses it from the
            texts, capped by the backbone.
        weights: `"pretrained"` or `"random"`.

    Returns:
        a float64 array `[len(texts), hidden_dim]`.

    Example:

    ```python
    features = tl.probes.extract_features("minilm", texts, layer=2)
    ```
    """
    spec, weights = split_source(spec, weights)
    backbone, preprocessor = load_backbone(spec, weights=weights)
    layers = resolve_layers(backbone, [layer], spec)
    return encode(
        backbone, preprocessor, texts, text_pairs, layers, batch_size, max_length
    )[0]


def split_source(spec, weights="pretrained"):
    """`(spec, weights)` of a source string: `"x@random"` is `("x", "random")`."""
    if weights not in WEIGHTS:
        raise BackboneError(f"weights must be one of {WEIGHTS}, got {weights!r}.")
    if isinstance(spec, str) and spec.endswith(RANDOM_SUFFIX):
        return spec[: -len(RANDOM_SUFFIX)], "random"
    return spec, weights


def layer_count(backbone):
    """The number of `transformer_layer_<i>` layers of a keras-hub backbone."""
    return sum(bool(_LAYER_NAME.fullmatch(layer.name)) for layer in backbone.layers)


def resolve_layers(backbone, layers, source):
    """`layers` (ints, negative from the end, or `None` for the last) as indices.

    A backbone without `transformer_layer_<i>` layers gives `None` (its
    output) for `None`, and an error for an index.
    """
    count = layer_count(backbone)
    resolved = []
    for layer in layers:
        if layer is None:
            resolved.append(count - 1 if count else None)
            continue
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise PolicyError(f"layer must be None or an integer index, got {layer!r}.")
        if not count:
            raise PolicyError(
                f"Backbone '{source}' has no layers named 'transformer_layer_<i>', "
                "so layer= cannot pick one; pass layer=None for its output."
            )
        if not -count <= layer < count:
            raise PolicyError(
                f"layer {layer} is out of range: backbone '{source}' has {count} "
                f"transformer layers (0 to {count - 1}, or -1 for the last)."
            )
        resolved.append(int(layer) % count)
    return resolved


def encode(
    backbone,
    preprocessor,
    texts,
    text_pairs,
    layers,
    batch_size=64,
    max_length=None,
    verbose="auto",
):
    """Pooled features of `texts` at each of `layers` (resolved), one pass,
    with a progress bar on stderr unless `verbose=0`."""
    texts, text_pairs = _check_texts(texts, text_pairs)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise PolicyError(f"batch_size must be a positive integer, got {batch_size!r}.")
    limit = getattr(backbone, "max_sequence_length", None) or 512
    if max_length is not None and not (
        isinstance(max_length, int) and 0 < max_length <= limit
    ):
        raise PolicyError(
            f"max_length must be an integer from 1 to the backbone's {limit} tokens, "
            f"got {max_length!r}."
        )
    preprocessor.sequence_length = max_length or _sequence_length(
        preprocessor, texts, text_pairs, limit
    )
    lengths = [len(t) for t in texts]
    if text_pairs is not None:
        lengths = [a + len(b) for a, b in zip(lengths, text_pairs)]
    order = np.argsort(lengths, kind="stable")  # similar lengths share a batch
    columns = [[texts[i] for i in order]]
    if text_pairs is not None:
        columns.append([text_pairs[i] for i in order])

    def prepare(*x):
        # `x=` by keyword: a positional `(texts, pairs)` tuple would be read
        # by the preprocessor as `(x, y)`.
        return trim_padding(preprocessor(x=x[0] if len(x) == 1 else x))

    data = (
        tf.data.Dataset.from_tensor_slices(tuple(columns))
        .batch(batch_size)
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    encoder = _encoder(backbone, layers)
    # One trace for every batch size and padded length.
    spec = tf.nest.map_structure(
        lambda s: tf.TensorSpec([None] * s.shape.rank, s.dtype), data.element_spec
    )
    run = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])
    parts = [[] for _ in layers]
    batches = -(-len(texts) // batch_size)
    label = f"Encoding {len(texts)} texts with {backbone.name}"
    for batch in progress(data, label, total=batches, verbose=verbose, unit="batch"):
        outputs = run(batch)
        if not isinstance(outputs, (list, tuple)):  # a one-output model
            outputs = [outputs]
        for part, pooled in zip(parts, outputs):
            part.append(np.asarray(tf.cast(pooled, tf.float32), dtype=np.float64))
    features = []
    for part in parts:
        pooled = np.empty((len(texts),) + part[0].shape[1:], np.float64)
        pooled[order] = np.concatenate(part)
        features.append(pooled)
    return features


def _encoder(backbone, layers):
    """A model from the backbone's inputs to the mean-pooled output of each layer."""
    inputs = backbone.input
    last = backbone.output
    if isinstance(last, dict):
        last = last["sequence_output"]
    count = layer_count(backbone)
    outputs = []
    for index in layers:
        if index is None or index == count - 1:
            sequence = last
        else:
            sequence = backbone.get_layer(f"transformer_layer_{index}").output
        pooled = SequencePooling("mean", dtype="float32")(
            {
                "sequence_output": keras.ops.cast(sequence, "float32"),
                "padding_mask": inputs["padding_mask"],
            }
        )
        outputs.append(pooled)
    return keras.Model(inputs, outputs)


def _sequence_length(preprocessor, texts, text_pairs, limit):
    picked = np.unique(np.linspace(0, len(texts) - 1, LENGTH_SAMPLE).astype(int))
    sample = [texts[i] for i in picked]
    pairs = None if text_pairs is None else [text_pairs[i] for i in picked]
    return choose_sequence_length(preprocessor.tokenizer, sample, pairs, limit=limit)


def _check_texts(texts, text_pairs):
    checked = []
    for name, values in (("texts", texts), ("text_pairs", text_pairs)):
        if values is None:
            checked.append(None)
            continue
        if isinstance(values, str) or not hasattr(values, "__len__"):
            raise DataError(
                f"{name} must be a list of strings, got {type(values).__name__}."
            )
        values = list(values)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise DataError(
                    f"{name}[{index}] is {type(value).__name__}, not a string; "
                    f"{name} must be a list of strings."
                )
        checked.append(values)
    texts, text_pairs = checked
    if not texts:
        raise DataError("texts is empty; there is nothing to encode.")
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise DataError(
            f"{len(texts)} texts but {len(text_pairs)} text_pairs; the lists must "
            "have the same length."
        )
    return texts, text_pairs

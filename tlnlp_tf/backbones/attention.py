"""Attention dropout of a built backbone: read it, or set it for fine-tuning.

keras-hub backbones take one `dropout` rate for everything, fixed when they
are built (from a preset's config). Dropout on the attention probabilities
is the expensive one: on a 512-token batch it draws a random mask over
`batch × heads × 512²` scores in every layer, and while it is on,
`keras.layers.MultiHeadAttention` cannot use the fused
`ops.dot_product_attention` path (flash attention on GPUs with JAX or
PyTorch). Measured on 2 CPU cores, MiniLM, batch 8 × 512 tokens: a training
step takes 2.99 s with attention dropout 0.1 and 2.44 s without
(`benchmarks/RESULTS.md`). `TextClassifier` therefore fine-tunes with
`attention_dropout=0.0` by default (its accuracy measured unchanged on SST-2
and IMDB); the other tasks keep the backbone's own rate (`None`) until it is
measured for them. The dropout on the residual branches, the feed-forward
outputs and the head stays.

Keras exposes the rate only as a read-only property, so this module sets
the layer's `_dropout` (Keras ≥ 3.0; checked, with a clear error if a later
Keras renames it). `tests/test_attention.py` checks the behaviour, so an
upstream change shows up there.
"""

import keras


def attention_layers(backbone):
    """The `keras.layers.MultiHeadAttention` layers inside `backbone`, in order."""
    return [
        layer
        for layer in backbone._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.MultiHeadAttention)
    ]


def attention_dropout(backbone):
    """The backbone's attention-probability dropout rate (`None`: no attention).

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    set_attention_dropout(backbone, 0.0)
    assert attention_dropout(backbone) == 0.0
    ```
    """
    rates = [float(layer.dropout) for layer in attention_layers(backbone)]
    return max(rates) if rates else None


def set_attention_dropout(backbone, rate):
    """Set the dropout on the attention probabilities of every attention layer.

    Takes effect the next time a train function is traced (`fit` after
    `compile`). `rate=None` leaves the backbone as it is.

    Example:

    ```python
    set_attention_dropout(model.backbone, 0.1)  # back to BERT's own rate
    model.compile()
    ```
    """
    if rate is None:
        return backbone
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"attention_dropout must be in [0, 1) or None; got {rate}.")
    for layer in attention_layers(backbone):
        if not hasattr(layer, "_dropout"):
            raise RuntimeError(
                f"This Keras version ({keras.__version__}) keeps no `_dropout` on "
                "MultiHeadAttention; pass attention_dropout=None to keep the "
                "backbone's own rate."
            )
        layer._dropout = rate
        dropout_layer = getattr(layer, "_dropout_layer", None)
        if dropout_layer is not None:
            dropout_layer.rate = rate
    return backbone

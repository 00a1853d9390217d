"""Freezing and `compile` of `EncoderDecoderLM`: a policy per side, and defaults.

A freeze policy applies to the encoder and the decoder (one string, or
`{"encoder": ..., "decoder": ...}`); the decoder's new layers always train.
`compile()` sets up the library's fine-tuning AdamW, with layer-wise decay
over both halves on request.

```python
model = tl.EncoderDecoderLM.from_backbone("minilm")
model.set_freeze({"encoder": "all", "decoder": "bottom-2"})
model.compile(learning_rate=5e-4)
```
"""

import keras

from tlnlp_tf.backbones import lora as adapters
from tlnlp_tf.backbones.freezing import apply_freeze
from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.backbones.freezing import lora_rank
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.errors import positive_number
from tlnlp_tf.tasks.encoder_decoder_inputs import split_policy
from tlnlp_tf.tasks.freeze_policy import recompile_fresh
from tlnlp_tf.tasks.task import compile_from_saved
from tlnlp_tf.tasks.task_training import LORA_LEARNING_RATE
from tlnlp_tf.training.layer_decay import layer_decay_multipliers
from tlnlp_tf.training.optimizers import auto_optimizer

# The warm-started encoder's share of the peak rate (`encoder_rate="auto"`):
# DialogSum bert2bert at 5e-4, the encoder's output spread across tokens
# fell from 0.23 to 0.001 in 25 steps at 1x, and stayed 0.12-0.26 at 0.1x
# while the decoder came to use the source (docs/generation.md).
WARM_ENCODER_RATE = 0.1


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _check_rate(value):
    return positive_number(
        value,
        "compile(encoder_rate=...) must be 'auto' or a finite multiplier above 0 "
        "(1.0: the peak rate)",
    )


class EncoderDecoderTraining:
    """Freezing and training set-up, mixed into `EncoderDecoderLM`.

    Reads the model's `backbone`, `decoder`, `share_weights`,
    `lora_targets`, `target_tokenizer` and `freeze`.

    ```python
    model = tl.EncoderDecoderLM.from_backbone("minilm", freeze="lora-4")
    model.default_learning_rate()  # 5e-3 under LoRA
    ```
    """

    # === Freezing ===

    def _apply_policies(self, freeze):
        policies = split_policy(freeze)
        if self.share_weights and policies["encoder"] != policies["decoder"]:
            raise PolicyError(
                f"freeze={freeze!r}: with share_weights=True the encoder and the "
                "decoder share their layers, so they take one policy; pass a "
                "single policy string."
            )
        current = getattr(self, "freeze", None) or {}
        applied = {}
        for side, backbone in (("encoder", self.backbone), ("decoder", self.decoder)):
            if side == "decoder" and self.share_weights:
                applied[side] = applied["encoder"]
            elif current.get(side) == policies[side] and lora_rank(policies[side]):
                applied[side] = policies[side]  # LoRA in place: nothing to redo
            else:
                applied[side] = apply_freeze(
                    backbone, policies[side], self.lora_targets
                )
        # The encoder's pooler (BERT's `pooled_dense`) gets no gradient here.
        try:
            for layer in layer_groups(self.backbone)["pooler"]:
                layer.trainable = False
        except PolicyError:
            pass
        # New layers start random: freezing them would never help.
        new = self.decoder.new_layers()
        if self.target_tokenizer is not None:
            new.append(self.decoder.token_embedding)
        for layer in new:
            layer.trainable = True
            # Per variable too: a layer already marked trainable ignores
            # `trainable = True` (TensorFlow's attribute tracking skips a
            # value that is already set), while `"lora-R"` froze its kernel.
            for weight in layer.weights:
                weight.trainable = weight.name not in adapters.LORA_FACTORS
        return applied

    def set_freeze(self, policy):
        """Apply a freeze policy (one string, or per side) and recompile.

        Keras fixes the trainable variables when the train step is built;
        the optimizer starts fresh (its state belonged to the old set).

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm")
        model.set_freeze({"encoder": "all", "decoder": "bottom-2"})
        ```
        """
        self.freeze = self._apply_policies(policy)
        return recompile_fresh(self)

    def make_train_function(self, force=False):
        # A `.keras` file loads LoRA factors as zeros: restart them.
        adapters.restart_lora(self.backbone)
        adapters.restart_lora(self.decoder)
        return super().make_train_function(force=force)

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        learning_rate="auto",
        layer_decay=None,
        encoder_rate="auto",
        **kwargs,
    ):
        """Compile with fine-tuning defaults.

        `optimizer="auto"` is the library's fine-tuning AdamW (10% warmup,
        linear decay over the first `fit`, weight decay 0.01 except biases
        and LayerNorm, clipping at norm 1); `learning_rate="auto"` is 1e-4
        for backbones under 60M parameters (3e-5 above), 5e-3 under
        `"lora-R"`. `layer_decay=d` gives each half layer-wise learning
        rates (`layer_decay_multipliers`): in the encoder and in the decoder
        layer `i` of `L` learns at `d ** (L - i)` of the peak and the
        embeddings at `d ** (L + 1)`; the decoder's new cross-attention
        learns at the full rate. `None` or `"auto"` (the default) is one rate
        for all: no measurement here shows decay helping generation yet.
        `encoder_rate` scales the encoder's rate (a multiplier of the peak,
        on top of any decay); `"auto"` is 0.1 for an encoder warm-started
        from a checkpoint (`bert2bert`, `bert2rnd`; not under LoRA) and 1
        otherwise. At one full rate for all, the new cross-attention's early
        gradients wipe out the pretrained encoder within a few dozen steps
        (its outputs become one constant vector, so the decoder can only
        learn a generic target); see `docs/generation.md`.
        `loss="auto"` is cross-entropy on the logits averaged over the
        target tokens (padding masked); `metrics="auto"` is the token
        accuracy (`weighted_metrics`).

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm")
        model.compile(learning_rate=5e-4, layer_decay=0.9)
        ```
        """
        layer_decay = None if layer_decay == "auto" else layer_decay
        self._compile_args = dict(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            learning_rate=learning_rate,
            layer_decay=layer_decay,
            encoder_rate=encoder_rate,
            **kwargs,
        )
        library_optimizer = isinstance(optimizer, str) and optimizer == "auto"
        if not library_optimizer and not _is_auto(encoder_rate):
            raise PolicyError(
                "compile(encoder_rate=...) sets the library's optimizer up: it "
                "needs optimizer='auto' (or give your optimizer per-variable "
                "multipliers, model.learning_rate_multipliers(None, rate))."
            )
        rate = self.default_encoder_rate() if _is_auto(encoder_rate) else encoder_rate
        rate = _check_rate(rate)
        optimizer = auto_optimizer(
            optimizer,
            learning_rate,
            layer_decay,
            self.default_learning_rate,
            lambda decay: self.learning_rate_multipliers(decay, rate),
        )
        if isinstance(loss, str) and loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            )
        if isinstance(metrics, str) and metrics == "auto":
            metrics = None
            if kwargs.get("weighted_metrics", "auto") == "auto":
                kwargs["weighted_metrics"] = [
                    keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")
                ]
        elif kwargs.get("weighted_metrics") == "auto":
            kwargs["weighted_metrics"] = None
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def layer_decay_multipliers(self, decay):
        """`{variable path: multiplier}` of layer-wise decay over both halves.

        Each half decays from its own top (`layer_decay_multipliers` of the
        encoder, then of the decoder); the decoder's cross-attention, which
        starts random, keeps the full rate. Weights the halves share
        (`share_weights=True`) take the encoder's multiplier.

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm")
        model.layer_decay_multipliers(0.9)  # {"…/kernel": 0.9 ** depth, …}
        ```
        """
        multipliers = layer_decay_multipliers(self.decoder, decay)
        for layer in self.decoder.new_layers():
            for weight in layer.weights:
                multipliers[weight.path] = 1.0
        multipliers.update(layer_decay_multipliers(self.backbone, decay))
        return multipliers

    def learning_rate_multipliers(self, decay, encoder_rate=1.0):
        """`layer_decay_multipliers(decay)` with the encoder's scaled by `encoder_rate`.

        `decay=None` is no decay; `None` when both leave one rate for all.

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm")
        model.learning_rate_multipliers(1.0, 0.1)  # encoder 0.1, decoder 1.0
        ```
        """
        if decay is None and encoder_rate == 1.0:
            return None
        multipliers = {} if decay is None else self.layer_decay_multipliers(decay)
        for weight in self.backbone.weights:
            multipliers[weight.path] = multipliers.get(weight.path, 1.0) * encoder_rate
        return multipliers

    def default_encoder_rate(self):
        """The encoder's rate multiplier `compile(encoder_rate="auto")` uses.

        0.1 for an encoder warm-started from a checkpoint and trained in
        full; 1 for a random encoder (`rnd2rnd`) or LoRA (its adapters are
        new).

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm", variant="rnd2rnd")
        model.default_encoder_rate()  # 1.0
        ```
        """
        if self.variant == "rnd2rnd" or lora_rank(self.freeze["encoder"]) is not None:
            return 1.0
        return WARM_ENCODER_RATE

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    def default_learning_rate(self):
        """The peak learning rate `compile(learning_rate="auto")` uses."""
        if any(lora_rank(policy) is not None for policy in self.freeze.values()):
            return LORA_LEARNING_RATE
        if self.backbone.count_params() < 60_000_000:
            return self.small_backbone_learning_rate
        return 3e-5

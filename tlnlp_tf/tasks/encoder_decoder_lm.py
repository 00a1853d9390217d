"""`EncoderDecoderLM`: text-to-text models warm-started from an encoder checkpoint.

Rothe, Narayan & Severyn (TACL 2020), "Leveraging Pre-trained Checkpoints
for Sequence Generation Tasks": both halves of a Transformer
encoder-decoder start from a BERT-family checkpoint; the decoder gets
causal self-attention and a new, random cross-attention. The variants
carry the paper's names: `"bert2bert"` (encoder and decoder from the
checkpoint, `share_weights=True` for one set of weights), `"bert2rnd"`
(pretrained encoder, random decoder) and `"rnd2rnd"` (the same
architecture trained from scratch: the baseline that measures transfer).

```python
model = EncoderDecoderLM.from_backbone("minilm", variant="bert2bert")
model.fit(["the film was very good ."], ["good film"], epochs=1)
model.generate(["the plot was very dull ."], max_new_tokens=4)
```
"""

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.backbones.bert_decoder import BertDecoder
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.warm_start import share_layers
from tlnlp_tf.backbones.warm_start import warm_start
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.metrics.generation import bleu
from tlnlp_tf.metrics.generation import chrf
from tlnlp_tf.metrics.generation import rouge
from tlnlp_tf.metrics.rounding import rounded
from tlnlp_tf.tasks.encoder_decoder_adapters import EncoderDecoderAdapters
from tlnlp_tf.tasks.encoder_decoder_data import EncoderDecoderData
from tlnlp_tf.tasks.encoder_decoder_generation import EncoderDecoderGeneration
from tlnlp_tf.tasks.encoder_decoder_generation import GenerationFunctions
from tlnlp_tf.tasks.encoder_decoder_inputs import as_lists
from tlnlp_tf.tasks.encoder_decoder_inputs import check_choice
from tlnlp_tf.tasks.encoder_decoder_inputs import check_length
from tlnlp_tf.tasks.encoder_decoder_inputs import check_pairs
from tlnlp_tf.tasks.encoder_decoder_inputs import is_texts
from tlnlp_tf.tasks.encoder_decoder_inputs import labelled_pairs
from tlnlp_tf.tasks.encoder_decoder_inputs import pairs_dataset
from tlnlp_tf.tasks.encoder_decoder_inputs import sample_pairs
from tlnlp_tf.tasks.encoder_decoder_inputs import target_tokenizer_of
from tlnlp_tf.tasks.encoder_decoder_training import EncoderDecoderTraining
from tlnlp_tf.tasks.inputs import DEFAULT_BATCH
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import check_batched
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import set_schedule_length

VARIANTS = ("bert2bert", "bert2rnd", "rnd2rnd")
METRICS = ("rouge", "bleu")


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class EncoderDecoderLM(
    EncoderDecoderData,
    EncoderDecoderTraining,
    EncoderDecoderAdapters,
    EncoderDecoderGeneration,
    keras_hub.models.Task,
):
    """A Transformer encoder-decoder whose halves start from an encoder checkpoint.

    `fit` takes `(source, target)` text pairs (a batched `tf.data.Dataset`,
    two lists, or a list of pairs); tokenization runs inside `tf.data`, and
    training is teacher forcing: the decoder reads `[CLS] target` and
    predicts `target [SEP]`, padding masked out of the loss. `generate`
    maps source strings to target strings with a keras-hub sampler
    (greedy, beam, top-k, top-p) and a key/value cache; `score` reports
    ROUGE (`metric="rouge"`) or BLEU and chrF (`metric="bleu"`) with the
    loss and token accuracy.

    Args:
        backbone: the encoder, a keras-hub BERT-family backbone.
        decoder: a `tlnlp_tf.backbones.bert_decoder.BertDecoder` shaped like it.
        preprocessor: the encoder's `TextClassifierPreprocessor` (its
            tokenizer reads the sources, and the targets unless
            `target_tokenizer` is given).
        target_tokenizer: a keras-hub tokenizer for a new target vocabulary
            (the decoder's token embedding and output layer are then new).
        variant: `"bert2bert"`, `"bert2rnd"` or `"rnd2rnd"` (recorded; the
            weights come from `from_backbone`).
        share_weights: the decoder uses the encoder's layers (`bert2bert`
            only): one set of weights for both, cross-attention apart.
        source_length / target_length: the most tokens of a source (with
            `[CLS]` and `[SEP]`) and of a target (with one of them); `None`
            chooses them from the first training data. Longer sources are
            truncated and counted, with a warning.
        freeze: a policy (`"none"`, `"all"`, `"embeddings"`, `"bottom-N"`,
            `"lora-R"`) for both sides, or `{"encoder": ..., "decoder": ...}`.
            The decoder's cross-attention (and, with a new target
            vocabulary, its token embedding) always trains.
        metric: what `score` reports: `"rouge"` or `"bleu"`.
        lora_targets: the layer names LoRA applies to (`None`: query, value).

    Example:

    ```python
    model = EncoderDecoderLM.from_backbone("minilm", variant="bert2bert",
                                           freeze={"encoder": "all"})
    model.freeze  # {"encoder": "all", "decoder": "none"}
    ```
    """

    small_backbone_learning_rate = 1e-4
    # Generation runs as one tf.function, compiled with XLA or not. "auto":
    # XLA for beam search only. Measured on 2 CPU cores, MiniLM, 8 sources of
    # 128 tokens, 32 new tokens, key/value cache: greedy 152 tokens/s plain,
    # 123 with XLA; beam (4) 10 tokens/s plain, 30 with XLA (the beams'
    # cache gathers fuse). Under XLA the sources are padded to
    # `source_length` and the last batch to `batch_size`: one compile.
    generate_jit_compile = "auto"

    def __init__(
        self,
        backbone,
        decoder,
        preprocessor,
        target_tokenizer=None,
        variant="bert2bert",
        share_weights=False,
        source_length=None,
        target_length=None,
        freeze="none",
        metric="rouge",
        lora_targets=None,
        **kwargs,
    ):
        check_choice("variant", variant, VARIANTS)
        check_choice("metric", metric, METRICS)
        if share_weights and variant != "bert2bert":
            raise PolicyError(
                f"share_weights=True shares the checkpoint's weights between encoder "
                f"and decoder: it needs variant='bert2bert', got '{variant}'."
            )
        check_length("source_length", source_length, backbone.max_sequence_length)
        check_length("target_length", target_length, decoder.max_sequence_length - 1)
        super().__init__(compile=False, **kwargs)
        # === Layers ===
        self.backbone = backbone
        self.decoder = decoder
        self.preprocessor = preprocessor
        self.target_tokenizer = target_tokenizer
        self.warm_start_report = None
        if share_weights:
            self.warm_start_report = share_layers(
                decoder, backbone, vocabulary=target_tokenizer is None
            )
        self.built = True

        # === Config ===
        self.variant = variant
        self.share_weights = bool(share_weights)
        self.source_length = None if source_length is None else int(source_length)
        self.target_length = None if target_length is None else int(target_length)
        self.metric = metric
        self.lora_targets = None if lora_targets is None else list(lora_targets)
        self.freeze = self._apply_policies(freeze)
        if self.source_length is not None:
            self.preprocessor.sequence_length = self.source_length
        object.__setattr__(self, "_generation", GenerationFunctions())
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        variant="bert2bert",
        share_weights=False,
        target_vocabulary=None,
        source_length=None,
        target_length=None,
        freeze="none",
        **kwargs,
    ):
        """Build an encoder-decoder on a backbone spec (see `load_backbone`).

        Args:
            spec: a keras-hub preset name, a local preset or Hugging Face
                folder, or `"minilm"`.
            variant: `"bert2bert"` (the decoder's embeddings, self-attention
                and feed-forward layers copied from the checkpoint),
                `"bert2rnd"` (a random decoder) or `"rnd2rnd"` (both random).
            share_weights: `bert2bert` with one set of weights for both.
            target_vocabulary: `None` (the source vocabulary), or a new one
                for targets it does not cover: a list of WordPiece tokens
                (see `learn_vocabulary`), a `vocab.txt` path or a keras-hub
                tokenizer. The decoder's token embedding and output layer are
                then new, the rest of it is still warm-started.
            source_length / target_length / freeze: see the class.
            **kwargs: `metric`, `tie_embeddings` (default `True`: the output
                layer is the decoder's input embedding), `lora_targets`,
                `dtype`, `name`.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm", variant="bert2rnd",
                                               freeze={"encoder": "bottom-2"})
        ```
        """
        check_choice("variant", variant, VARIANTS)
        tie_embeddings = kwargs.pop("tie_embeddings", True)
        weights = "random" if variant == "rnd2rnd" else "pretrained"
        encoder, preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.pop("dtype", None)
        )
        target_tokenizer = target_tokenizer_of(target_vocabulary)
        decoder = BertDecoder.from_encoder(
            encoder,
            vocabulary_size=None
            if target_tokenizer is None
            else target_tokenizer.vocabulary_size(),
            tie_weights=tie_embeddings,
        )
        report = None
        if variant == "bert2bert" and not share_weights:
            report = warm_start(decoder, encoder, target_tokenizer is None)
        model = cls(
            encoder,
            decoder,
            preprocessor,
            target_tokenizer,
            variant=variant,
            share_weights=share_weights,
            source_length=source_length,
            target_length=target_length,
            freeze=freeze,
            **kwargs,
        )
        if report is not None:
            model.warm_start_report = report
        elif not share_weights:
            model.warm_start_report = {
                "copied": {},
                "new": [w.path for w in decoder.weights],
            }
        return model

    # === Forward pass ===

    def encode(self, token_ids, padding_mask, training=False):
        """The encoder's output `[batch, source tokens, hidden]`."""
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if "segment_ids" in self.backbone.input:
            inputs["segment_ids"] = keras.ops.zeros_like(token_ids)
        outputs = self.backbone(inputs, training=training)
        return outputs["sequence_output"] if isinstance(outputs, dict) else outputs

    def call(self, inputs, training=None):
        encoded = self.encode(
            inputs["encoder_token_ids"], inputs["encoder_padding_mask"], training
        )
        hidden = self.decoder(
            {
                "token_ids": inputs["decoder_token_ids"],
                "padding_mask": inputs["decoder_padding_mask"],
                "encoder_sequence_output": encoded,
                "encoder_padding_mask": inputs["encoder_padding_mask"],
            },
            training=training,
        )
        return self.decoder.logits(hidden)

    # === Fit and evaluate ===

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on `(source, target)` text pairs.

        Takes a batched `tf.data.Dataset` of `(source, target)` strings,
        two lists `fit(sources, targets)` (shuffled every epoch unless
        `shuffle=False`, batches of `batch_size`, 32 by default),
        `fit([(source, target), ...])` or `tl.data.TextPairs`. On the
        first call, `source_length` and `target_length` left `None` are
        chosen from the training data and the auto schedule decays to zero
        over this call's steps; longer training sources or targets are
        counted with a warning.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm")
        model.fit(["the film was very good ."], ["good film"], epochs=1)
        ```
        """
        x, y = as_lists(x, y)
        if is_texts(x) and y is not None:
            sources, targets = check_pairs(x, y, "fit")
            x = pairs_dataset(sources, targets, batch_size, kwargs.pop("shuffle", True))
            y, batch_size = None, None
        elif isinstance(x, tf.data.Dataset):
            check_batched(x, "fit")
            sources, targets = sample_pairs(x, LENGTH_SAMPLE)
        else:
            sources, targets = [], []
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf.data.Dataset):
            check_batched(validation, "fit(validation_data=...)")
        elif isinstance(validation, (tuple, list)) and len(validation) == 2:
            if is_texts(validation[0]):
                checked = check_pairs(*validation, "fit(validation_data=...)")
                kwargs["validation_data"] = pairs_dataset(
                    *checked, batch_size or DEFAULT_BATCH, False
                )
        self._choose_lengths(sources, targets)
        set_schedule_length(self.optimizer, x, batch_size, epochs, kwargs)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
            x = one_iterator(x, epochs, kwargs)  # not a tokenizer pipeline per epoch
        build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate` on text pairs: the loss and token accuracy.

        Takes what `fit` takes. `score` adds the generation metric.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm")
        model.evaluate(["the film was very good ."], ["good film"], return_dict=True)
        ```
        """
        if kwargs.get("_use_cached_eval_dataset"):  # fit's validation pass
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        x, y = as_lists(x, y)
        if is_texts(x) and y is not None:
            x = pairs_dataset(
                *check_pairs(x, y, "evaluate"), batch_size or DEFAULT_BATCH, False
            )
            y, batch_size = None, None
        elif isinstance(x, tf.data.Dataset):
            check_batched(x, "evaluate")
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    # === Scoring ===

    def score(self, data, batch_size=32, **generate_options):
        """The task metric on `(source, target)` pairs, with loss and token accuracy.

        `data` is two lists `(sources, targets)`, a list of pairs,
        `tl.data.TextPairs` or a dataset of pairs. Generates with
        `generate(**generate_options)` (greedy by default) and reports
        ROUGE-1/2/L F-measures ×100 (`metric="rouge"`) or BLEU and chrF
        (`metric="bleu"`), through `tlnlp_tf.metrics.generation`.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm")
        model.score((["the film was very good ."], ["good film"]),
                    max_new_tokens=4)  # {"loss", "token_accuracy", "rouge1", …}
        ```
        """
        sources, targets = labelled_pairs(data)
        logs = self.evaluate(
            sources, targets, batch_size=batch_size, return_dict=True, verbose=0
        )
        predictions = self.generate(sources, batch_size=batch_size, **generate_options)
        scores = {
            "loss": float(logs["loss"]),
            "token_accuracy": float(logs["token_accuracy"]),
        }
        scores.update(_generation_scores(self.metric, predictions, targets))
        return rounded(scores)

    # === keras-hub presets: refused, the model is one `.keras` file ===

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """Refused with `PolicyError`: save with `model.save("model.keras")`.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm")
        model.save("model.keras")
        model = keras.saving.load_model("model.keras")
        ```
        """
        raise PolicyError(
            "EncoderDecoderLM.save_to_preset: keras-hub presets rebuild only "
            "keras-hub's own task classes. Save with model.save('model.keras') "
            "and reload with keras.saving.load_model('model.keras')."
        )

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Refused with `PolicyError`: use `from_backbone` or `load_model`.

        Example:

        ```python
        model = EncoderDecoderLM.from_backbone("minilm")
        ```
        """
        raise PolicyError(
            "EncoderDecoderLM.from_preset: build a model with "
            "EncoderDecoderLM.from_backbone(spec, ...) or reload a saved one "
            "with keras.saving.load_model('model.keras')."
        )

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "backbone": keras.layers.serialize(self.backbone),
            "decoder": keras.layers.serialize(self.decoder),
            "preprocessor": keras.layers.serialize(self.preprocessor),
            "target_tokenizer": None
            if self.target_tokenizer is None
            else keras.layers.serialize(self.target_tokenizer),
            "variant": self.variant,
            "share_weights": self.share_weights,
            "source_length": self.source_length,
            "target_length": self.target_length,
            "freeze": dict(self.freeze),
            "metric": self.metric,
            "lora_targets": self.lora_targets,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "decoder", "preprocessor", "target_tokenizer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.layers.deserialize(config[key])
        return cls(**config)


def _generation_scores(metric, predictions, references):
    if metric == "rouge":
        scores = rouge(predictions, references)
        return {name: scores[name] for name in ("rouge1", "rouge2", "rougeL")}
    return {
        "bleu": bleu(predictions, references),
        "chrf": chrf(predictions, references),
    }

"""Generation for `EncoderDecoderLM`: sources in, text out, with a KV cache.

The mixin holds `generate` and the compiled functions behind it: the source
features, one decoding step with the decoder's self-attention cache (or a
full recompute), keras-hub samplers (greedy, beam, top-k, top-p, random)
wrapped with `PenalizedSampler` for repetition penalties.

```python
model = tl.EncoderDecoderLM.from_backbone("minilm")
model.generate(["the plot was very dull ."], max_new_tokens=4, sampler="beam")
```
"""

import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.decoding.samplers import resolve_sampler
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.encoder_decoder_inputs import PAIR_EMPTY
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import length_order
from tlnlp_tf.tasks.inputs import text

# `generate(max_new_tokens=None)` before `fit` has chosen a target length.
DEFAULT_NEW_TOKENS = 32


class EncoderDecoderGeneration:
    """`generate` and its compiled functions; mixed into `EncoderDecoderLM`."""

    def generate(
        self,
        sources,
        max_new_tokens=None,
        sampler="greedy",
        *,
        batch_size=32,
        use_cache=True,
        **sampler_options,
    ):
        """Generate a target text for each source text.

        Args:
            sources: a string or a list of strings.
            max_new_tokens: the most tokens generated (the closing `[SEP]`
                included); `None` is `target_length` (32 before `fit`). At
                most the decoder's positions minus one.
            sampler: `"greedy"`, `"beam"`, `"top_k"`, `"top_p"`, `"random"`
                or a `keras_hub.samplers.Sampler` (see
                `tlnlp_tf.decoding.make_sampler`).
            batch_size: sources decoded together (sorted by length).
            use_cache: keep the decoder's self-attention keys and values
                between steps (`False` recomputes every step: same output,
                slower).
            **sampler_options: `num_beams` (beam, 4), `k` (top_k, 10), `p`
                (top_p, 0.9), `temperature`, `seed`, `repetition_penalty`
                (1.0: off) and `no_repeat_ngram_size` (0: off).

        Returns:
            A string per source (one string for a string). Sources longer
            than `source_length` tokens are truncated, with a warning that
            counts them.

        Example:

        ```python
        model = tl.EncoderDecoderLM.from_backbone("minilm")
        model.generate(["the film was very good ."], max_new_tokens=4)
        model.generate("the plot was dull .", max_new_tokens=4, sampler="beam",
                       num_beams=2)
        ```
        """
        single = isinstance(sources, str)
        sources = [sources] if single else list(sources)
        if not sources:
            raise DataError("generate: no sources were given.")
        check_texts(sources, "generate: source", PAIR_EMPTY)
        limit = int(self.decoder.max_sequence_length) - 1
        if max_new_tokens is None:
            max_new_tokens = min(self.target_length or DEFAULT_NEW_TOKENS, limit)
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, (int, np.integer))
            or max_new_tokens < 1
            or max_new_tokens > limit
        ):
            raise PolicyError(
                f"generate: max_new_tokens={max_new_tokens!r}; expected an integer "
                f"from 1 to {limit} (the decoder has {limit + 1} positions)."
            )
        function, jit = self._generation_function(sampler, sampler_options, use_cache)
        self.count_truncated(sources)
        order = length_order(sources)
        start_id = self.output_tokenizer().start_token_id
        features_of = self._source_features_function(trim=not jit)
        outputs = [None] * len(sources)
        for start in range(0, len(sources), batch_size):
            chosen = order[start : start + batch_size]
            texts = [sources[i] for i in chosen]
            if jit and len(sources) > batch_size:  # one shape for XLA
                texts += texts[-1:] * (batch_size - len(texts))
            features = features_of(tf.constant(texts))
            prompt = np.zeros((len(texts), int(max_new_tokens) + 1), "int32")
            prompt[:, 0] = start_id
            mask = np.zeros(prompt.shape, bool)
            mask[:, 0] = True
            ids = function(
                features["token_ids"], features["padding_mask"], prompt, mask
            )
            for index, generated in zip(chosen, self._detokenize(ids.numpy())):
                outputs[index] = generated
        return outputs[0] if single else outputs

    def _source_features_function(self, trim=True):
        """A `tf.function`: source strings to token features.

        In a graph, as in `tf.data` (keras-hub tokenizers called eagerly
        answer in Python lists); traced once per model and source length.
        `trim=False` keeps every batch `source_length` wide (one XLA shape).
        """
        key = ("sources", self._source_limit(), trim)
        function = self._generation.functions.get(key)
        if function is None:

            def features_of(texts):
                features = self.preprocessor(x=texts)
                if trim:
                    return trim_padding(features)
                mask = tf.cast(features["padding_mask"], "int32")
                return dict(features, padding_mask=mask)

            function = tf.function(features_of, reduce_retracing=True)
            self._generation.functions[key] = function
        return function

    def _generation_function(self, sampler, options, use_cache):
        """`(tf.function, jit)`: (source ids, mask, prompt, prompt mask) to ids."""
        sampler, key = resolve_sampler(sampler, options)
        jit = self.generate_jit_compile
        if jit == "auto":
            beam = keras_hub.samplers.BeamSampler
            jit = isinstance(sampler, beam) or isinstance(
                getattr(sampler, "sampler", None), beam
            )
        jit = bool(jit)
        cached = self._generation.functions.get((key, use_cache, jit))
        if cached is not None:
            return cached, jit
        end = int(self.output_tokenizer().end_token_id)

        def generate_ids(token_ids, padding_mask, prompt, prompt_mask):
            encoded = self.encode(token_ids, padding_mask, training=False)
            if use_cache:
                step, cache = self._cached_step(encoded, padding_mask, prompt)
            else:
                step, cache = self._full_step(encoded, padding_mask)
            return sampler(
                next=step,
                prompt=prompt,
                cache=cache,
                index=1,
                mask=prompt_mask,
                stop_token_ids=[end],
            )

        function = tf.function(generate_ids, jit_compile=jit, reduce_retracing=True)
        if key is not None:
            self._generation.functions[(key, use_cache, jit)] = function
        return function, jit

    def _cached_step(self, encoded, padding_mask, prompt):
        """`next` for a keras-hub sampler: one token a step, key/value cached."""
        decoder = self.decoder
        self_cache, cross_cache = decoder.initial_cache(
            keras.ops.shape(prompt)[0],
            keras.ops.shape(prompt)[1],
            keras.ops.shape(encoded)[1],
        )
        # The encoder's keys and values, computed once; position 0 cached.
        _, self_cache, cross_cache = decoder.call_with_cache(
            prompt[:, :1],
            encoded,
            padding_mask,
            self_cache,
            cross_cache,
            0,
            fill_cross_attention_cache=True,
        )

        def step(prompt, cache, index):
            self_cache, cross_cache, encoded, padding_mask = cache
            rows = keras.ops.shape(prompt)[0]
            token = keras.ops.slice(prompt, [0, index - 1], [rows, 1])
            hidden, self_cache, _ = decoder.call_with_cache(
                token, encoded, padding_mask, self_cache, cross_cache, index - 1
            )
            logits = decoder.logits(hidden)[:, 0, :]
            return (
                logits,
                hidden[:, 0, :],
                (self_cache, cross_cache, encoded, padding_mask),
            )

        return step, (self_cache, cross_cache, encoded, padding_mask)

    def _full_step(self, encoded, padding_mask):
        """`next` without a cache: the whole prefix through the decoder each step."""
        decoder = self.decoder

        def step(prompt, cache, index):
            encoded, padding_mask = cache
            hidden = decoder(
                {
                    "token_ids": prompt,
                    "encoder_sequence_output": encoded,
                    "encoder_padding_mask": padding_mask,
                },
                training=False,
            )
            hidden = keras.ops.take(hidden, index - 1, axis=1)
            return decoder.logits(hidden), hidden, cache

        return step, (encoded, padding_mask)

    def _detokenize(self, ids):
        """Token ids after the start token, up to the end token, as tidy text."""
        tokenizer = self.output_tokenizer()
        end = tokenizer.end_token_id
        dropped = {
            tokenizer.start_token_id,
            tokenizer.pad_token_id,
            getattr(tokenizer, "mask_token_id", None),
        }
        rows = []
        for row in np.asarray(ids)[:, 1:].tolist():
            if end in row:
                row = row[: row.index(end)]
            rows.append([token for token in row if token not in dropped])
        lengths = [len(row) for row in rows]
        values = np.array([t for row in rows for t in row], dtype="int32")
        ragged = tf.RaggedTensor.from_row_lengths(values, lengths)
        texts = tokenizer.detokenize(ragged)
        texts = np.reshape(np.asarray(getattr(texts, "numpy", lambda: texts)()), -1)
        return [tidy_text(text(value)) for value in texts]


class GenerationFunctions:
    """Compiled generation functions, kept out of Keras's tracking and saving."""

    def __init__(self):
        self.functions = {}


def tidy_text(value):
    """Detokenized WordPiece text with the spaces before punctuation removed.

    ```python
    tidy_text("ein mann , der ( lacht ) .")  # "ein mann, der (lacht)."
    ```
    """
    value = re.sub(r"\s+([.,!?;:%)\]}])", r"\1", value)
    value = re.sub(r"([(\[{])\s+", r"\1", value)
    value = re.sub(r"(\w) ([-'’/]) (\w)", r"\1\2\3", value)
    value = re.sub(
        r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", value
    )
    return value.strip()

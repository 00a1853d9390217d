"""Generation for `LanguageModel`: prompts in, continuations out.

The mixin holds `generate` and what it needs: the prompts tokenized as the
model was trained (with the start token where the preprocessor adds one),
checks of `max_new_tokens` against the context before any work, keras-hub's
samplers by name (`"greedy"`, `"beam-4"`, `"top_k-10"`, `"top_p-0.9"`) or
object, and one traced generate function for every prompt shape.

```python
# model: a tl.LanguageModel (language_model.py builds a tiny one)
model.generate(["the cat"], max_new_tokens=4, sampler="top_k-5", seed=1)
```
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.decoding.samplers import resolve_sampler
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.inputs import check_texts

DEFAULT_NEW_TOKENS = 32  # generate's max_new_tokens when none is given
# `sampler` strings: "greedy", "random", "beam", "beam-N", "top_k", "top_k-K",
# "top_p", "top_p-P" (N beams, the K most likely tokens, nucleus mass P).
SAMPLERS = ("greedy", "random", "beam-N", "top_k-K", "top_p-P")


class CausalGeneration:
    """`generate` and its helpers; mixed into `LanguageModel`."""

    def generate(
        self,
        prompts,
        max_new_tokens=None,
        sampler="greedy",
        *,
        batch_size=None,
        **sampler_options,
    ):
        """Continue each prompt; strings in, strings out (the continuations).

        Args:
            prompts: a string or a list of strings (not empty).
            max_new_tokens: the most tokens to add to each prompt; generation
                also stops at the tokenizer's end token. The prompt and
                continuation together must fit the model's `context_length`:
                otherwise a `PolicyError` before any work.
            sampler: `"greedy"`, `"random"`, `"beam-N"`, `"top_k-K"`,
                `"top_p-P"` (e.g. `"beam-4"`, `"top_p-0.9"`), or a
                `keras_hub.samplers.Sampler`.
            batch_size: prompts generated together (`None`: all at once).
            **sampler_options: as `tl.decoding.make_sampler`'s (`num_beams`,
                `k`, `p`, `temperature`, `repetition_penalty`,
                `no_repeat_ngram_size`, `seed`), with a sampler name; the
                same signature as `EncoderDecoderLM.generate`.

        Returns the generated text without the prompt (a string for a
        string, a list for a list). Prompts are tokenized as the model was
        trained: with the start token when the preprocessor adds one. For
        example `model.generate("The capital of France is", max_new_tokens=8)`.
        """
        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        if not prompts:
            raise DataError("generate: no prompts were given.")
        check_texts(prompts)
        if max_new_tokens is None:
            max_new_tokens = DEFAULT_NEW_TOKENS
        if sampler_options:
            if not isinstance(sampler, str):
                raise PolicyError(
                    "generate: sampler options go with a sampler name, not a "
                    f"Sampler object; got {sorted(sampler_options)}."
                )
            sampler, _ = resolve_sampler(sampler, sampler_options)
        if batch_size is not None and len(prompts) > batch_size:
            texts = []
            for start in range(0, len(prompts), batch_size):
                texts += self.generate(
                    prompts[start : start + batch_size], max_new_tokens, sampler
                )
            return texts
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, (int, np.integer))
            or max_new_tokens < 1
        ):
            raise PolicyError(
                f"generate: max_new_tokens must be a positive integer, got "
                f"{max_new_tokens!r}."
            )
        key, sampler = sampler_of(sampler)
        if self.preprocessor is None:
            raise PolicyError(
                "generate needs the model's preprocessor (its tokenizer)."
            )
        limit = self.context_length
        if max_new_tokens >= limit:
            raise PolicyError(
                f"generate: max_new_tokens={max_new_tokens} is above the model's "
                f"limit of {limit} tokens (prompt and continuation together); "
                f"ask for at most {limit - 1}."
            )
        ids = self._prompt_ids(prompts)
        longest = max(range(len(ids)), key=lambda i: len(ids[i]))
        total = len(ids[longest]) + int(max_new_tokens)
        if total > limit:
            raise PolicyError(
                f"generate: prompt {longest} has {len(ids[longest])} tokens; with "
                f"max_new_tokens={max_new_tokens} that is {total}, above the "
                f"model's limit of {limit} tokens. Shorten it or ask for fewer."
            )
        self._prepare_generation(key, sampler)
        continuations = self._continue_ids(ids, int(max_new_tokens))
        texts = self._detokenize(continuations)
        return texts[0] if single else texts

    def _continue_ids(self, ids, max_new_tokens):
        """The new token ids after each prompt of `ids` (lists of ids), at most
        `max_new_tokens`, cut before the first stop token, with the sampler of
        the last `_prepare_generation`."""
        total = max(len(row) for row in ids) + max_new_tokens
        pad = getattr(self.preprocessor.tokenizer, "pad_token_id", None) or 0
        token_ids = np.full((len(ids), total), pad, dtype="int32")
        mask = np.zeros((len(ids), total), dtype=bool)
        for row, sequence in enumerate(ids):
            token_ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = True
        stops = self._stop_ids()
        outputs = self.causal_lm.make_generate_function()(
            {"token_ids": tf.constant(token_ids), "padding_mask": tf.constant(mask)},
            stop_token_ids=stops,
        )
        out_ids = keras.ops.convert_to_numpy(outputs["token_ids"])
        out_mask = keras.ops.convert_to_numpy(outputs["padding_mask"])
        continuations = []
        for row, sequence in enumerate(ids):
            new = out_ids[row, len(sequence) :][out_mask[row, len(sequence) :]]
            new = new[:max_new_tokens].tolist()
            cut = [i for i, token in enumerate(new) if token in stops]
            continuations.append(new[: cut[0]] if cut else new)
        return continuations

    def _prompt_ids(self, prompts):
        preprocessor = self.preprocessor
        rows = self._token_ids(prompts).to_list()
        start = getattr(preprocessor.tokenizer, "start_token_id", None)
        if preprocessor.add_start_token and start is not None:
            rows = [[start] + row for row in rows]
        empty = [i for i, row in enumerate(rows) if not row]
        if empty:
            raise DataError(
                f"generate: prompt {empty[0]} has no tokens and the tokenizer adds "
                "no start token; give it some text."
            )
        return rows

    def _stop_ids(self):
        tokenizer = self.preprocessor.tokenizer
        ids = [tokenizer.end_token_id, getattr(tokenizer, "end_token2_id", None)]
        return tuple(sorted({int(i) for i in ids if i is not None}))

    def _detokenize(self, rows):
        tokenizer = self.preprocessor.tokenizer
        texts = []
        for row in rows:
            if not row:
                texts.append("")
                continue
            text = tokenizer.detokenize(tf.constant([row], tf.int32))
            value = keras.ops.convert_to_numpy(text).reshape(-1)[0]
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            texts.append(str(value))
        return texts

    def _prepare_generation(self, key, sampler):
        """Give the wrapped CausalLM the sampler and compile settings (once)."""
        wanted = f"{key}|jit={self.jit_compile}|eager={self.run_eagerly}"
        if self._generation_key != wanted:
            causal_lm = self.causal_lm
            causal_lm.compile(
                sampler=sampler,
                jit_compile=self.jit_compile,
                run_eagerly=self.run_eagerly,
            )
            if not self.run_eagerly and not self.jit_compile:
                # keras-hub traces one graph per prompt shape; a graph with
                # unknown batch and length dimensions serves them all (XLA
                # needs static shapes: it compiles once per shape).
                causal_lm.generate_function = tf.function(
                    causal_lm.generate_step, reduce_retracing=True
                )
            self._generation_key = wanted


def sampler_of(sampler):
    """`(key, keras_hub.samplers.Sampler)` for a sampler string or object."""
    samplers = keras_hub.samplers
    if isinstance(sampler, samplers.Sampler):
        check_sampler(
            repr(sampler),
            getattr(sampler, "num_beams", 1),
            getattr(sampler, "k", 1),
            getattr(sampler, "p", 1.0),
        )
        return f"object-{id(sampler)}", sampler
    unknown = PolicyError(
        f"Unknown sampler {sampler!r}: expected one of {', '.join(SAMPLERS)} "
        "(e.g. 'beam-4', 'top_k-10', 'top_p-0.9') or a keras_hub.samplers.Sampler."
    )
    if not isinstance(sampler, str):
        raise unknown
    name, _, argument = sampler.strip().lower().partition("-")
    try:
        number = float(argument) if argument else None
    except ValueError:
        raise unknown from None
    shown = f"'{sampler}'"
    if name == "greedy" and number is None:
        return sampler, samplers.GreedySampler()
    if name == "random" and number is None:
        return sampler, samplers.RandomSampler()
    if name == "beam":
        beams = 5 if number is None else number
        check_sampler(shown, beams, 1, 1.0)
        return sampler, samplers.BeamSampler(num_beams=int(beams))
    if name == "top_k":
        k = 5 if number is None else number
        check_sampler(shown, 1, k, 1.0)
        return sampler, samplers.TopKSampler(k=int(k))
    if name == "top_p":
        p = 0.9 if number is None else number
        check_sampler(shown, 1, 1, p)
        return sampler, samplers.TopPSampler(p=p)
    raise unknown


def check_sampler(shown, beams, k, p):
    if beams < 1 or beams != int(beams):
        raise PolicyError(
            f"sampler {shown}: a beam search needs a whole number of beams, at "
            f"least 1; got {beams:g}."
        )
    if k < 1 or k != int(k):
        raise PolicyError(
            f"sampler {shown}: top-k needs a whole number k >= 1, got {k:g}."
        )
    if not 0.0 < p <= 1.0:
        raise PolicyError(f"sampler {shown}: top-p needs 0 < p <= 1, got {p:g}.")

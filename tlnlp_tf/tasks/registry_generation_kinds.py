"""How the generation kinds read pairs and documents, build and predict.

The hooks of "summarization", "translation" (encoder-decoders,
`EncoderDecoderLM`) and "language-modeling" (`LanguageModel`) in the task
registry (`tlnlp_tf.tasks.registry`). Generation kinds do not join a
`MultiTaskModel`.

Example:

```python
pairs = read_text_pairs("pairs.jsonl", {})  # "source" and "target" columns
target_texts(pairs, None)[0]  # what a new target vocabulary learns from
```
"""

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.registry_encoder_kinds import TEXT_COLUMNS
from tlnlp_tf.tasks.registry_encoder_kinds import load_text_examples
from tlnlp_tf.tasks.registry_encoder_kinds import read_input_texts

PAIR_COLUMNS = {
    "source_column": {
        "help": "summarization, translation: the source text column of a "
        ".csv/.tsv/.jsonl file (default: source)"
    },
    "target_column": {
        "help": "summarization, translation: the target text column (default: target)"
    },
}
DOCUMENT_COLUMNS = {
    "text_column": TEXT_COLUMNS["text_column"],
    "prompt_column": {
        "help": "language-modeling: instruction tuning on a .csv/.tsv/.jsonl "
        "file of prompts and responses, the loss on the responses only: the "
        "prompt column (with --response-column)"
    },
    "response_column": {
        "help": "language-modeling: the response column (with --prompt-column)"
    },
}


def read_text_pairs(path, columns):
    """`TextPairs` of a .csv/.tsv/.jsonl file (`read_pairs`)."""
    from tlnlp_tf.data.pairs import read_pairs

    return read_pairs(
        path,
        source=columns.get("source_column") or "source",
        target=columns.get("target_column") or "target",
    )


def read_documents(path, columns, limit=None, seed=0, on_bad_line="error"):
    """`Examples` of a language-modeling file: one document per line of a text
    file, or the `text_column` of .csv/.tsv/.jsonl files (streamed when large);
    `TextPairs` of prompts and responses with `prompt_column` and
    `response_column` (instruction tuning: the loss on the responses)."""
    prompt, response = columns.get("prompt_column"), columns.get("response_column")
    if prompt is not None or response is not None:
        return read_instructions(path, columns).sample(limit, seed=seed)
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv", ".jsonl")):
        return load_text_examples(
            path,
            columns.get("text_column"),
            limit=limit,
            seed=seed,
            on_bad_line=on_bad_line,
        )
    if on_bad_line != "error":
        raise PolicyError(
            f"{path}: --on-bad-line skip is for .csv/.tsv/.jsonl files; a text "
            "file's lines are all documents."
        )
    return read_input_texts(path, columns).sample(limit, seed=seed)


def read_instructions(path, columns):
    """`TextPairs` of a prompt column and a response column (both needed)."""
    from tlnlp_tf.data.pairs import read_pairs

    prompt, response = columns.get("prompt_column"), columns.get("response_column")
    if prompt is None or response is None:
        raise PolicyError(
            "instruction tuning takes both --prompt-column and --response-column "
            f"(got {'--prompt-column' if response is None else '--response-column'} "
            "alone)."
        )
    if columns.get("text_column") is not None:
        raise PolicyError(
            "--text-column trains on whole texts; --prompt-column and "
            "--response-column on responses: give one or the other."
        )
    return read_pairs(path, source=prompt, target=response)


def read_prompts(path, columns):
    """Inputs to continue: the `prompt_column` of a model tuned on
    instructions, else the `text_column` (or one text per line)."""
    prompt = columns.get("prompt_column")
    if prompt is not None and columns.get("text_column") is None:
        columns = {**columns, "text_column": prompt}
    return read_input_texts(path, columns)


def read_input_sources(path, columns):
    """Sources to generate from: a `source_column` (or `text_column`), else lines."""
    column = columns.get("source_column") or columns.get("text_column")
    return read_input_texts(path, {"text_column": column or "source"})


def target_texts(train, validation):
    """The training targets (a tuple: a new target vocabulary learns from them)."""
    return tuple(train.targets)


def generated_records(model, inputs, batch_size):
    """`{"input", "generated"}` per input (greedy; `tlnlp generate` for more)."""
    texts = list(inputs.texts)
    generated = model.generate(texts, batch_size=batch_size)
    return [{"input": t, "generated": g} for t, g in zip(texts, generated)]


def build_encoder_decoder(metric):
    """`TaskSpec.builder` of the encoder-decoder kinds (`EncoderDecoderLM`)."""

    def build(spec, targets, **options):
        from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM

        weights = options.pop("weights", "pretrained")
        variant = options.pop("variant", None) or (
            "rnd2rnd" if weights == "random" else "bert2bert"
        )
        if weights == "random" and variant != "rnd2rnd":
            raise PolicyError(
                f"--weights random is the rnd2rnd variant; got --variant {variant}."
            )
        size = options.pop("target_vocabulary", None)
        vocabulary = None
        if size is not None:
            vocabulary = EncoderDecoderLM.learn_vocabulary(list(targets), size)
        options.pop("attention_dropout", None)  # the backbone's own
        return EncoderDecoderLM.from_backbone(
            spec,
            variant=variant,
            target_vocabulary=vocabulary,
            source_length=options.pop("max_length", None),
            metric=metric,
            **options,
        )

    return build


def build_language_model(spec, targets, **options):
    """`TaskSpec.builder` of language modeling (`LanguageModel`)."""
    from tlnlp_tf.tasks.language_model import LanguageModel

    options.pop("attention_dropout", None)
    return LanguageModel.from_backbone(spec, **options)


def no_preprocessor(text_preprocessor, limit, options):
    """`make_preprocessor` of the generation kinds: they join no `MultiTaskModel`."""
    raise PolicyError("generation tasks do not join a MultiTaskModel.")


def no_target_spec(rows, length):
    """`target_spec` of the generation kinds: they join no `MultiTaskModel`."""
    raise PolicyError("generation tasks do not join a MultiTaskModel.")

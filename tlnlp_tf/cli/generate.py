"""`tlnlp generate`: generate text with a trained generation model (JSONL out).

    tlnlp generate --model summarizer/ --input emails.jsonl --source-column source
    tlnlp generate --model lm/ --input prompts.txt --sampler top_p --top-p 0.9

The model is a folder written by `tlnlp fit --task summarization`,
`translation` or `language-modeling`. Each input (a line of a text file, or
a column of a .csv/.tsv/.jsonl file) gives one record
`{"input": ..., "generated": ...}`. The sampler is built by
`tl.decoding.make_sampler` and passed to the model's `generate`.
"""

import json
import sys

from tlnlp_tf.cli import arguments
from tlnlp_tf.errors import PolicyError

SAMPLERS = ("greedy", "beam", "top_k", "top_p", "random")


def register(commands):
    generate = commands.add_parser(
        "generate", help="generate text with a trained generation model (JSONL out)"
    )
    generate.add_argument(
        "--model", required=True, help="a folder written by `tlnlp fit`"
    )
    generate.add_argument(
        "--input",
        required=True,
        help="'-' or a text file (one input per line), or .csv/.tsv/.jsonl "
        "with --source-column",
    )
    generate.add_argument(
        "--source-column",
        help="summarization, translation: column of --input (default: the "
        "model's, else source)",
    )
    generate.add_argument(
        "--text-column",
        help="language-modeling: column of --input (default: the model's)",
    )
    generate.add_argument(
        "--output", help="write JSONL here instead of standard output"
    )
    generate.add_argument(
        "--max-new-tokens",
        type=arguments.positive,
        help="most tokens generated per input (default: the model's target "
        "length; 32 for a language model)",
    )
    generate.add_argument("--sampler", choices=SAMPLERS, default="greedy")
    generate.add_argument(
        "--num-beams", type=arguments.positive, default=4, help="beam: beams kept"
    )
    generate.add_argument("--top-k", type=arguments.positive, default=10)
    generate.add_argument("--top-p", type=float, default=0.9)
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument(
        "--repetition-penalty",
        type=float,
        default=1.0,
        help="CTRL-style penalty on tokens already generated (1.0: off)",
    )
    generate.add_argument(
        "--no-repeat-ngram-size",
        type=int,
        default=0,
        help="never repeat an n-gram of this size (0: off)",
    )
    generate.add_argument("--seed", type=int, help="seed of the random samplers")
    generate.add_argument("--batch-size", type=arguments.positive, default=32)
    generate.set_defaults(handler=run)


def run(args):
    from tlnlp_tf.decoding import make_sampler
    from tlnlp_tf.tasks import registry

    sampler = make_sampler(  # the options are checked before the model loads
        args.sampler,
        num_beams=args.num_beams,
        k=args.top_k,
        p=args.top_p,
        temperature=args.temperature,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size,
        seed=args.seed,
    )
    run_options = arguments.read_run(args.model)
    kind = run_options.get("task")
    if kind is not None and not registry.get_task(kind).generative:
        raise PolicyError(
            f"--model {args.model} was trained for {kind}, not generation; "
            "use `tlnlp predict`."
        )
    columns = arguments.columns(args, run_options)
    read = registry.get_task(kind).read_inputs if kind else registry.read_input_sources
    texts = list(read(args.input, columns).texts)
    model = arguments.load_model(args.model)
    if not hasattr(model, "generate"):
        raise PolicyError(
            f"--model {args.model} holds a {type(model).__name__}, which does "
            "not generate text; use `tlnlp predict`."
        )
    generated = model.generate(
        texts,
        max_new_tokens=args.max_new_tokens,
        sampler=sampler,
        batch_size=args.batch_size,
    )
    body = "".join(
        json.dumps({"input": text, "generated": output}, ensure_ascii=False) + "\n"
        for text, output in zip(texts, generated)
    )
    if args.output:
        from tlnlp_tf import outputs

        outputs.write_text(args.output, body)
    else:
        sys.stdout.write(body)
    return 0

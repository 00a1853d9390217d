"""`tlnlp`: fit, evaluate and predict from the command line; the offline demo.

    tlnlp fit --train train.tsv --validation dev.tsv --text-column sentence \\
        --label-column label --backbone minilm --output run/
    tlnlp fit --task token-classification --train train.txt --validation valid.txt \\
        --backbone minilm --output ner/
    tlnlp fit --task question-answering --train train.json --validation dev.json \\
        --backbone minilm --output qa/
    tlnlp evaluate --model run/ --data dev.tsv
    tlnlp predict --model run/ --input texts.txt
    tlnlp fit --task summarization --train train.jsonl --validation dev.jsonl \\
        --backbone minilm --output summarizer/
    tlnlp generate --model summarizer/ --input emails.txt --sampler beam
    tlnlp export --model run/ --format saved_model --output serving/1
    tlnlp demo --output demo-output/
    tlnlp pretrain --text reviews.txt --backbone minilm --output minilm-reviews/
    tlnlp pretrain --text zh.txt --new-vocabulary 8000 --epochs 10 --output zh-bert/

Every command writes JSON; bad input exits with status 2 and one line saying
what was wrong, before any training starts. Each command is one module of
`tlnlp_tf.cli` with `register(commands)` (its options) and `run(args)` (the
calls to the API); this one assembles them and turns errors into that line.
Set `TLNLP_DEBUG=1` for the traceback instead. The library's warnings are
one line too: `tlnlp fit: warning: …`.
"""

import argparse
import os
import sys
import warnings

from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

# A ValueError out of the API is a value the user gave it.
USER_ERRORS = (DataError, BackboneError, PolicyError, ValueError)
COMMANDS = (
    "fit",
    "evaluate",
    "predict",
    "generate",
    "demo",
    "score_sources",
    "transfer_report",
    "pretrain",
    "export",
)


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line: `tlnlp fit: error: …`, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return args.handler(args)
    except USER_ERRORS as error:
        if os.environ.get("TLNLP_DEBUG"):
            raise
        print(f"tlnlp {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2


def build_parser():
    """The `tlnlp` parser: each command module registers its own subcommand."""
    import importlib

    parser = Parser(prog="tlnlp", description="Transfer learning for NLP on Keras 3.")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own start-up log (hidden by default; see tlnlp.py)",
    )
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"tlnlp_tf.cli.{name}").register(commands)
    return parser


def _one_line_warning(command):
    """A `warnings.showwarning` that prints the library's own warnings as one
    line, `tlnlp CMD: warning: …`; other packages' warnings show as usual."""
    shown = warnings.showwarning
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def show(message, category, filename, lineno, file=None, line=None):
        if not os.path.abspath(filename).startswith(package + os.sep):
            return shown(message, category, filename, lineno, file, line)
        print(f"tlnlp {command}: warning: {one_line(message)}", file=sys.stderr)

    return show


def one_line(error):
    """The message of `error` on one line."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())

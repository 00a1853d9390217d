"""`--label-words`: sentences that name the labels (`tlnlp fit`, `transfer-report`).

The options parse into `tl.data.templated_examples` (the API this wraps),
checked against the task and the training labels before any training.

```python
import argparse
parser = argparse.ArgumentParser()
add_options(parser)
args = parser.parse_args(["--label-words", "0=negative,1=positive"])
args.label_words  # {"0": "negative", "1": "positive"}
```
"""

import argparse
import sys

from tlnlp_tf.cli.arguments import positive
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

OPTIONS = ("label_words", "label_template", "label_copies")  # as run.json keeps them


def parse(text):
    """An argparse type: `LABEL=WORDS,LABEL=WORDS` to a dict."""
    words = {}
    for item in text.split(","):
        label, equals, named = item.partition("=")
        if not equals or not label.strip() or not named.strip():
            raise argparse.ArgumentTypeError(
                f"expected LABEL=WORDS items separated by commas (such as "
                f"0=negative,1=positive), got {item!r} in {text!r}"
            )
        if label.strip() in words:
            raise argparse.ArgumentTypeError(f"label {label.strip()!r} is given twice")
        words[label.strip()] = named.strip()
    return words


def add_options(parser):
    """`--label-words`, `--label-template`, `--label-copies`."""
    from tlnlp_tf.data.label_templates import PER_LABEL
    from tlnlp_tf.data.label_templates import TEMPLATE

    parser.add_argument(
        "--label-words",
        type=parse,
        metavar="LABEL=WORDS,...",
        help="text classification of single texts: also train on sentences "
        "that name each label (such as 0=negative,1=positive: 'This sentence "
        "is negative' for label 0; setfit's templated examples, "
        "tl.data.templated_examples); they help most with a few labels per "
        "class and --freeze setfit",
    )
    parser.add_argument(
        "--label-template",
        default=TEMPLATE,
        help=f"--label-words: the sentence, {{}} where the words go (default "
        f"'{TEMPLATE}')",
    )
    parser.add_argument(
        "--label-copies",
        type=positive,
        default=PER_LABEL,
        help=f"--label-words: copies of each label's sentence (default {PER_LABEL})",
    )


def check(args, single_texts):
    """Refuse `--label-words` unless the data are single texts to classify
    (before the data are read)."""
    if args.label_words is not None and not single_texts:
        raise PolicyError(
            "--label-words is for --task text-classification of single texts "
            "(a sentence that names a label has no second text)."
        )


def templated(args, names):
    """`--label-words`' templated examples (`None` without it), their labels
    checked against `names`, the labels of `--train`."""
    if args.label_words is None:
        return None
    from tlnlp_tf.data.label_templates import templated_examples

    examples = templated_examples(
        args.label_words, args.label_template, args.label_copies
    )
    unknown = [label for label in args.label_words if label not in names]
    if unknown:
        raise DataError(
            f"--label-words: label {unknown[0]!r} is not a label of {args.train} "
            f"(its labels: {', '.join(map(str, names))})."
        )
    return examples


def joined(data, examples, command):
    """`data` (unbatched `(text, label)`) followed by `examples`, said on stderr."""
    if examples is None:
        return data
    sentences = ", ".join(repr(t) for t in dict.fromkeys(examples.texts))
    print(
        f"{command}: {len(examples)} templated examples added ({sentences})",
        file=sys.stderr,
    )
    return data.concatenate(examples.to_dataset())

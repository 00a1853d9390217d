"""Collect the ```python examples of docstrings and docs pages; the world they run in.

An example is a fenced block whose info string starts with `python`, in the
docstring of a public module, class, function or method of `tlnlp_tf`, or in
a page of `docs/` or the README. Each runs as its own test in a fresh
namespace (`Namespace`), in a scratch folder holding tiny data files under the
names the examples use (`write_data_files`). Names an example takes from its
page or its class (`model`, `train`, `texts`, ...) are built on first use by
the factories of `Context`, on tiny backbones.

A block that cannot run here says so in its source, with the reason: the info
string ```` ```python no-run: needs a TPU ```` or a first line
`# not run: needs a TPU`.
"""

import ast
import dataclasses
import gzip
import json
import pathlib
import re
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tlnlp_tf"
PAGES = ("README.md", "CONTRIBUTING.md", "docs/*.md")

_FENCE = re.compile(r"^([ \t]*)```python([^\n]*)\n(.*?)^\1```[ \t]*$", re.M | re.S)
_NOT_RUN = re.compile(r"^\s*no-run\s*:?\s*(.*)$")
_NOT_RUN_COMMENT = re.compile(r"^#\s*not run\s*:\s*(.+)$", re.I)


@dataclasses.dataclass
class Block:
    """One ```python example: where it is, its code, and why it is not run."""

    id: str
    path: str  # relative to the repository root
    line: int
    code: str
    module: str = None  # the module a docstring example belongs to
    not_run: str = None  # the reason given in the source, if marked


def _blocks_in(text, path, first_line, module=None, owner=None):
    found = []
    for match in _FENCE.finditer(text):
        line = first_line + text.count("\n", 0, match.start())
        code = textwrap.dedent(match.group(3))
        info = match.group(2).strip()
        not_run = None
        marked = _NOT_RUN.match(info)
        if marked:
            not_run = marked.group(1).strip() or "(no reason given)"
        first = code.strip().splitlines()[0] if code.strip() else ""
        comment = _NOT_RUN_COMMENT.match(first.strip())
        if comment:
            not_run = comment.group(1).strip()
        where = f"{path}::{owner}" if owner else f"{path}:{line}"
        found.append(Block(where, path, line, code, module, not_run))
    return found


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_public_file(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return all(not p.startswith("_") or p == "__init__" for p in parts)


def _documented(tree):
    """`(qualified name, node)` of the module and its public classes/functions."""
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    yield None, tree
    stack = [(node, node.name) for node in tree.body if isinstance(node, kinds)]
    while stack:
        node, name = stack.pop(0)
        if node.name.startswith("_") and node.name != "__init__":
            continue
        yield name, node
        if isinstance(node, ast.ClassDef):
            stack += [
                (child, f"{name}.{child.name}")
                for child in node.body
                if isinstance(child, kinds)
            ]


def docstring_blocks():
    """Every ```python block in the docstrings of the package's public objects."""
    blocks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if not _is_public_file(path):
            continue
        relative = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, node in _documented(tree):
            body = node.body
            if not (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                continue
            found = _blocks_in(
                body[0].value.value,
                relative,
                body[0].lineno,
                module=_module_name(path),
                owner=name or "<module>",
            )
            blocks += found
    return _unique_ids(blocks)


def page_blocks():
    """Every ```python block in README.md, CONTRIBUTING.md and docs/*.md."""
    blocks = []
    for pattern in PAGES:
        for path in sorted(ROOT.glob(pattern)):
            relative = str(path.relative_to(ROOT))
            blocks += _blocks_in(path.read_text(encoding="utf-8"), relative, 1)
    return _unique_ids(blocks)


def _unique_ids(blocks):
    seen = {}
    for block in blocks:
        seen[block.id] = seen.get(block.id, 0) + 1
        if seen[block.id] > 1:
            block.id = f"{block.id}#{seen[block.id]}"
    return blocks


def public_objects(tl):
    """`{"tl.data.read_csv": object, ...}`: the classes and functions of `tl`.

    Public means reachable as `tl.NAME` or `tl.NAMESPACE.NAME`, where a
    namespace is a module that `tlnlp_tf/__init__.py` (or a namespace's own
    `__init__.py`, as `tl.pretraining.word_vectors`) imports by name; without
    a leading underscore, and defined in `tlnlp_tf`.
    """
    import inspect
    import types

    found = {}

    def visit(prefix, namespace):
        for name in sorted(dir(namespace)):
            value = getattr(namespace, name)
            if name.startswith("_"):
                continue
            if isinstance(value, types.ModuleType):
                if name in _imported_modules(namespace):
                    visit(f"{prefix}.{name}", value)
                continue
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            home = getattr(value, "__module__", "") or ""
            if hasattr(namespace, "__path__"):
                defined_here = home.startswith("tlnlp_tf")
            else:  # a module namespace shows what it defines
                defined_here = home == namespace.__name__
            if defined_here:
                found.setdefault(f"{prefix}.{name}", value)

    visit("tl", tl)
    return found


def _imported_modules(package):
    """Names of the submodules a package's `__init__.py` imports by name."""
    path = getattr(package, "__file__", "") or ""
    if not path.endswith("__init__.py"):
        return set()
    tree = ast.parse(pathlib.Path(path).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == package.__name__:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


# --------------------------------------------------------------------------
# The data files examples name.

WORDS_POS = ["good", "great", "fun", "loved", "lovely", "wonderful"]
WORDS_NEG = ["bad", "awful", "boring", "hated", "dull", "terrible"]
SUBJECTS = ["the film", "the movie", "this book", "the plot", "the cast", "the food"]


def toy_texts(count, offset=0):
    """`count` toy reviews and labels ("pos"/"neg", alternating)."""
    texts, labels = [], []
    for i in range(offset, offset + count):
        words = WORDS_POS if i % 2 == 0 else WORDS_NEG
        texts.append(f"{SUBJECTS[i % 6]} was very {words[(i // 2) % 6]} .")
        labels.append("pos" if i % 2 == 0 else "neg")
    return texts, labels


def _table(count, offset):
    texts, labels = toy_texts(count, offset)
    pairs, _ = toy_texts(count, offset + 1)
    rows = ["sentence\tlabel\tsentence1\tsentence2\tscore"]
    for i, (text, label, pair) in enumerate(zip(texts, labels, pairs)):
        rows.append(f"{text}\t{int(label == 'pos')}\t{text}\t{pair}\t{i % 6}.0")
    return "\n".join(rows) + "\n"


def _mrpc(count):
    texts, labels = toy_texts(count)
    pairs, _ = toy_texts(count, 2)
    rows = ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    for i, (text, label, pair) in enumerate(zip(texts, labels, pairs)):
        rows.append(f"{int(label == 'pos')}\t{i}\t{i + 100}\t{text}\t{pair}")
    return "\n".join(rows) + "\n"


def _conll(count):
    sentences = [
        [
            ("Angela", "B-PER"),
            ("Merkel", "I-PER"),
            ("visited", "O"),
            ("Paris", "B-LOC"),
        ],
        [("the", "O"), ("film", "O"), ("was", "O"), ("good", "O"), (".", "O")],
        [("Paris", "B-LOC"), ("loved", "O"), ("Merkel", "B-PER"), (".", "O")],
    ]
    lines = ["-DOCSTART- -X- -X- O", ""]
    for i in range(count):
        for word, tag in sentences[i % len(sentences)]:
            lines.append(f"{word} NNP B-NP {tag}")
        lines.append("")
    return "\n".join(lines)


def _squad(articles):
    data = []
    for i in range(articles):
        context = f"Merkel spoke in Paris . the film was very good {i} ."
        data.append(
            {
                "title": f"article {i}",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": f"q{i}",
                                "question": "Who spoke ?",
                                "answers": [{"text": "Merkel", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            }
        )
    return json.dumps({"version": "1.1", "data": data})


def _vectors(words, size):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [
        w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=size)) for w in words
    ]
    return "\n".join(rows) + "\n"


_TASKS_YAML = """\
sampling: temperature
temperature: 2.0
tasks:
  sst2:
    type: text-classification
    train: sst2/train.tsv
    validation: sst2/dev.tsv
    text_column: sentence
    label_column: label
  stsb:
    type: regression
    train: stsb/train.tsv
    text_column: sentence1
    text_pair_column: sentence2
    label_column: score
    weight: 0.5
  ner:
    type: token-classification
    train: conll2003/train.txt
"""


def data_files():
    """`{relative path: content}` of every data file an example reads."""
    texts, labels = toy_texts(16)
    held_out, _ = toy_texts(8, offset=16)
    table, dev_table = _table(16, 0), _table(8, 16)
    reviews = "".join(
        json.dumps({"text": t, "body": t, "stars": str(1 + 4 * (l == "pos"))}) + "\n"
        for t, l in zip(texts, labels)
    )
    words = sorted({w for t in texts + held_out for w in t.split()})
    files = {
        "labelled_reviews.tsv": "sentence\tlabel\n"
        + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels)),
        "train.tsv": table,
        "dev.tsv": dev_table,
        "sst2/train.tsv": table,
        "sst2/dev.tsv": dev_table,
        "stsb/train.tsv": table,
        "stsb/dev.tsv": dev_table,
        "mrpc/train.tsv": _mrpc(8),
        "mrpc/msr_paraphrase_train.txt": _mrpc(8),
        "reviews.txt": "\n".join(texts) + "\n",
        "held_out_reviews.txt": "\n".join(held_out) + "\n",
        "reviews.jsonl": reviews,
        "zh.txt": "这部电影很好看。\n这本书很无聊。\n我喜欢这部电影。\n这个故事很好。\n"
        * 2,
        "train.txt": _conll(6),
        "valid.txt": _conll(3),
        "test.txt": _conll(3),
        "conll2003/train.txt": _conll(6),
        "conll2003/valid.txt": _conll(3),
        "conll2003/test.txt": _conll(3),
        "train-v1.1.json": _squad(4),
        "dev-v1.1.json": _squad(40),
        "dev.json": _squad(4),
        "squad_v1.1/dev-v1.1.json": _squad(40),
        "glove.6B.100d.txt": _vectors(words, 100),
        "tasks.yaml": _TASKS_YAML,
        "shards/train-0.tsv.gz": _table(8, 0),  # gzip-compressed when written
        "shards/train-1.tsv.gz": _table(8, 8),
        "ner/train-0.txt.gz": _conll(3),
        "ner/train-1.txt.gz": _conll(2),
        "srl.tsv": "Cats\t0\tB-ARG0\nsleep\t1\tB-V\n",
        "srl/train-0.tsv.gz": "Cats\t0\tB-ARG0\nsleep\t1\tB-V\n",
        "srl/train-1.tsv.gz": "Dogs\t0\tB-ARG0\nbark\t1\tB-V\n",
        "corpus/part-0.txt.gz": "\n".join(texts[:8]) + "\n",
        "corpus/part-1.txt.gz": "\n".join(texts[8:]) + "\n",
        "pairs.jsonl": "".join(
            json.dumps({"source": t, "target": " ".join(t.split()[:2])}) + "\n"
            for t in texts
        ),
    }
    return files


MPNET_FOLDER = "all-mpnet-base-v2"


def write_data_files(folder, code=""):
    """Write the data files into `folder`; the tiny MPNet checkpoint folder only
    for an example whose `code` names it (it holds a safetensors file)."""
    for name, content in data_files().items():
        path = pathlib.Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(content.encode("utf-8")))
        else:
            path.write_text(content, encoding="utf-8")
    if MPNET_FOLDER in code:
        from conftest import write_tiny_mpnet_folder

        write_tiny_mpnet_folder(pathlib.Path(folder) / MPNET_FOLDER)


# --------------------------------------------------------------------------
# The namespace an example runs in.


class Namespace(dict):
    """A dict of globals that builds a missing name from `factories` on first use."""

    def __init__(self, initial, factories):
        super().__init__(initial)
        self._factories = factories
        self.built = []

    def __missing__(self, name):
        factory = self._factories.get(name)
        if factory is None:
            raise KeyError(name)
        value = factory()
        self[name] = value
        self.built.append(name)
        return value


def run_block(block, factories):
    """Execute `block` in a fresh namespace; returns the names built for it."""
    import importlib

    initial = {"__name__": "__example__"}
    if block.module:
        # As doctest: a docstring example sees its module's globals.
        initial.update(vars(importlib.import_module(block.module)))
        initial["__name__"] = "__example__"
    namespace = Namespace(initial, factories)
    code = compile(block.code, f"{block.path}:{block.line}", "exec")
    exec(code, namespace)  # noqa: S102 (the documented examples)
    return namespace.built

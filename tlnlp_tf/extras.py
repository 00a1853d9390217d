"""Optional dependencies: import them when a feature needs them, or say what to install.

The core (`pip install tlnlp_tf`) trains and evaluates every task. Some
features need more, installed as extras:

| extra          | packages                     | for                                |
|----------------|------------------------------|------------------------------------|
| `word-vectors` | gensim                       | `tl.pretraining.word_vectors`      |
| `plots`        | matplotlib                   | the figure of `tlnlp demo`         |
| `generation`   | rouge-score, sacrebleu, gguf | ROUGE/BLEU/chrF; GGUF checkpoints  |
| `tensorboard`  | tensorboard                  | `tlnlp fit --tensorboard DIR`      |

TensorFlow 2.21 still installs TensorBoard itself; 2.22 makes it optional.

Example:

```python
gensim = require("gensim", "word-vectors")   # the module, or MissingExtra
```
"""

import importlib

EXTRAS = {
    "gensim": "word-vectors",
    "matplotlib": "plots",
    "rouge_score": "generation",
    "sacrebleu": "generation",
    "gguf": "generation",
    "tensorboard": "tensorboard",
}


class MissingExtra(ImportError, ValueError):
    """An optional dependency is not installed; the message names the `pip install`.

    Also a `ValueError`, so that the command line reports it on one line.
    """


def require(module, extra=None):
    """Import `module` (e.g. `"gensim.models"`), or raise `MissingExtra`."""
    top = module.partition(".")[0]
    extra = extra or EXTRAS.get(top, top)
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.partition(".")[0] != top:
            raise  # the package is there; something it needs is broken
        raise MissingExtra(
            f"{top} is not installed; it comes with the '{extra}' extra: "
            f'pip install "tlnlp_tf[{extra}]"'
        ) from None

"""Where `tlnlp fit` caches the tokens of its training data, and under what key.

Up to `DISK_TOKENS_EXAMPLES` training examples are tokenized once into
memory; more go to OUTPUT/tokens on disk (or `--token-cache DIR`), keyed by
the data files, the columns and the sample, so the next run on the same
data reuses them.

```python
from tlnlp_tf.cli.token_cache import DISK_TOKENS_EXAMPLES
DISK_TOKENS_EXAMPLES  # 350000
```
"""

import os
import sys

# More training examples than this are tokenized to disk (OUTPUT/tokens) by
# default: at 512 tokens, 3 int32 columns, about 2 GiB of token cache.
DISK_TOKENS_EXAMPLES = 350_000


def token_cache_folder(args, examples):
    """The token cache's folder (`--token-cache`, or OUTPUT/tokens above
    `DISK_TOKENS_EXAMPLES` training examples), or `None` for the in-memory cache.

    ```python
    import argparse
    token_cache_folder(argparse.Namespace(token_cache=None, output="out"), 1000)  # None
    ```
    """
    if args.token_cache is not None:
        return args.token_cache
    if examples <= DISK_TOKENS_EXAMPLES:
        return None
    folder = os.path.join(args.output, "tokens")
    print(
        f"tlnlp fit: {examples} training examples: tokens cached on disk in "
        f"{folder} (over {DISK_TOKENS_EXAMPLES:,}; --token-cache DIR to choose "
        "the folder)",
        file=sys.stderr,
    )
    return folder


def data_key(args, columns):
    """What names the training data for the token cache: its files (path, size,
    modification time), the columns, the sample.

    ```python
    import argparse
    open("train.csv", "w").write("text,label\\ngood,pos\\n")
    args = argparse.Namespace(train="train.csv", limit=None, seed=0)
    data_key(args, {"text": "text", "label": "label"})
    ```
    """
    from tlnlp_tf.data.streams import data_files

    files = [
        (os.path.abspath(f), os.path.getsize(f), os.path.getmtime(f))
        for f in data_files(args.train)
    ]
    return repr((files, sorted(columns.items()), args.limit, args.seed))

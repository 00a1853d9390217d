"""Preset folders written whole or not at all: a temporary folder, then a rename.

```python
backbone = keras_hub.models.BertBackbone(
    vocabulary_size=30, num_layers=1, num_heads=1, hidden_dim=8, intermediate_dim=16
)
check_output_folder("tiny-bert")   # refuses a non-empty folder that is no preset
write_folder("tiny-bert", backbone.save_to_preset)   # all or nothing
```
"""

import os
import shutil
import tempfile

from tlnlp_tf.backbones.loading import resolve_spec
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError


def check_output_folder(folder):
    """Refuse an output folder that exists, is not empty and is not a preset.

    Example:

    ```python
    check_output_folder("minilm-reviews")  # fine: new, empty, or a preset folder
    ```
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: exists and is not a folder; choose another output.")
    # A folder holding only `backup/` is a streamed `tlnlp pretrain` resuming.
    if (
        os.path.isdir(folder)
        and set(os.listdir(folder)) - {"backup"}
        and not os.path.isfile(os.path.join(folder, "config.json"))
    ):
        raise DataError(
            f"{folder}: exists, is not empty and is not a preset folder; choose a "
            "new output folder (a preset folder written before is replaced)."
        )


def copy_pooling(report, folder):
    """Keep a sentence-transformer's pooling config (`1_Pooling/`) with the preset."""
    if not report or "backbone" not in report:
        return
    try:
        source = resolve_spec(report["backbone"])
    except BackboneError:
        return
    pooling = os.path.join(source, "1_Pooling")
    if os.path.isfile(os.path.join(pooling, "config.json")):
        shutil.copytree(pooling, os.path.join(folder, "1_Pooling"))


def write_folder(folder, write):
    """Run `write(tmp)` on a temporary folder beside `folder`, then rename it there.

    An existing preset folder is replaced; any other non-empty folder is
    refused first (`check_output_folder`).
    """
    folder = os.path.abspath(os.fspath(folder))
    check_output_folder(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".", dir=parent)
    try:
        write(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        old = None
        if os.path.isdir(folder):
            old = tempfile.mkdtemp(
                prefix="." + os.path.basename(folder) + ".old.", dir=parent
            )
            os.replace(folder, os.path.join(old, "preset"))
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask

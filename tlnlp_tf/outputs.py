"""Write output files atomically: a temporary name in the same folder, then rename.

An interrupted run never leaves a half-written `model.keras` or JSON file.
"""

import json
import os
import tempfile


def write_json(path, value):
    """Write `value` as indented JSON to `path`, atomically.

    Example:

    ```python
    write_json("run/metrics.json", {"accuracy": 0.86})
    assert json.load(open("run/metrics.json")) == {"accuracy": 0.86}
    ```
    """
    _write(path, lambda tmp: _dump_json(tmp, value), suffix=".json")


def write_text(path, text):
    """Write a UTF-8 text file, atomically.

    Example:

    ```python
    write_text("run/report.txt", "accuracy 0.86")
    ```
    """

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as file:
            file.write(text)

    _write(path, write, suffix=os.path.splitext(path)[1])


def save_model(model, path):
    """`model.save(path)` through a temporary `.keras` file, atomically.

    Example:

    ```python
    save_model(model, "run/model.keras")
    model = keras.saving.load_model("run/model.keras")
    ```
    """
    _write(path, model.save, suffix=".keras")


def save_figure(figure, path):
    """`figure.savefig(path)` through a temporary file, atomically.

    Example:

    ```python
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([0.61, 0.79, 0.86])
    save_figure(figure, "run/accuracy.png")
    ```
    """
    _write(
        path,
        lambda tmp: figure.savefig(tmp, dpi=110, bbox_inches="tight"),
        suffix=os.path.splitext(path)[1],
    )


def _dump_json(path, value):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=2, ensure_ascii=False)
        file.write("\n")


def _write(path, writer, suffix):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp" + suffix, dir=folder
    )
    os.close(handle)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask

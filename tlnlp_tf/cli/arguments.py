"""Options and helpers shared by the `tlnlp` commands: parsing and printing only."""

import argparse
import json
import os

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

RUN_FILE = "run.json"  # beside model.keras: the options of `tlnlp fit`


def positive(text):
    """An argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def attention_dropout(text):
    """An argparse type: a rate in [0, 1), 'auto', or 'backbone' (`None`)."""
    if text == "auto":
        return text
    if text == "backbone":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a rate in [0, 1), 'backbone' or 'auto', got {text}"
        )
    return value


def add_columns(parser):
    """The data layout flags of every registered task kind (`--text-column`, …)."""
    from tlnlp_tf.tasks import registry

    for name, keywords in registry.column_options().items():
        parser.add_argument("--" + name.replace("_", "-"), **keywords)


def columns(args, run):
    """The data layout options: given on the command line, else from run.json."""
    from tlnlp_tf.tasks import registry

    return {
        name: getattr(args, name, None)
        if getattr(args, name, None) is not None
        else run.get(name)
        for name in registry.column_options()
    }


def read_run(folder):
    """The options of the `tlnlp fit` run in `folder` (run.json); checks model.keras."""
    path = os.path.join(folder, "model.keras")
    if not os.path.isfile(path):
        raise DataError(
            f"{folder}: no model.keras; expected a folder written by `tlnlp fit`."
        )
    run_path = os.path.join(folder, RUN_FILE)
    if not os.path.isfile(run_path):
        return {}
    with open(run_path, encoding="utf-8") as file:
        try:
            run = json.load(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{run_path}: not valid JSON ({error}).") from None
    if not isinstance(run, dict):
        raise DataError(f"{run_path}: expected a JSON object.")
    if run.get("task") == "multi":
        raise PolicyError(
            f"{folder}: a multi-task model (tlnlp fit --task multi); evaluate and "
            "predict take single-task models (in Python: model.tasks[name])."
        )
    return run


def load_model(folder):
    """The model.keras of a folder written by `tlnlp fit`."""
    import zipfile

    import keras

    path = os.path.join(folder, "model.keras")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        message = " ".join(str(error).split())
        raise DataError(
            f"{path}: not a Keras model file written by `tlnlp fit` ({message})."
        ) from None


def rounded(value):
    """Floats rounded to 6 digits, through dicts."""
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    return round(value, 6) if isinstance(value, float) else value


def print_json(value):
    print(json.dumps(value, indent=2))

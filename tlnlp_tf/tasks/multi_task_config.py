"""The YAML file of `tlnlp fit --task multi --config tasks.yaml`.

```yaml
sampling: temperature      # proportional (default) | uniform | temperature
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
```

Paths are relative to the YAML file's folder. `type` is a registered task
kind (`tlnlp_tf.tasks.registry.task_kinds()`); the data layout keys are that
kind's column options (`text_column`, … for text tasks; `token_column`,
`tag_column`, `scheme` for CoNLL; `skip_mismatched_answers` for SQuAD).
"""

import os

import yaml

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks import registry

# The keys of one task besides its data layout (the registry's column options).
BASE_KEYS = ("type", "train", "validation", "weight", "limit")
TOP_KEYS = ("tasks", "sampling", "temperature")
SAMPLINGS = ("proportional", "uniform", "temperature")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader refusing a key given twice in a mapping (PyYAML keeps the last)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise PolicyError(
                f"{loader.name}, line {key_node.start_mark.line + 1}: "
                f"{key!r} is given twice; task names (and keys) must be unique."
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping
)


def read_config(path):
    """The checked config: `{"sampling", "temperature", "tasks": {name: {...}}}`.

    Every error names the file and what was expected: a missing file, a
    duplicated task name, an unknown task type or key, a training or
    validation file that does not exist (its resolved path), a bad weight.
    """
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such multi-task config file.")
    with open(path, encoding="utf-8") as file:
        loader = _UniqueKeyLoader(file)
        loader.name = path
        try:
            config = loader.get_single_data()
        except yaml.YAMLError as error:
            raise DataError(f"{path}: not valid YAML ({error}).") from None
        finally:
            loader.dispose()
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("tasks"), dict)
        or not config["tasks"]
    ):
        raise PolicyError(
            f"{path}: expected a mapping with 'tasks:', one entry per task "
            "(name: {type, train, ...})."
        )
    unknown = sorted(set(config) - set(TOP_KEYS))
    if unknown:
        raise PolicyError(
            f"{path}: unknown keys {unknown}; expected {', '.join(TOP_KEYS)}."
        )
    sampling = config.get("sampling", "proportional")
    if sampling not in SAMPLINGS:
        raise PolicyError(
            f"{path}: sampling {sampling!r}; expected one of {', '.join(SAMPLINGS)}."
        )
    temperature = _number(
        path, "temperature", config.get("temperature", 2.0), minimum=1.0
    )
    folder = os.path.dirname(os.path.abspath(path))
    tasks = {}
    for name, entry in config["tasks"].items():
        where = f"{path}, task {name!r}"
        if not isinstance(name, str) or not name.isidentifier():
            raise PolicyError(
                f"{where}: task names must be identifiers (letters, digits, _)."
            )
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: expected a mapping (type, train, ...).")
        kinds = registry.task_kinds()
        if entry.get("type") not in kinds:
            raise PolicyError(
                f"{where}: type {entry.get('type')!r}; expected one of "
                f"{', '.join(kinds)}."
            )
        keys = task_keys(entry["type"])
        unknown = sorted(set(entry) - set(keys))
        if unknown:
            raise PolicyError(
                f"{where}: unknown keys {unknown}; expected some of {', '.join(keys)}."
            )
        task = dict(entry)
        for key in ("train", "validation"):
            if key not in entry:
                if key == "train":
                    raise PolicyError(f"{where}: 'train' (a file) is required.")
                continue
            resolved = os.path.join(folder, str(entry[key]))
            if not os.path.isfile(resolved):
                raise DataError(f"{where}: {key} file {resolved} does not exist.")
            task[key] = resolved
        task["weight"] = _number(where, "weight", entry.get("weight", 1.0), minimum=0.0)
        limit = entry.get("limit")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise PolicyError(
                f"{where}: limit must be a positive integer (training examples "
                f"to sample), got {limit!r}."
            )
        tasks[name] = task
    return {"sampling": sampling, "temperature": temperature, "tasks": tasks}


def task_keys(kind):
    """The keys a task of `kind` may have: the base keys and its column options."""
    return BASE_KEYS[:3] + tuple(registry.get_task(kind).columns) + BASE_KEYS[3:]


def _number(where, key, value, minimum):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number >= minimum:
        raise PolicyError(
            f"{where}: {key} must be a number >= {minimum}, got {value!r}."
        )
    return number


def read_task_data(config, limit=None, seed=0):
    """Each task's data and `MultiTaskModel.from_backbone` spec, from a read config.

    Returns `({name: (train, validation or None)}, {name: {"kind", …}})`:
    the files read with the task kind's reader (a seeded sample of `limit`
    training examples, or the task's own `limit`), the targets checked,
    and the spec holding the kind and its label (or tag) names.

    ```python
    config = read_config("tasks.yaml")
    data, specs = read_task_data(config)
    model = tl.MultiTaskModel.from_backbone("minilm", specs)
    ```
    """
    data, specs = {}, {}
    for name, task in config["tasks"].items():
        kind = registry.get_task(task["type"])
        columns = {key: task.get(key) for key in kind.columns}
        train = kind.read_sample(
            task["train"], columns, task.get("limit") or limit, seed
        )
        validation = (
            kind.read(task["validation"], columns) if task.get("validation") else None
        )
        names = kind.targets(train, validation)
        data[name] = (train, validation)
        specs[name] = {"kind": kind.kind, **kind.target_options(names)}
    return data, specs

"""keras-hub presets: task models refuse `save_to_preset` and `from_preset` clearly.

keras-hub rebuilds a preset's task by its backbone class, which finds only
keras-hub's own tasks ("Unable to find a subclass…" for ours). Every task
model refuses both with a message naming `keras.saving.load_model`, the way
it does save and reload.
"""

import os

import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.tasks.task import TextTask


def _task_classes():
    found, todo = set(), [TextTask]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("tlnlp_tf.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: c.__name__)


def test_every_task_class_is_covered():
    names = {c.__name__ for c in _task_classes()}
    assert {"TextClassifier", "TextRegressor", "TokenClassifier", "SpanExtractor"} <= (
        names
    )
    # The two tasks outside keras-hub's Task have no preset methods to misuse.
    for cls in (tl.MultiTaskModel, tl.WordClassifier):
        assert not hasattr(cls, "from_preset") and not hasattr(cls, "save_to_preset")


@pytest.mark.parametrize("cls", _task_classes(), ids=lambda c: c.__name__)
def test_presets_are_refused_naming_load_model(cls, tiny_preset, tmp_path):
    options = {
        "TextClassifier": {"labels": ["neg", "pos"]},
        "TokenClassifier": {"tags": ["O", "B-PER", "I-PER"]},
        "RoleLabeler": {"tags": ["O", "B-ARG0", "I-ARG0", "B-V"]},
    }.get(cls.__name__, {})
    with pytest.raises(tl.PolicyError, match=r"keras\.saving\.load_model") as error:
        cls.from_preset(tiny_preset)
    assert f"{cls.__name__}.from_preset" in str(error.value)
    model = cls.from_backbone(tiny_preset, **options)
    folder = tmp_path / "preset"
    with pytest.raises(tl.PolicyError, match=r"keras\.saving\.load_model") as error:
        model.save_to_preset(str(folder))
    assert f"{cls.__name__}.save_to_preset" in str(error.value)
    assert not os.path.exists(folder)  # nothing half-written
    # What the message says to do works.
    path = str(tmp_path / "model.keras")
    model.save(path)
    assert type(keras.saving.load_model(path)) is cls

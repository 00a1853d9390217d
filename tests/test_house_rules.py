"""The house rules of CONTRIBUTING.md that a machine can check.

- No import from `keras_hub.src`: only keras-hub's public API.
- The lower floors never import the upper: `data`, `layers`, `backbones`,
  `metrics`, `decoding`, `training`, `pretraining`, `probes` and `distribute` know
  nothing of `tasks` or `cli`; `tasks` know nothing of `cli` or `reports`
  (which train task models), `reports` nothing of `cli`; distribution
  stays out of `layers` (and `distribute` out of them).
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tlnlp_tf"

# package folder -> the tlnlp_tf packages its modules must not import.
FORBIDDEN = {
    "data": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "layers": ("tlnlp_tf.tasks", "tlnlp_tf.cli", "tlnlp_tf.distribute"),
    "backbones": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "metrics": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "training": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "pretraining": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "probes": ("tlnlp_tf.tasks", "tlnlp_tf.cli"),
    "distribute": ("tlnlp_tf.tasks", "tlnlp_tf.cli", "tlnlp_tf.layers"),
    "decoding": ("tlnlp_tf.tasks", "tlnlp_tf.cli", "tlnlp_tf.distribute"),
    "tasks": ("tlnlp_tf.cli", "tlnlp_tf.reports"),
    "reports": ("tlnlp_tf.cli",),
}


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def imported_names(path):
    """Every module name `path` imports (at any depth: in functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _violations(path, forbidden):
    return [
        name
        for name in imported_names(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_no_import_from_keras_hub_src():
    offenders = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if "keras_hub.src" in text or "keras_hub/src" in text:
            offenders.append(str(path.relative_to(PACKAGE.parent)))
        offenders += [
            f"{path.relative_to(PACKAGE.parent)}: {name}"
            for name in imported_names(path)
            if name.startswith("keras_hub.src")
        ]
    assert not offenders, f"keras_hub.src is private; use keras_hub's API: {offenders}"


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_lower_floors_do_not_import_upper_ones(floor):
    offenders = {
        str(path.relative_to(PACKAGE.parent)): bad
        for path in sorted((PACKAGE / floor).rglob("*.py"))
        if (bad := _violations(path, FORBIDDEN[floor]))
    }
    assert not offenders, (
        f"tlnlp_tf/{floor} may not import {', '.join(FORBIDDEN[floor])} "
        f"(CONTRIBUTING.md, 'Layers'): {offenders}"
    )


def test_the_layering_check_sees_violations(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text(
        "def f():\n    from tlnlp_tf.tasks.task import TextTask\n"
        "import tlnlp_tf.cli.main\nfrom tlnlp_tf import data\n"
    )
    assert sorted(_violations(module, FORBIDDEN["data"])) == [
        "tlnlp_tf.cli.main",
        "tlnlp_tf.tasks.task",
        "tlnlp_tf.tasks.task.TextTask",
    ]

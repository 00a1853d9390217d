"""A light core: gensim and matplotlib are extras; a missing one is a one-line error."""

import subprocess
import sys

import pytest

from tlnlp_tf.extras import MissingExtra
from tlnlp_tf.extras import require


def test_missing_gensim_names_the_pip_install(monkeypatch, tmp_path):
    from tlnlp_tf.pretraining import word_vectors

    for name in [m for m in sys.modules if m == "gensim" or m.startswith("gensim.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "gensim", None)  # as if not installed
    with pytest.raises(MissingExtra) as error:
        word_vectors.train_word2vec(["a film", "a good film"] * 5, vector_size=4)
    message = str(error.value)
    assert message == (
        "gensim is not installed; it comes with the 'word-vectors' extra: "
        'pip install "tlnlp_tf[word-vectors]"'
    )
    assert "\n" not in message and isinstance(error.value, ImportError)
    path = tmp_path / "v.txt"
    path.write_text("2 2\na 0.1 0.2\nb 0.3 0.4\n")
    with pytest.raises(MissingExtra, match=r'pip install "tlnlp_tf\[word-vectors\]"'):
        word_vectors.load_vectors(str(path))


def test_missing_matplotlib_fails_the_demo_before_training(monkeypatch, tmp_path):
    from tlnlp_tf.cli import demo

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(demo, "_run", lambda *a, **k: pytest.fail("trained first"))
    with pytest.raises(MissingExtra, match=r'pip install "tlnlp_tf\[plots\]"'):
        demo.run_demo(output=str(tmp_path / "demo"))


def test_a_broken_dependency_of_an_installed_extra_is_not_hidden(monkeypatch, tmp_path):
    (tmp_path / "fake_extra_pkg").mkdir()
    (tmp_path / "fake_extra_pkg" / "__init__.py").write_text("import missing_dep_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # The extra is installed but broken: its own error, not "pip install".
    with pytest.raises(ModuleNotFoundError, match="missing_dep_xyz") as error:
        require("fake_extra_pkg", "x")
    assert not isinstance(error.value, MissingExtra)
    with pytest.raises(MissingExtra, match=r"tlnlp_tf\[x\]"):
        require("no_such_module_xyz.sub", "x")


def test_core_imports_without_the_extras():
    # As if neither extra were installed (Keras itself imports matplotlib when
    # it can, so "not loaded" would say nothing).
    code = (
        "import sys; sys.modules['gensim'] = None; sys.modules['matplotlib'] = None\n"
        "import tlnlp_tf as tl\n"
        "print(tl.pretraining.word_vectors.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "tlnlp_tf.pretraining.word_vectors"

"""Progress bars outside `fit` (tlnlp_tf/progress.py): stderr, off with verbose=0."""

import keras
import tensorflow as tf

from tlnlp_tf.progress import progress


def test_a_bar_counts_every_item_on_stderr_and_leaves_stdout_alone(capsys):
    assert list(progress(range(7), "Counting texts", unit="text")) == list(range(7))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Counting texts …\n")
    assert "7/7" in captured.err


def test_a_dataset_of_unknown_size_counts_up(capsys):
    data = tf.data.Dataset.range(5).filter(lambda x: x >= 0)  # unknown cardinality
    assert [int(x) for x in progress(data, "Reading")] == [0, 1, 2, 3, 4]
    assert "5/Unknown" in capsys.readouterr().err


def test_verbose_0_and_keras_quiet_mode_show_nothing(capsys):
    assert list(progress(range(3), "Hidden", verbose=0)) == [0, 1, 2]
    keras.config.disable_interactive_logging()
    try:
        assert list(progress(range(3), "Hidden too")) == [0, 1, 2]
    finally:
        keras.config.enable_interactive_logging()
    assert capsys.readouterr().err == ""


def test_tokenize_once_shows_its_pass(tiny_preset, capsys):
    import tlnlp_tf as tl

    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    data = tf.data.Dataset.from_tensor_slices((["a good film"] * 5, ["pos"] * 5))
    tokens = model.tokenize_once(data, batch_size=2)
    assert int(tokens.cardinality()) == 5
    err = capsys.readouterr().err
    assert "Tokenizing the data once …" in err and "3/Unknown" in err


def test_a_large_file_shows_a_reading_bar_and_a_small_one_none(
    tmp_path, capsys, monkeypatch
):
    from tlnlp_tf.data import readers

    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\n" + "a fine film\tpos\n" * 2500)
    assert len(readers.load_table(path, "text", "label").texts) == 2500
    assert capsys.readouterr().err == ""  # under PROGRESS_BYTES: no bar
    monkeypatch.setattr(readers, "PROGRESS_BYTES", 1000)
    assert len(readers.load_table(path, "text", "label").texts) == 2500
    err = capsys.readouterr().err
    assert f"Reading {path} …" in err and "2500/Unknown" in err

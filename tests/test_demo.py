import json

from tlnlp_tf.cli.demo import TRAIN_FILE
from tlnlp_tf.cli.demo import VALID_FILE
from tlnlp_tf.cli.main import main
from tlnlp_tf.data import load_table


def test_shipped_demo_data_is_balanced_and_disjoint():
    train = load_table(TRAIN_FILE, "text", "label")
    valid = load_table(VALID_FILE, "text", "label")
    assert len(train) == 400 and len(valid) == 200
    assert sorted(train.labels).count("positive") == 200
    assert not set(train.texts) & set(valid.texts)


def test_demo_runs_three_runs_and_writes_json_and_plot(tiny_preset, tmp_path, capsys):
    output = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    results = json.loads((output / "demo.json").read_text())
    runs = {(r["weights"], r["freeze"]): r for r in results["runs"]}
    assert set(runs) == {
        ("pretrained", "none"),
        ("pretrained", "all"),
        ("random", "none"),
    }
    for run in results["runs"]:
        assert 0.0 <= run["accuracy"] <= 1.0 and len(run["accuracy_per_epoch"]) == 1
        assert run["train_seconds"] > 0
    frozen = runs[("pretrained", "all")]["trainable_params"]
    assert frozen < runs[("pretrained", "none")]["trainable_params"]
    with open(output / "demo.png", "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "random init + full training" in table and "accuracy" in table
    for kind in ("summarization", "translation", "language-modeling"):
        assert kind in table  # the demo lists the tasks, generation included

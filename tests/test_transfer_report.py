"""`tl.transfer_report` and `tlnlp transfer-report` on a tiny backbone."""

import importlib
import json

import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError


def _examples(tmp_path, toy_files):
    train = tl.data.load_table(toy_files["train"], "sentence", "label")
    valid = tl.data.load_table(toy_files["valid"], "sentence", "label")
    return train, valid


@pytest.mark.extended  # the CLI test below covers one seed in the default run
def test_report_table_gain_and_curve(tiny_preset, toy_files, tmp_path):
    train, valid = _examples(tmp_path, toy_files)
    report = tl.transfer_report(
        train,
        valid,
        budgets=(4,),
        strategies=("random", "frozen"),
        seeds=2,
        backbone=tiny_preset,
        updates=2,
        output=str(tmp_path / "report"),
        verbose=False,
    )
    assert len(report["runs"]) == 2 * 2
    for budget in ("4",):
        cells = report["table"][budget]
        assert set(cells) == {"random", "frozen"}
        runs = [
            r["accuracy"]
            for r in report["runs"]
            if r["budget"] == budget and r["strategy"] == "frozen"
        ]
        assert cells["frozen"]["mean"] == pytest.approx(sum(runs) / 2, abs=1e-4)
        assert report["gain"][budget] == pytest.approx(
            cells["frozen"]["mean"] - cells["random"]["mean"], abs=1e-4
        )
    # Each run trained on its budget, split evenly over the two labels.
    assert {r["examples"] for r in report["runs"]} == {4}
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["table"] == report["table"]
    assert (tmp_path / "report" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_budgets_fail_before_training(tiny_preset, toy_files, tmp_path):
    train, valid = _examples(tmp_path, toy_files)
    with pytest.raises(DataError, match="below the number of labels"):
        tl.transfer_report(train, valid, budgets=(1,), backbone=tiny_preset)
    with pytest.raises(DataError, match="larger than the training data"):
        tl.transfer_report(train, valid, budgets=(1000,), backbone=tiny_preset)
    with pytest.raises(DataError, match="needs at least 2 examples of each label"):
        tl.transfer_report(train, valid, budgets=(2,), backbone=tiny_preset)
    with pytest.raises(DataError, match="expected a number of examples or 'all'"):
        tl.transfer_report(train, valid, budgets=("many",), backbone=tiny_preset)
    for length in (2, 8.5, "64"):
        with pytest.raises(PolicyError, match="max_length"):
            tl.transfer_report(
                train, valid, budgets=(4,), max_length=length, backbone=tiny_preset
            )
    for seeds in (0, []):
        with pytest.raises(PolicyError, match="at least 1"):
            tl.transfer_report(
                train, valid, budgets=(4,), seeds=seeds, backbone=tiny_preset
            )


def test_chosen_seeds_draw_their_own_samples(tiny_preset, toy_files, tmp_path):
    train, valid = _examples(tmp_path, toy_files)
    report = tl.transfer_report(
        train,
        valid,
        budgets=(4,),
        seeds=[3],
        strategies=("frozen",),
        backbone=tiny_preset,
        verbose=False,
        max_length=8,
    )
    assert report["seeds"] == [3]
    assert [(run["seed"], run["examples"]) for run in report["runs"]] == [(3, 4)]
    # The length asked for is the length the model read, and both are saved.
    assert report["max_length"] == 8 and report["runs"][0]["max_length"] == 8


def test_l2sp_strategy_anchors_the_backbone(
    tiny_preset, toy_files, tmp_path, monkeypatch
):
    module = importlib.import_module("tlnlp_tf.reports.transfer_report")
    anchored = []

    class Recording(tl.L2SP):
        def apply(self, model):
            model = super().apply(model)
            anchored.append((self.alpha, self.beta, tl.L2SP.penalty(model)))
            return model

    monkeypatch.setattr(module, "L2SP", Recording)
    train, valid = _examples(tmp_path, toy_files)
    report = tl.transfer_report(
        train,
        valid,
        budgets=(4,),
        seeds=1,
        strategies=("l2sp",),
        backbone=tiny_preset,
        updates=2,
        verbose=False,
    )
    # Applied once, at the strengths of strategies.py, before any step (zero
    # distance to the anchor: only the head's beta term).
    assert [a[:2] for a in anchored] == [(0.01, 0.01)] and anchored[0][2] > 0
    (run,) = report["runs"]
    assert run["strategy"] == "l2sp" and run["epochs"] == 2
    # No max_length asked: the model chose one from its training draw.
    assert report["max_length"] is None and 4 <= run["max_length"] <= 512
    assert 0.0 <= report["table"]["4"]["l2sp"]["mean"] <= 1.0


def _report_args(toy_files, output, *extra):
    return [
        "transfer-report",
        "--train",
        toy_files["train"],
        "--validation",
        toy_files["valid"],
        "--text-column",
        "sentence",
        "--label-column",
        "label",
        "--output",
        str(output),
        *extra,
    ]


def test_cli_transfer_report(tiny_preset, toy_files, tmp_path, capsys):
    options = ("--labels", "4", "--strategies", "random,frozen", "--seeds", "1")
    options += ("--max-length", "16")
    args = _report_args(
        toy_files, tmp_path / "out", "--backbone", tiny_preset, *options
    )
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "4 labels: pretraining buys" in printed
    assert (tmp_path / "out" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cells = report["table"]["4"]
    assert report["gain"]["4"] == pytest.approx(
        cells["frozen"]["mean"] - cells["random"]["mean"], abs=1e-4
    )
    assert {r["examples"] for r in report["runs"]} == {4}
    assert report["max_length"] == 16
    assert {r["max_length"] for r in report["runs"]} == {16}
    assert main(_report_args(toy_files, tmp_path / "bad", "--labels", "1")) == 2
    assert "below the number of labels" in capsys.readouterr().err

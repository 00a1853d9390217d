"""`tlnlp` keeps TensorFlow's C++ start-up log off the terminal (tlnlp.py)."""

import os
import subprocess
import sys

import tlnlp


def test_the_console_script_prints_no_log_before_its_own_output(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "tlnlp"),
            "predict",
            "--model",
            str(tmp_path / "missing"),
            "--input",
            str(tmp_path / "texts.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    assert result.returncode == 2
    # Only our own line: no "cudart_stub", "cuInit", "cpu_feature_guard", absl preamble.
    assert result.stderr.splitlines() == [
        f"tlnlp predict: error: {tmp_path / 'missing'}: no model.keras; "
        "expected a folder written by `tlnlp fit`."
    ]


def test_c_log_lines_are_held_and_everything_else_is_written_back(capfd):
    with tlnlp.quiet_start_up():
        os.write(
            2,
            b"WARNING: All log messages before absl::InitializeLog() is called"
            b" are written to STDERR\n"
            b"I0000 00:00:1796221561.196705   31675 cudart_stub.cc:31] no cuda\n"
            b"E0000 00:00:1796221731.828201    1168 cuda_platform.cc:52] failed"
            b" call to cuInit: UNKNOWN ERROR (303)\n"
            b"2026-12-01 10:00:00.123456: I tensorflow/core/util/port.cc:153]"
            b" oneDNN custom operations are on.\n"
            b"To enable the following instructions: AVX2 FMA, in other operations,"
            b" rebuild TensorFlow with the appropriate compiler flags.\n"
            b"UserWarning: a warning from Python stays\n"
            b"F0000 00:00:1796221731.828201    1168 op.cc:1] a fatal line stays\n",
        )
    assert capfd.readouterr().err.splitlines() == [
        "UserWarning: a warning from Python stays",
        "F0000 00:00:1796221731.828201    1168 op.cc:1] a fatal line stays",
    ]


def test_verbose_leaves_stderr_alone(monkeypatch, capsys):
    def refuse():
        raise AssertionError("--verbose must not hold stderr")

    monkeypatch.setattr(tlnlp, "quiet_start_up", refuse)
    arguments = ["--verbose", "predict", "--model", "/missing/x", "--input", "t.txt"]
    assert tlnlp.main(arguments) == 2
    assert "no model.keras" in capsys.readouterr().err

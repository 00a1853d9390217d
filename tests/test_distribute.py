"""tf.distribute: strategy choice, MirroredStrategy on 2 logical CPUs, 2 local workers.

The distributed runs happen in fresh processes (logical devices and TF_CONFIG
must be set before TensorFlow starts), each bounded in time and always ended.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.errors import PolicyError

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 420


def test_strategy_names(monkeypatch):
    with pytest.raises(PolicyError, match="Unknown strategy 'gpus'"):
        tl.distribute.strategy("gpus")
    assert tl.distribute.strategy("default") is tf.distribute.get_strategy()
    assert isinstance(
        tl.distribute.strategy("one-device"), tf.distribute.OneDeviceStrategy
    )
    with pytest.raises(PolicyError, match="no TPU found"):
        tl.distribute.strategy("tpu")
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    assert tl.distribute._auto_kind() == "multi-worker"
    monkeypatch.setenv("TF_CONFIG", "{broken")
    with pytest.raises(PolicyError, match="TF_CONFIG is not valid JSON"):
        tl.distribute._auto_kind()
    monkeypatch.delenv("TF_CONFIG")
    assert tl.distribute._auto_kind() == "default"  # no TPU, no GPUs here


def _run(args, env=None, timeout=TIMEOUT):
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process


def _finish(processes, timeout=TIMEOUT):
    """Wait for all processes (bounded); kill any left; return their outputs."""
    outputs = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=timeout)
            outputs.append(output)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


@pytest.mark.parametrize(
    "names",
    [
        # All on request (`make test-extended`, run by CI as its own step): the
        # default run keeps the 2-worker MultiWorkerMirroredStrategy test.
        pytest.param("classifier,token_classifier", marks=pytest.mark.extended),
        # The other two on request (`make test-extended`): each task costs
        # a minute of tracing under MirroredStrategy on 2 cores.
        pytest.param("span_extractor,multi_task", marks=pytest.mark.extended),
        pytest.param("setfit", marks=pytest.mark.extended),
        # The generation models: a tiny GPT-2 and a bert2bert encoder-decoder.
        pytest.param("language_model,encoder_decoder", marks=pytest.mark.extended),
    ],
)
def test_mirrored_matches_single_device(tmp_path, names):
    out = tmp_path / "mirrored.json"
    [output] = _finish([_run(["mirrored_check.py", str(out), names])])
    assert out.exists(), output[-3000:]
    report = json.loads(out.read_text())
    assert report["replicas"] == 2
    assert set(report["tasks"]) == set(names.split(","))
    for name, task in report["tasks"].items():
        assert task["in_sync"], name
        # Same global batch, SGD, no dropout: one device and two replicas agree
        # up to float summation order. `setfit`'s head stage shuffles its
        # cached features with op seeds that differ between the two runs.
        gap, rel = (1e-2, 1e-2) if name == "setfit" else (1e-4, 1e-3)
        assert task["max_weight_gap"] < gap, (name, task)
        assert task["mirrored_loss"] == pytest.approx(
            task["single_loss"], rel=rel, abs=1e-5
        ), name
        assert task["evaluate_loss"] == pytest.approx(task["evaluate_loss"])  # finite


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _two_workers(tmp_path, shims=True):
    ports = [str(p) for p in _free_ports(2)]
    env = dict(os.environ, TLNLP_KERAS_SHIMS="1" if shims else "0")
    env.pop("TF_CONFIG", None)
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    processes = [
        _run(["multi_worker_check.py", str(i), *ports, str(outs[i])], env=env)
        for i in range(2)
    ]
    outputs = _finish(processes)
    return outs, outputs, [p.returncode for p in processes]


@pytest.fixture(scope="module")
def worker_reports(tmp_path_factory):
    """The two workers' reports of one 2-worker run (shared by the tests below)."""
    outs, outputs, codes = _two_workers(tmp_path_factory.mktemp("workers"))
    assert codes == [0, 0], "\n".join(o[-2000:] for o in outputs)
    return [json.loads(out.read_text()) for out in outs]


def test_two_workers_finish_with_identical_weights(worker_reports):
    reports = worker_reports
    assert [r["replicas"] for r in reports] == [2, 2]
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]
    assert reports[0]["loss"] == pytest.approx(reports[1]["loss"])


def test_two_workers_split_a_stream_each_example_once(worker_reports):
    """Streamed gzip shards under MultiWorkerMirroredStrategy: sharded by data.

    Across the two workers, one epoch hands out every example exactly once.
    """
    reports = worker_reports
    examples = reports[0]["stream_examples"]
    seen = [report["stream_seen"] for report in reports]
    assert len(examples) == 40 and all(seen)
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(examples)
    assert reports[0]["stream_loss"] == pytest.approx(reports[1]["stream_loss"])


@pytest.mark.extended
def test_keras_multi_worker_bug_still_needs_the_shim(tmp_path):
    """Fails once Keras fixes keras-team/keras#20585: then drop install_keras_shims.

    Without the shims, a worker fails in Keras's first-batch build (or, past
    it, in the metric reduction) with one of the known messages.
    """
    _, outputs, codes = _two_workers(tmp_path, shims=False)
    if codes == [0, 0]:
        pytest.fail(
            "MultiWorkerMirroredStrategy fit works without tlnlp_tf's shim: Keras "
            "has fixed keras-team/keras#20585; remove distribute.install_keras_shims."
        )
    known = (
        "with an unsupported type (<class 'dict'>) to a Tensor",  # first-batch build
        "Invalid reduction dimension",
    )  # metric reduction
    assert any(k in output for k in known for output in outputs), "\n".join(
        o[-2000:] for o in outputs
    )


@pytest.mark.parametrize(
    "config, message",
    [
        ('{"cluster": {}}', "names no workers"),
        (
            '{"cluster": {"worker": ["127.0.0.1"]}, '
            '"task": {"type": "worker", "index": 0}}',
            'must be a list of "host:port"',
        ),
        (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, '
            '"task": {"type": "ps", "index": 0}}',
            "task must name a role",
        ),
        (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, '
            '"task": {"type": "worker", "index": 1}}',
            r"task index 1 is not in \[0, 1\)",
        ),
    ],
)
def test_malformed_tf_config_is_an_error_not_a_hang(monkeypatch, config, message):
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(PolicyError, match=message):
        tl.distribute.strategy("multi-worker")


def test_global_batch_must_split_across_replicas(tiny_preset):
    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(
        PolicyError, match="global batch size 3 does not split evenly across 2"
    ):
        tl.distribute.check_global_batch(3, TwoReplicas())
    tl.distribute.check_global_batch(4, TwoReplicas())
    tl.distribute.check_global_batch(3)  # one replica: anything goes


@pytest.mark.extended
def test_auto_freeze_resolves_in_the_models_strategy(tiny_hf_folder):
    # Few labels on a sentence encoder: "auto" picks SetFit inside fit, and
    # the recompile must build the optimizer in the MirroredStrategy scope.
    result = subprocess.run(
        [sys.executable, "mirrored_auto_freeze_check.py", tiny_hf_folder],
        cwd=os.path.dirname(os.path.abspath(__file__)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    policy, _ = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert policy == "setfit"

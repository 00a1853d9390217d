"""Shared helpers for benchmark scripts: peak RSS sampling, machine, results."""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import threading
import time

import psutil


class PeakRSS:
    """Sample this process's resident memory in a thread; `peak_mb` at exit."""

    def __init__(self, interval=0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mb(self):
        return round(self.peak / 2**20, 1)


def rss_per_epoch():
    """A Keras callback that prints this process's RSS after each epoch (`.rss_mb`)."""
    import keras

    class RSSPerEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rss_mb = []

        def on_epoch_end(self, epoch, logs=None):
            mb = round(psutil.Process().memory_info().rss / 2**20, 1)
            self.rss_mb.append(mb)
            print(f"RSS after epoch {epoch + 1}: {mb} MB", flush=True)

    return RSSPerEpoch()


def tlnlp_fit(code, arguments, output):
    """Run `python -m tlnlp fit ARGUMENTS --output OUTPUT` with the code in `code`.

    Returns `metrics.json` with `peak_rss_mb` (the child's own, from `wait4`)
    and `wall_seconds` added.
    """
    import subprocess

    command = [sys.executable, "-m", "tlnlp", "fit", *arguments, "--output", output]
    env = dict(os.environ, PYTHONPATH=code, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=code, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status})")
    with open(os.path.join(output, "metrics.json")) as file:
        metrics = json.load(file)
    metrics["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    metrics["wall_seconds"] = round(wall, 1)
    return metrics


def machine():
    """A one-line description of the machine the benchmark ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, no GPU"


def saved_runs(name):
    """The `runs` saved in `benchmarks/results/NAME.json` (`[]` if none): a
    benchmark keeps those it does not rerun."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "results", f"{name}.json")
    if not os.path.exists(path):
        return []
    with open(path) as file:
        return json.load(file)["runs"]


def write_results(name, results, table_title, table_rows, command):
    """Write `benchmarks/results/NAME.json` and replace the section in RESULTS.md."""
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    results = dict(
        results,
        date=datetime.date.today().isoformat(),
        machine=machine(),
        command=command,
    )
    with open(os.path.join(here, "results", f"{name}.json"), "w") as file:
        json.dump(results, file, indent=2)
    section = [
        f"<!-- {name}:start -->",
        f"## {table_title}",
        "",
        f"- Command: `{command}`",
        f"- Date: {results['date']}",
        f"- Machine: {results['machine']}",
        "",
    ]
    section += table_rows + [f"<!-- {name}:end -->"]
    path = os.path.join(here, "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + "\n".join(section) + after
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
    with open(path, "w") as file:
        file.write(text)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def parser(doc, data_folder, epochs):
    """The options every benchmark takes; `--data` defaults to ../shared/data/FOLDER."""
    here = os.path.dirname(os.path.abspath(__file__))
    # The first paragraph of the docstring, its wrapped lines joined by spaces.
    summary = " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
    result = argparse.ArgumentParser(description=summary)
    result.add_argument(
        "--data", default=os.path.join(here, "..", "..", "shared", "data", data_folder)
    )
    result.add_argument(
        "--limit", type=int, help="train on a seeded sample of N examples"
    )
    result.add_argument("--epochs", type=int, default=epochs)
    result.add_argument("--batch-size", type=int, default=32)
    result.add_argument("--seed", type=int, default=0)
    return result


def backbone_result_name(name, backbone):
    """`name`, and `name_<backbone folder>` for a backbone other than `"minilm"`."""
    if backbone == "minilm":
        return name
    stem = os.path.basename(os.path.normpath(backbone))
    return name + "_" + "".join(c if c.isalnum() else "_" for c in stem)


def command(script, argv):
    """The command line that reproduces this run."""
    args = list(argv if argv is not None else sys.argv[1:])
    return shlex.join(["python", f"benchmarks/{script}"] + args)


def parity_texts(data, count, long):
    """The first `count` SST-2 dev sentences and `long` IMDB reviews of `data`
    (`../shared/data`): the texts of the parity checks against PyTorch peers."""
    import tlnlp_tf as tl

    sst2 = tl.data.load_table(
        os.path.join(data, "sst2", "dev.tsv"), "sentence", "label"
    )
    imdb = tl.data.load_jsonl(
        os.path.join(data, "imdb", "test_subset_2000.jsonl"), "text", "label"
    )
    return list(sst2.texts[:count]) + list(imdb.texts[:long])


def imdb_halves(path, seed=0):
    """`(training half, held-out half)` of the 2,000 IMDB reviews at `path`
    (`imdb/test_subset_2000.jsonl`), split by a shuffle seeded with `seed`
    (0 in `dapt_imdb.py` and `few_labels.py`, `--seed` in `throughput.py`)."""
    import numpy as np

    import tlnlp_tf as tl
    from tlnlp_tf.data.examples import Examples

    reviews = tl.data.load_jsonl(path, "text", "label")
    order = np.random.default_rng(seed).permutation(len(reviews))
    half = len(reviews) // 2

    def part(rows):
        return Examples(
            [reviews.texts[i] for i in rows],
            None,
            [reviews.labels[i] for i in rows],
            reviews.source,
            [reviews.lines[i] for i in rows],
        )

    return part(order[:half]), part(order[half:])


def run_peer_worker(peer_python, worker, job, work):
    """Run `benchmarks/<worker>` in the peer Python on `job` (written to
    `work/job.json`) offline; returns the JSON object its last line prints."""
    import subprocess

    path = os.path.join(work, "job.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(job, file)
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(
        [peer_python, os.path.join(here, worker), path],
        capture_output=True,
        text=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"),
    )
    if done.returncode:
        raise SystemExit(f"the peer worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

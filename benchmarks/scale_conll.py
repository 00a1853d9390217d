"""Tagged data at scale: CoNLL-2003 shards, 1× to 100×, memory that does not grow.

Two measurements, each a fresh process whose peak RSS is the kernel's
(`wait4`'s `ru_maxrss`):

1. `tlnlp fit --task token-classification --train 'conll-Nx/*.txt.gz'
   --limit 200 --epochs 1`: CoNLL-2003's training set (14,041 sentences)
   repeated N times into 8 gzip shards (written to `--work`, not
   committed). `--limit` samples 200 sentences while streaming.
2. `read_conll(glob, stream=True)` and one full pass over its
   `to_dataset()` (every sentence converted to IOB2 and joined), against
   `read_conll(glob)` holding the corpus: the same pass over the same
   shards.

`--baseline DIR` runs (1) with the code of another checkout too (e.g. a
worktree of the commit before CoNLL streaming), in the same run.

    python benchmarks/scale_conll.py
    python benchmarks/scale_conll.py --repeats 1,30 --baseline /work/wt_before
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARDS = 8

PASS = """
import sys, time
from tlnlp_tf.data import read_conll
start = time.perf_counter()
data = read_conll(sys.argv[1], stream=sys.argv[2] == "stream")
count = sum(1 for _ in data.to_dataset())
print(count, round(time.perf_counter() - start, 1))
"""


def main(argv=None):
    options = _parser().parse_args(argv)
    repeats = [int(n) for n in options.repeats.split(",")]
    sentences = _sentences(os.path.join(options.data, "train.txt"))
    globs = {n: _shards(options.work, sentences, n) for n in repeats}
    codes = [("streaming", ROOT)]
    if options.baseline:
        codes.append(("baseline", os.path.abspath(options.baseline)))
    fits = []
    for name, code in codes:
        for n in repeats:
            output = os.path.join(options.work, f"run-{name}-{n}")
            metrics = _common.tlnlp_fit(code, _fit_arguments(globs[n]), output)
            run = {
                "code": name,
                "repeats": n,
                "sentences": n * len(sentences),
                "peak_rss_mb": metrics["peak_rss_mb"],
                "first_step_seconds": metrics.get("first_step_seconds"),
                "wall_seconds": metrics["wall_seconds"],
            }
            print(json.dumps(run), flush=True)
            fits.append(run)
    passes = []
    for mode in ("stream", "hold"):
        for n in repeats:
            run = _pass(globs[n], mode)
            run.update(mode=mode, repeats=n, sentences=n * len(sentences))
            print(json.dumps(run), flush=True)
            passes.append(run)
    results = {"fits": fits, "passes": passes}
    _common.write_results(
        "scale_conll",
        results,
        "Tagged data at scale: CoNLL-2003 repeated into gzip shards",
        _table(fits, passes),
        _common.command("scale_conll.py", argv),
    )


def _parser():
    result = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    result.add_argument(
        "--data", default=os.path.join(ROOT, "..", "shared", "data", "conll2003")
    )
    result.add_argument("--work", default="/tmp/tlnlp-scale-conll")
    result.add_argument("--repeats", default="1,30,100")
    result.add_argument("--baseline", help="another checkout to run the fits with")
    return result


def _sentences(path):
    """The file's sentence blocks (text between blank lines), DOCSTART dropped."""
    with open(path, encoding="utf-8") as file:
        blocks = file.read().split("\n\n")
    return [b.strip("\n") for b in blocks if b.strip() and "-DOCSTART-" not in b]


def _shards(folder, sentences, repeats):
    """`repeats` copies of `sentences` in `SHARDS` gzip files (written once)."""
    target = os.path.join(folder, f"conll-{repeats}x")
    if not os.path.exists(target):
        os.makedirs(target + ".part", exist_ok=True)
        total = repeats * len(sentences)
        per_shard = -(-total // SHARDS)
        for shard in range(SHARDS):
            path = os.path.join(target + ".part", f"part-{shard}.txt.gz")
            with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as file:
                last = min(total, (shard + 1) * per_shard)
                for index in range(shard * per_shard, last):
                    file.write(sentences[index % len(sentences)] + "\n\n")
        os.replace(target + ".part", target)
    return os.path.join(target, "part-*.txt.gz")


def _fit_arguments(glob):
    return [
        "--task",
        "token-classification",
        "--train",
        glob,
        "--limit",
        "200",
        "--epochs",
        "1",
    ]


def _pass(glob, mode):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", PASS, glob, mode],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {mode} pass over {glob} failed (status {status})")
    count, seconds = out.split()
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "counted": int(count),
        "pass_seconds": float(seconds),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


def _table(fits, passes):
    rows = [
        "| run | code / mode | copies | sentences | peak RSS MB | first step s "
        "| pass s | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in fits:
        rows.append(
            f"| fit --limit 200 | {run['code']} | {run['repeats']}× "
            f"| {run['sentences']:,} | {run['peak_rss_mb']} "
            f"| {run['first_step_seconds']} | – | {run['wall_seconds']} |"
        )
    for run in passes:
        rows.append(
            f"| read + one pass | {run['mode']} | {run['repeats']}× "
            f"| {run['sentences']:,} | {run['peak_rss_mb']} | – "
            f"| {run['pass_seconds']} | {run['wall_seconds']} |"
        )
    return rows


if __name__ == "__main__":
    main()

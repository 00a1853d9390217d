"""Data at scale: `tlnlp fit --limit 200 --epochs 1` on 67k, 2M and 10M rows.

Peak RSS must not grow with the training file. The files are SST-2's
training set (67,349 rows) and the same rows repeated to 2,020,470 and
10,035,001 rows, written to `--work` (not committed). Each run is a fresh
`python -m tlnlp fit` process; its peak RSS is the kernel's (`wait4`'s
`ru_maxrss`), its time to the first training step is `first_step_seconds`
of `metrics.json` (from the start of the command's work; the Python and
TensorFlow start-up before it are in the wall time). `--baseline DIR` also
runs each file with the code of another checkout (e.g. a worktree of the
commit before streaming), in the same benchmark run.

    python benchmarks/scale.py
    python benchmarks/scale.py --sizes 67349,2020470 --baseline /work/wt_before
"""

import argparse
import json
import os

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIZES = (67_349, 2_020_470, 10_035_001)


def main(argv=None):
    options = _parser().parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",")]
    os.makedirs(options.work, exist_ok=True)
    source = os.path.join(options.data, "train.tsv")
    header, rows = _read_rows(source)
    files = {size: _training_file(options.work, header, rows, size) for size in sizes}
    codes = [("streaming", ROOT)]
    if options.baseline:
        codes.append(("baseline", os.path.abspath(options.baseline)))
    runs = []
    for name, code in codes:
        for size in sizes:
            run = _fit(
                code, files[size], os.path.join(options.work, f"run-{name}-{size}")
            )
            run.update(
                code=name,
                rows=size,
                file_mb=round(os.path.getsize(files[size]) / 2**20, 1),
            )
            print(json.dumps(run), flush=True)
            runs.append(run)
    results = {"runs": runs, "ratios": _ratios(runs, sizes)}
    _common.write_results(
        "scale",
        results,
        "Data at scale: `tlnlp fit --limit 200 --epochs 1` on growing files",
        _table(runs, results["ratios"]),
        _common.command("scale.py", argv),
    )


def _parser():
    result = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    result.add_argument(
        "--data", default=os.path.join(ROOT, "..", "shared", "data", "sst2")
    )
    result.add_argument("--work", default="/tmp/tlnlp-scale")
    result.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    result.add_argument(
        "--baseline", help="another checkout to run the same files with"
    )
    return result


def _read_rows(path):
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    return lines[0], [line for line in lines[1:] if line]


def _training_file(folder, header, rows, size):
    """A TSV of `size` rows: `rows` repeated (written once, reused)."""
    path = os.path.join(folder, f"sst2-{size}.tsv")
    if os.path.exists(path):
        return path
    block = "\n".join(rows) + "\n"
    with open(path + ".part", "w", encoding="utf-8") as file:
        file.write(header + "\n")
        for _ in range(size // len(rows)):
            file.write(block)
        rest = size % len(rows)
        if rest:
            file.write("\n".join(rows[:rest]) + "\n")
    os.replace(path + ".part", path)
    return path


def _fit(code, train, output):
    arguments = ["--train", train, "--text-column", "sentence"]
    arguments += ["--label-column", "label", "--limit", "200", "--epochs", "1"]
    metrics = _common.tlnlp_fit(code, arguments, output)
    return {
        "peak_rss_mb": metrics["peak_rss_mb"],
        "wall_seconds": metrics["wall_seconds"],
        "first_step_seconds": metrics.get("first_step_seconds"),
        "train_seconds": metrics["train_seconds"],
    }


def _ratios(runs, sizes):
    """Peak RSS of each file against the smallest one's, per code."""
    ratios = {}
    for name in sorted({run["code"] for run in runs}):
        mine = {run["rows"]: run for run in runs if run["code"] == name}
        smallest = mine[min(sizes)]["peak_rss_mb"]
        ratios[name] = {
            str(size): round(mine[size]["peak_rss_mb"] / smallest, 3) for size in sizes
        }
    return ratios


def _table(runs, ratios):
    rows = [
        "| code | rows | file MB | peak RSS MB | vs smallest file | first step s "
        "| wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ratio = ratios[run["code"]][str(run["rows"])]
        rows.append(
            f"| {run['code']} | {run['rows']:,} | {run['file_mb']} "
            f"| {run['peak_rss_mb']} | {ratio:.3f}× "
            f"| {run['first_step_seconds']} | {run['wall_seconds']} |"
        )
    return rows


if __name__ == "__main__":
    main()

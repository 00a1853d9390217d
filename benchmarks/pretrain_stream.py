"""Large-corpus pretraining: `tlnlp pretrain --steps` on 10 MB and 1 GB; kill, resume.

The corpus is generated here (not committed): IMDB reviews and SST-2
sentences from `../shared/data`, shuffled and repeated, one document per
line, into gzip shards under `--work`. Three fresh `python -m tlnlp
pretrain` processes (MiniLM, masked LM on packed blocks of `--max-length`
tokens, `--steps` steps, backup every 100):

1. `small`: a corpus of about 10 MB;
2. `large`: about `--gigabytes` GB (default 1) of text;
3. `large, killed`: the large run killed with SIGKILL once its backup of
   step 100 is written and `--kill-after` more seconds have passed, then
   the same command again, which resumes.

Each reports the resident memory after steps 10, 100 and the last
(`pretrain.json` `rss_mb`) and the kernel's peak RSS (`wait4`); the ratio
large/small of the peak is measured in the same benchmark run.

    python benchmarks/pretrain_stream.py
"""

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=1)
    parser.add_argument("--work", default="/tmp/tlnlp-pretrain-stream")
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--kill-after", type=float, default=30.0)
    args = parser.parse_args(argv)
    data = os.path.normpath(args.data)
    documents = _documents(data)
    os.makedirs(args.work, exist_ok=True)
    small = _corpus(os.path.join(args.work, "small"), documents, 10 * 2**20, 1)
    size = int(args.gigabytes * 2**30)
    large = _corpus(os.path.join(args.work, "large"), documents, size, args.shards)
    common = ["--backbone", "minilm", "--steps", str(args.steps)]
    common += ["--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    common += ["--max-length", str(args.max_length)]
    runs = {}
    for name, corpus in (("small", small), ("large", large)):
        output = os.path.join(args.work, f"out-{name}")
        shutil.rmtree(output, ignore_errors=True)
        runs[name] = _run(["--text", corpus["pattern"], *common], output)
        runs[name]["corpus"] = corpus
        print(name, runs[name], flush=True)
    output = os.path.join(args.work, "out-killed")
    shutil.rmtree(output, ignore_errors=True)
    killed = _run(["--text", large["pattern"], *common], output, args.kill_after)
    resumed = _run(["--text", large["pattern"], *common], output)
    runs["large, killed"] = {**resumed, "killed": killed, "corpus": large}
    print("large, killed", runs["large, killed"], flush=True)
    ratio = runs["large"]["peak_rss_mb"] / runs["small"]["peak_rss_mb"]
    rows = [
        "| run | corpus | documents | RSS MB at steps | peak RSS MB | steps "
        "| resumed from step | masked-LM loss before → after | train s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        rss = ", ".join(f"{step}: {mb}" for step, mb in run["rss_mb"].items())
        loss = run["masked_lm_loss"]
        rows.append(
            f"| {name} | {run['corpus']['characters'] / 2**20:,.0f} Mi characters in "
            f"{run['corpus']['shards']} gzip shard(s) | {run['corpus']['documents']:,} "
            f"| {rss} | {run['peak_rss_mb']} | {run['steps']} "
            f"| {run['resumed_from_step']} | {loss['before']:.3f} → "
            f"{loss['after']:.3f} | {run['train_seconds']} | {run['wall_seconds']} |"
        )
    killed = runs["large, killed"]["killed"]
    rows += [
        "",
        f"- Peak RSS large/small: **{ratio:.3f}×** (same steps, batch, length).",
        f"- The killed run: SIGKILL after {killed['wall_seconds']} s, its backup at "
        f"the end of epoch {killed['backed_up_epoch']} (100 steps each); the "
        "same command again resumed and finished.",
    ]
    _common.write_results(
        "pretrain_stream",
        {"runs": runs, "peak_rss_ratio_large_over_small": round(ratio, 3)},
        "Large-corpus pretraining: `tlnlp pretrain --steps`, streamed gzip shards",
        rows,
        _common.command("pretrain_stream.py", argv),
    )


def _documents(data):
    """IMDB reviews and SST-2 training sentences, one per line, no tabs."""
    documents = []
    with open(os.path.join(data, "imdb", "test_subset_2000.jsonl")) as file:
        for line in file:
            documents.append(json.loads(line)["text"])
    with open(os.path.join(data, "sst2", "train.tsv")) as file:
        next(file)
        documents += [line.split("\t")[0] for line in file]
    return [" ".join(d.split()) for d in documents if d.strip()]


def _corpus(folder, documents, size, shards):
    """Gzip shards holding `size` bytes of text, the documents reshuffled each pass."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    rng = random.Random(0)
    per_shard = -(-size // shards)
    written = count = 0
    for k in range(shards):
        path = os.path.join(folder, f"corpus-{k:02d}.txt.gz")
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as file:
            shard = 0
            while shard < per_shard:
                rng.shuffle(documents)
                block = "\n".join(documents) + "\n"
                block = block[: per_shard - shard]
                file.write(block)
                shard += len(block)
                count += block.count("\n")
        written += shard
        print(f"wrote {path}", flush=True)
    return {
        "pattern": os.path.join(folder, "corpus-*.txt.gz"),
        "characters": written,
        "documents": count,
        "shards": shards,
        "gzip_bytes": sum(
            os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
        ),
    }


def _run(arguments, output, kill_after=None):
    """One `tlnlp pretrain` process: its report, peak RSS and wall time; with
    `kill_after`, SIGKILL it that long after its first backup is written."""
    command = [sys.executable, "-m", "tlnlp", "pretrain", *arguments]
    command += ["--output", output]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    if kill_after is not None:
        metadata = os.path.join(output, "backup", "training_metadata.json")
        while not os.path.exists(metadata):
            if process.poll() is not None:
                raise SystemExit("the run ended before its first backup")
            time.sleep(1)
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        with open(metadata) as file:
            epoch = json.load(file).get("epoch")
        return {
            "wall_seconds": round(time.perf_counter() - start, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "backed_up_epoch": epoch,
        }
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status})")
    with open(os.path.join(output, "pretrain.json")) as file:
        report = json.load(file)
    report.pop("history", None)
    report["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    report["wall_seconds"] = round(wall, 1)
    return report


if __name__ == "__main__":
    main()

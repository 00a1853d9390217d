"""Summarize sweep results; CoNLL entity F1 recomputed with tl.metrics.entity_scores."""

import collections
import json
import os
import sys

import numpy as np

import tlnlp_tf as tl
from tlnlp_tf.data.conll import to_iob2

dirs = sys.argv[1:]
rows = [json.loads(l) for d in dirs for l in open(f"{d}/results.jsonl")]
preds = {}
for d in dirs:
    try:
        z = np.load(f"{d}/conll_preds.npz")
        preds.update({k: z[k] for k in z.files})
    except FileNotFoundError:
        pass
meta = json.load(open("data/meta.json"))
test = tl.data.read_conll(
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "..",
        "..",
        "shared",
        "data",
        "conll2003",
        "test.txt",
    )
)
tags = meta["tags"]
split = np.cumsum([len(s) for s in test.tags])[:-1]

print("## SST-2 (dev acc, 4000 train examples)")
groups = collections.defaultdict(list)
for r in rows:
    if r["task"] == "sst2":
        groups[
            (r.get("batch", 32), r["lr"], r["llrd"], r["head_mult"], r["epochs"])
        ].append((r["seed"], r["acc"]))
print(
    f"{'batch':>5} {'lr':>6} {'llrd':>5} {'head':>5} {'ep':>3} {'n':>3} {'mean':>7} "
    f"{'std':>7} {'min':>7} {'max':>7} {'>=.86':>6}  seeds 0-4 mean"
)
for k, v in groups.items():
    a = np.array([x for _, x in sorted(v)])
    a5 = np.array([x for s, x in sorted(v) if s < 5])
    print(
        f"{k[0]:>5} {k[1]:>6g} {k[2]:>5g} {k[3]:>5g} {k[4]:>3} {len(a):>3} "
        f"{a.mean():7.4f} {a.std():7.4f} {a.min():7.4f} {a.max():7.4f} "
        f"{(a >= 0.86).sum():>3}/{len(a)}  {a5.mean():.4f}"
    )

print("\n## CoNLL-2003 test entity F1 (tl.metrics.entity_scores)")
print(
    f"{'batch':>5} {'lr':>6} {'llrd':>5} {'ep':>3} {'seed':>4} {'F1 raw':>7} "
    f"{'F1 iob1-fix':>11} {'device':>7} {'P':>7} {'R':>7}"
)
for r in rows:
    if r["task"] != "conll":
        continue
    key = f"lr{r['lr']:g}_d{r['llrd']:g}_e{r['epochs']}_s{r['seed']}"
    if r.get("batch", 32) != 32:
        key += f"_b{r['batch']}"
    flat = preds[key]
    pred = [[tags[i] for i in s] for s in np.split(flat, split)]
    s = tl.metrics.entity_scores(test.tags, pred)
    fixed = tl.metrics.entity_scores(test.tags, [to_iob2(p, "iob1") for p in pred])
    r["f1"] = s["f1"]
    print(
        f"{r.get('batch', 32):>5} {r['lr']:>6g} {r['llrd']:>5g} {r['epochs']:>3} "
        f"{r['seed']:>4} {s['f1']:7.4f} {fixed['f1']:11.4f} "
        f"{r['f1_device']:7.4f} {s['precision']:7.4f} {s['recall']:7.4f}"
    )

print("\n## CoNLL per config (seeds pooled)")
agg = collections.defaultdict(list)
for r in rows:
    if r["task"] == "conll":
        agg[(r["lr"], r["llrd"], r["epochs"])].append(r["f1"])
for k, v in sorted(agg.items()):
    print(
        f"lr {k[0]:g} llrd {k[1]:g} ep {k[2]}: n={len(v)} mean {np.mean(v):.4f} min "
        f"{np.min(v):.4f} max {np.max(v):.4f}"
    )

"""Token-task defaults beyond CoNLL: peak rate and layer decay on four data sets.

    python benchmarks/token_defaults.py --target conll2003 --configs 2e-4/0.9,5e-5/none
    python benchmarks/token_defaults.py --target resume --configs auto
    python benchmarks/token_defaults.py --target srl --limit 300 --epochs 1  # smoke

A MiniLM `TokenClassifier` (`RoleLabeler` for `srl`) trains on a seeded sample
of `--limit` training units (3,400 by default: the size of the noisy English
NER set of issue 16, item 5) for `--epochs` epochs at batch 32, once per
`--configs` entry: `PEAK/DECAY` (`2e-4/0.9` is the CoNLL-tuned default of
before, `5e-5/none` plain AdamW at 5e-5 without layer decay) or `auto` (what
`compile()` chooses now, from the data). Each row gives the test F1 (entity F1
with CoNLL semantics, SRL argument F1 with `V` excluded) of the argmax and of
the allowed-path decoding, and the data's profile
(`tlnlp_tf.tasks.token_data_profile`): entity density, sub-words per word,
[UNK] share. Rows are kept across runs (keyed by target, size, epochs, seed
and config), so targets and configs can run one at a time.
"""

import datetime
import json
import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.tasks.token_data_profile import token_data_profile  # noqa: E402

TARGETS = {
    "conll2003": ("conll2003", "train.txt", "test.txt"),
    "resume": ("ner_zh_resume", "train.ner", "test.ner"),
    "msra": ("ner_zh_msra", "train.ner", "test.ner"),
    "srl": ("srl_ewt_propbank", "train.tsv", "test.tsv"),
}
NAME = "token_defaults"
SPARSE = " (drawn sparse)"


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=3)
    parser.set_defaults(limit=3400)
    parser.add_argument("--target", choices=sorted(TARGETS), default="conll2003")
    parser.add_argument("--configs", default="2e-4/0.9,5e-5/none")
    parser.add_argument("--test-size", type=int, default=1500)
    parser.add_argument(
        "--entity-density",
        type=float,
        help="NER targets: draw the sample to this share of words in entities "
        "(sentences without entities make up the rest), e.g. 0.055",
    )
    args = parser.parse_args(argv)
    folder, train_file, test_file = TARGETS[args.target]
    data = os.path.join(args.data, folder)
    read = tl.data.read_srl if args.target == "srl" else tl.data.read_conll
    full = read(os.path.join(data, train_file))
    if args.entity_density:
        train = sparse_sample(full, args.limit, args.entity_density, args.seed)
    else:
        train = full.sample(args.limit, args.seed)
    test = read(os.path.join(data, test_file))
    test = test.sample(args.test_size, args.seed)
    runs = []
    for config in args.configs.split(","):
        keras.utils.set_random_seed(args.seed)
        runs.append(run(config, train, test, full, args))
        runs[-1].update(
            command=_common.command("token_defaults.py", argv),
            date=datetime.date.today().isoformat(),
        )
        print(json.dumps(runs[-1]), flush=True)
        keras.backend.clear_session()
    runs = saved_runs(runs)
    _common.write_results(
        NAME,
        {"runs": runs},
        "Token-task defaults beyond CoNLL: MiniLM, peak rate and layer decay "
        "on four data sets",
        table(runs),
        _common.command("token_defaults.py", argv)
        + " (kept rows: their own commands, in the JSON)",
    )


def sparse_sample(full, size, density, seed):
    """`size` sentences whose share of words inside entities is about `density`:
    a seeded draw of sentences with entities, the rest without any."""
    rng = np.random.default_rng(seed)
    with_entities = [i for i, t in enumerate(full.tags) if set(t) != {"O"}]
    without = [i for i, t in enumerate(full.tags) if set(t) == {"O"}]

    def mean_words(ids):
        return np.mean([len(full.words[i]) for i in ids])

    inside = np.mean([sum(t != "O" for t in full.tags[i]) for i in with_entities])
    # density = inside * k / (words_e * k + words_o * (size - k)), solved for k.
    words_e, words_o = mean_words(with_entities), mean_words(without)
    k = int(
        round(
            density * words_o * size / (inside - density * words_e + density * words_o)
        )
    )
    if size - k > len(without):
        raise SystemExit(
            f"--entity-density {density}: needs {size - k} sentences without "
            f"entities, the training split has {len(without)}"
        )
    chosen = list(rng.choice(with_entities, k, replace=False))
    chosen += list(rng.choice(without, size - k, replace=False))
    rng.shuffle(chosen)
    return tl.data.TaggedSentences(
        [full.words[i] for i in chosen],
        [full.tags[i] for i in chosen],
        source=f"{full.source} (density {density})",
    )


def run(config, train, test, full, args):
    srl = args.target == "srl"
    task = tl.RoleLabeler if srl else tl.TokenClassifier
    if srl:  # every role of the split: a rare one may miss the sample
        names = set(full.tag_names()) | set(test.tag_names())
        tags = ["O"] + sorted(names - {"O"}, key=lambda t: (t[2:], t[0]))
    else:
        tags = full.tag_names()
        test = test.check_tags(tags)
    model = task.from_backbone("minilm", tags=tags)
    decay = None
    if config != "auto":
        peak, decay = config.split("/")
        decay = None if decay == "none" else float(decay)
        model.compile(learning_rate=float(peak), layer_decay=decay)
    profile = token_data_profile(model.preprocessor.tokenizer, train.words, train.tags)
    data = train.to_dataset().shuffle(len(train), seed=args.seed)
    data = tl.data.batch_by_length(data, args.batch_size, seed=args.seed)
    start = time.perf_counter()
    history = model.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    chosen = getattr(model, "rates_choice", None)
    f1 = {}
    for decoding in ("argmax", "allowed"):
        model.decoding = decoding
        if srl:
            f1[decoding] = model.score(test)["f1"]
        else:
            predicted, _ = model.predict_tags(test.words)
            f1[decoding] = tl.metrics.entity_scores(test.tags, predicted)["f1"]
    return {
        "target": args.target,
        "train_units": len(train),
        "entity_density_asked": args.entity_density,
        "test_units": len(test),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "config": config,
        "peak": float(model.optimizer._learning_rate.peak),
        "layer_decay": (chosen or {}).get("layer_decay", decay),
        "chosen": chosen and chosen["reason"],
        "updates": int(model.optimizer.iterations.numpy()),
        "profile": profile,
        "f1_argmax": round(f1["argmax"], 4),
        "f1_allowed": round(f1["allowed"], 4),
        "final_loss": round(float(history.history["loss"][-1]), 4),
        "train_seconds": round(seconds, 1),
    }


def saved_runs(runs):
    """These runs and the saved ones of other keys (target, size, epochs, seed,
    config)."""
    saved = _common.saved_runs(NAME)

    def key(r):
        return (
            r["target"],
            r["train_units"],
            r.get("entity_density_asked"),
            r["epochs"],
            r.get("batch_size", 32),
            r["seed"],
            r["config"],
        )

    new = {key(r) for r in runs}
    merged = [r for r in saved if key(r) not in new] + runs
    return sorted(merged, key=lambda r: str(key(r)))


def table(runs):
    rows = [
        "| target | train units | epochs | batch | seed | updates | entity density "
        "| sub-words / word | [UNK] | config | peak (chosen) | test F1 argmax "
        "| test F1 allowed path | train s | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        p = r["profile"]
        rows.append(
            f"| {r['target']}{SPARSE if r.get('entity_density_asked') else ''} "
            f"| {r['train_units']:,} | {r['epochs']} | {r.get('batch_size', 32)} "
            f"| {r['seed']} | {r['updates']} "
            f"| {p['entity_density']:.3f} | {p['subwords_per_word']:.2f} "
            f"| {p['unknown_share']:.2f} | {r['config']} | {r['peak']:g} "
            f"| {r['f1_argmax']:.4f} | {r['f1_allowed']:.4f} "
            f"| {r['train_seconds']:.0f} "
            f"| {r['date']} |"
        )
    return rows


if __name__ == "__main__":
    main()

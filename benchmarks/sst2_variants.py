"""SST-2, 4,000 examples x 2 epochs: fine-tuning variants, judged on held-out
training sentences.

    python benchmarks/sst2_variants.py attn=backbone:0 attn=0:0 attn=0,ema=0.99:0 \\
        attn=0,lp=3:0 attn=0,lp=3,ema=0.99:0 attn=0,batching=random:0

Each argument is `OPTIONS:SEED`, OPTIONS a comma list of `key=value`:
`attn` (attention dropout: a rate, or `backbone` for MiniLM's own 0.1),
`ema` (keep an exponential moving average of the weights with this momentum;
the average replaces the weights at the end of `fit`), `lp` (train the head
alone on frozen features for this many epochs first: LP-FT), `batching`
(`length`, the default for 4,000 examples at batch 16, or `random`), `lr`.
Every run fine-tunes MiniLM on the same 4,000-sentence sample of SST-2 train
(sample seed 0, as `benchmarks/sst2.py`), batch 16, 2 epochs, and prints one
JSON line: accuracy on 2,000 other training sentences of at least 8 words
(`held_out`, what a choice should be made on) and on the dev set (`dev`).
SEED seeds the shuffle, dropout and head initialisation.
"""

import json
import os
import random
import sys
import time

import keras

import tlnlp_tf as tl

DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "sst2"
)


def main(argv):
    full = tl.data.load_table(os.path.join(DATA, "train.tsv"), "sentence", "label")
    train = full.sample(4000, seed=0)
    dev = tl.data.load_table(os.path.join(DATA, "dev.tsv"), "sentence", "label")
    seen = set(train.texts)
    held = [
        i
        for i, text in enumerate(full.texts)
        if text not in seen and len(text.split()) >= 8
    ]
    random.Random(1).shuffle(held)
    held = held[:2000]
    held_out = tl.data.from_lists(
        [full.texts[i] for i in held], [full.labels[i] for i in held]
    )
    for argument in argv:
        options, seed = argument.rsplit(":", 1)
        print(
            "RESULT",
            json.dumps(run(train, dev, held_out, options, int(seed))),
            flush=True,
        )


def run(train, dev, held_out, options, seed):
    opts = dict(pair.split("=") for pair in options.split(",") if "=" in pair)
    attention = opts.get("attn", "0")
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = tl.TextClassifier.from_backbone(
        "minilm",
        labels=train.label_names(),
        attention_dropout=None if attention == "backbone" else float(attention),
    )
    data = tl.data.training_batches(
        model.tokenize_once(train.to_dataset()),
        16,
        opts.get("batching", "auto"),
        seed=seed,
    )
    if int(opts.get("lp", 0)):
        model.set_freeze("all")
        model.fit(data, epochs=int(opts["lp"]), verbose=0)
        model.set_freeze("none")
    optimizer = tl.training.fine_tuning_adamw(float(opts.get("lr", 1e-4)))
    if float(opts.get("ema", 0)):
        optimizer.use_ema, optimizer.ema_momentum = True, float(opts["ema"])
    model.compile(optimizer=optimizer)
    model.fit(data, epochs=2, verbose=0)
    seconds = time.perf_counter() - start
    scores = {
        name: model.evaluate(examples.batch(64), return_dict=True, verbose=0)[
            "accuracy"
        ]
        for name, examples in (("held_out", held_out), ("dev", dev.to_dataset()))
    }
    return {
        "options": options,
        "seed": seed,
        **{k: round(float(v), 4) for k, v in scores.items()},
        "seconds": round(seconds, 1),
    }


if __name__ == "__main__":
    main(sys.argv[1:])

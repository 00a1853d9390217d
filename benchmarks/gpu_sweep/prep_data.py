"""Pre-tokenize SST-2 and CoNLL-2003 with the project's own preprocessors (TF)."""

import json
import os

import numpy as np
import tensorflow as tf

import tlnlp_tf as tl

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
D = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"
)  # run from .gpu/

# ---- SST-2
train = tl.data.load_table(f"{D}/sst2/train.tsv", "sentence", "label").sample(
    4000, seed=0
)
dev = tl.data.load_table(f"{D}/sst2/dev.tsv", "sentence", "label")
labels = train.label_names()
model = tl.TextClassifier.from_backbone("minilm", labels=labels)
pre = model.preprocessor
pre.sequence_length = 512


def lengths(texts):
    x = pre(x=tf.constant(texts))
    return np.asarray(x["padding_mask"]).sum(1)


lt, ld = lengths(train.texts), lengths(dev.texts)
print(
    "sst2 labels",
    labels,
    "max len train",
    lt.max(),
    "dev",
    ld.max(),
    ">72:",
    (lt > 72).sum(),
    (ld > 72).sum(),
)
pre.sequence_length = 72
arrays = {}
for name, ex in (("train", train), ("dev", dev)):
    x = pre(x=tf.constant(ex.texts))
    ids = np.asarray(x["token_ids"])
    mask = np.asarray(x["padding_mask"]).astype(bool)
    seg = np.asarray(x["segment_ids"])
    assert (seg == 0).all() and ((ids != 0) == mask).all()
    arrays[f"{name}_ids"] = ids.astype(np.int16)
    arrays[f"{name}_y"] = np.array([labels.index(l) for l in ex.labels], np.int8)
np.savez_compressed(f"{OUT}/sst2.npz", **arrays)
print(
    {k: v.shape for k, v in arrays.items()}, "train pos frac", arrays["train_y"].mean()
)

# ---- CoNLL-2003
ctrain = tl.data.read_conll(f"{D}/conll2003/train.txt")
ctest = tl.data.read_conll(f"{D}/conll2003/test.txt")
tags = ctrain.tag_names()
tagger = tl.TokenClassifier.from_backbone("minilm", tags=tags)
tp = tagger.preprocessor


def encode(ts, L):
    tp.sequence_length = L
    sents = tf.constant([" ".join(w) for w in ts.words])
    y = tf.ragged.constant(
        [[tags.index(t) for t in s] for s in ts.tags], dtype=tf.int32
    )
    f, t, w = tp(x=sents, y=y)
    return (
        np.asarray(f["token_ids"]),
        np.asarray(f["padding_mask"]).astype(bool),
        np.asarray(t),
        np.asarray(w),
    )


res = {}
for name, ts in (("train", ctrain), ("test", ctest)):
    ids, mask, t, w = encode(ts, 512)
    n = mask.sum(1)
    print(
        name,
        len(ts),
        "longest",
        n.max(),
        ">128:",
        (n > 128).sum(),
        ">64:",
        (n > 64).sum(),
    )
    L = int(n.max())
    if L > 256 and name == "train":
        print("train longer than 256: using 128 for training")
        L = 128
    ids, mask, t, w = encode(ts, L)
    assert (w.sum(1) == np.array([len(s) for s in ts.words])).all() or name == "train"
    # checks: one weight per word; tags at weighted positions equal gold
    nw = np.array([len(s) for s in ts.words])
    print(name, "L", L, "words with weight", int(w.sum()), "of", int(nw.sum()))
    gold = np.concatenate([[tags.index(x) for x in s] for s in ts.tags])
    flat = t[w > 0]
    if name == "test":
        assert (flat == gold).all()
    res[f"{name}_ids"] = ids.astype(np.int16)
    res[f"{name}_tags"] = t.astype(np.int8)
    res[f"{name}_w"] = w.astype(np.int8)
    res[f"{name}_nwords"] = nw.astype(np.int32)
np.savez_compressed(f"{OUT}/conll.npz", **res)
json.dump({"tags": tags, "labels": labels}, open(f"{OUT}/meta.json", "w"))
print({k: v.shape for k, v in res.items()}, tags)

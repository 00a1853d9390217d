"""Exported folders run by Hugging Face `transformers`: the same tokens and logits?

    python benchmarks/export_parity.py --peer-python .peer/bin/python   # MiniLM (BERT)
    python benchmarks/export_parity.py --peer-python .peer/bin/python \\
        --backbone models/all-mpnet-base-v2   # MPNet: benchmarks/get_mpnet.py

`tl.export.export_huggingface` writes Hugging Face folders without PyTorch,
and the tests check them against NumPy transcriptions of Hugging Face's
models; this checks them against `transformers` itself. A `TextClassifier`
with `pooling="pooled"` is built on `--backbone`, its head perturbed (seed
0, as if fine-tuned), exported, and loaded by `transformers` in a Python of
its own (`python -m venv .peer && .peer/bin/pip install torch
sentence-transformers`) with `AutoTokenizer` and
`AutoModelForSequenceClassification`; a mean-pooled `TextClassifier` on the
same backbone (a sentence encoder, as `freeze="setfit"` trains one) is
exported too and loaded with `SentenceTransformer`. Both sides
run the first `--count` SST-2 dev sentences and `--long` IMDB reviews (cut
at `--max-length` tokens) in batches of 16 padded to their longest text.
Reported: the classes `transformers` picked, the share of texts with
identical token ids, and the largest absolute differences of the logits, of
the masked means of the last hidden states, and of the sentence embeddings. Writes
`benchmarks/results/export_parity[_<backbone>].json` and its RESULTS.md section.
"""

import json
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import keras  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.export import export_huggingface  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 16


def ours(texts, folder, sentence_folder, args):
    """Export a perturbed pooled classifier to `folder` and a mean-pooled one
    to `sentence_folder`; the ids, logits and hidden-state means."""
    backbone, preprocessor = tl.load_backbone(args.backbone)
    model = tl.TextClassifier(
        backbone, ["negative", "positive"], preprocessor=preprocessor, pooling="pooled"
    )
    rng = np.random.default_rng(0)
    for weight in model.head.weights:
        value = keras.ops.convert_to_numpy(weight.value)
        weight.assign(value + rng.normal(0, 0.1, value.shape).astype(value.dtype))
    export_huggingface(model, folder)
    encoder = tl.TextClassifier(
        backbone, ["negative", "positive"], preprocessor=preprocessor, pooling="mean"
    )
    with warnings.catch_warnings():  # its head is not exported: expected
        warnings.simplefilter("ignore", UserWarning)
        export_huggingface(encoder, sentence_folder)
    preprocessor.sequence_length = args.max_length
    ids, logits, means = [], [], []
    for start in range(0, len(texts), BATCH):
        inputs = preprocessor(texts[start : start + BATCH])
        longest = int(np.asarray(inputs["padding_mask"]).sum(1).max())
        inputs = {k: np.asarray(v)[:, :longest] for k, v in inputs.items()}
        logits.append(np.asarray(model(inputs, training=False)))
        hidden = np.asarray(backbone(inputs, training=False)["sequence_output"])
        for row, keep in enumerate(inputs["padding_mask"].astype(bool)):
            ids.append(inputs["token_ids"][row][keep].tolist())
            means.append(hidden[row][keep].mean(0))
    return ids, np.concatenate(logits), np.stack(means)


def peer(texts, folder, sentence_folder, args, work):
    job = {
        "folder": folder,
        "sentence_folder": sentence_folder,
        "texts": texts,
        "max_length": args.max_length,
        "batch_size": BATCH,
        "output": os.path.join(work, "peer.npz"),
    }
    classes = _common.run_peer_worker(
        args.peer_python, "_export_parity_worker.py", job, work
    )
    saved = np.load(job["output"])
    ids = json.loads(str(saved["ids"]))
    return ids, saved["logits"], saved["means"], saved["embeddings"], classes


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    parser.set_defaults(data=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--long", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args(argv)
    texts = _common.parity_texts(args.data, args.count, args.long)
    with tempfile.TemporaryDirectory() as work:
        folder = os.path.join(work, "exported")
        sentence_folder = os.path.join(work, "sentence")
        my_ids, my_logits, my_means = ours(texts, folder, sentence_folder, args)
        their_ids, their_logits, their_means, embeddings, classes = peer(
            texts, folder, sentence_folder, args, work
        )
    same = float(np.mean([a == b for a, b in zip(my_ids, their_ids)]))
    results = {
        "backbone": args.backbone,
        "texts": len(texts),
        "long_texts": args.long,
        "max_length": args.max_length,
        "transformers_classes": classes,
        "identical_token_ids": round(same, 4),
        "max_abs_logit_difference": float(np.abs(my_logits - their_logits).max()),
        "max_abs_hidden_mean_difference": float(np.abs(my_means - their_means).max()),
        "max_abs_sentence_embedding_difference": float(
            np.abs(my_means - embeddings).max()
        ),
        "max_abs_logit": float(np.abs(my_logits).max()),
    }
    rows = [
        "| backbone | transformers loads | texts | identical token ids "
        "| max abs logit difference | max abs hidden-state difference "
        "| sentence-transformers loads | max abs embedding difference |",
        "|---|---|---|---|---|---|---|---|",
        f"| {args.backbone} | {classes['model']}, {classes['tokenizer']} "
        f"| {len(texts)} ({args.long} long) | {same:.2%} "
        f"| {results['max_abs_logit_difference']:.2e} "
        f"| {results['max_abs_hidden_mean_difference']:.2e} "
        f"| {classes['sentence_transformers']} "
        f"| {results['max_abs_sentence_embedding_difference']:.2e} |",
    ]
    name = _common.backbone_result_name("export_parity", args.backbone)
    _common.write_results(
        name,
        results,
        "Hugging Face export, run by transformers: "
        + os.path.basename(os.path.normpath(args.backbone)),
        rows,
        _common.command("export_parity.py", argv),
    )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

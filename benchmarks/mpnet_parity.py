"""tlnlp_tf's MPNet against sentence-transformers: same texts, same embeddings?

    python benchmarks/mpnet_parity.py --peer-python .peer/bin/python \\
        --backbone models/all-mpnet-base-v2   # benchmarks/get_mpnet.py

keras-hub has no MPNet; `tlnlp_tf.backbones.mpnet_checkpoint` converts the
Hugging Face folder itself, so this checks the conversion against the
reference: sentence-transformers (PyTorch, in a Python of its own: `python -m
venv .peer && .peer/bin/pip install sentence-transformers`) encodes the first
`--count` SST-2 dev sentences and `--long` longer texts (IMDB reviews, cut at
the model's 384-token limit, where the relative-position buckets reach
their clamped range); tlnlp_tf encodes the same texts with `tl.load_backbone`
and mean pooling, L2-normalised as the sentence-transformers model's last
module does. Reported: the share of texts with identical token ids, the
largest absolute difference and the smallest cosine between the two sides'
embeddings, and each side's encoding time (batch 32 in the given order, each
batch padded to its longest text; the ratio in the same run; tlnlp_tf calls
the backbone eagerly, batch by batch). Writes
`benchmarks/results/mpnet_parity.json` and its RESULTS.md section.
"""

import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LENGTH = 384


def ours(texts, folder, threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    backbone, preprocessor = tl.load_backbone(folder)
    preprocessor.sequence_length = MAX_LENGTH

    def encode(batch):
        # Padded to the batch's longest text, as sentence-transformers pads.
        inputs = preprocessor(batch)
        longest = int(np.asarray(inputs["padding_mask"]).sum(1).max())
        inputs = {key: value[:, :longest] for key, value in inputs.items()}
        sequence = np.asarray(backbone(inputs)["sequence_output"])
        mask = np.asarray(inputs["padding_mask"])[..., None].astype("float32")
        return (sequence * mask).sum(1) / mask.sum(1)

    ids = []
    for start in range(0, len(texts), 32):
        inputs = preprocessor(texts[start : start + 32])
        mask = np.asarray(inputs["padding_mask"])
        tokens = np.asarray(inputs["token_ids"])
        ids += [row[m].tolist() for row, m in zip(tokens, mask)]
    encode(texts[:8])  # warm-up
    begin = time.perf_counter()
    vectors = []
    for start in range(0, len(texts), 32):
        vectors.append(encode(texts[start : start + 32]))
    seconds = time.perf_counter() - begin
    vectors = np.concatenate(vectors)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), ids, seconds


def peer(texts, folder, args):
    with tempfile.TemporaryDirectory() as work:
        job = {
            "model": folder,
            "texts": texts,
            "max_length": MAX_LENGTH,
            "threads": args.threads,
            "batch_size": 32,
            "output": os.path.join(work, "peer.npy"),
        }
        result = _common.run_peer_worker(
            args.peer_python, "_mpnet_parity_worker.py", job, work
        )
        with open(job["output"] + ".ids.json", encoding="utf-8") as file:
            ids = json.load(file)
        return np.load(job["output"]), ids, result["encode_seconds"]


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    parser.set_defaults(data=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--backbone", required=True, help="the MPNet folder")
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--long", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    folder = tl.backbones.resolve_spec(args.backbone)
    texts = _common.parity_texts(args.data, args.count, args.long)
    theirs, their_ids, their_seconds = peer(texts, folder, args)
    mine, my_ids, my_seconds = ours(texts, folder, args.threads)
    cosine = np.sum(mine * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    results = {
        "backbone": args.backbone,
        "texts": len(texts),
        "long_texts": args.long,
        "identical_token_ids": round(
            float(np.mean([a == b for a, b in zip(my_ids, their_ids)])), 4
        ),
        "max_abs_difference": float(np.abs(mine - theirs).max()),
        "min_cosine": float(cosine.min()),
        "encode_seconds": {
            "tlnlp": round(my_seconds, 2),
            "sentence_transformers": their_seconds,
        },
    }
    rows = [
        "| texts | identical token ids | max abs difference | min cosine "
        "| encode s, tlnlp_tf | encode s, sentence-transformers | ratio |",
        "|---|---|---|---|---|---|---|",
        f"| {len(texts)} ({args.long} long) | {results['identical_token_ids']:.2%} "
        f"| {results['max_abs_difference']:.2e} | {results['min_cosine']:.6f} "
        f"| {my_seconds:.1f} | {their_seconds:.1f} "
        f"| {my_seconds / their_seconds:.2f} |",
    ]
    _common.write_results(
        "mpnet_parity",
        results,
        f"MPNet against sentence-transformers: {os.path.basename(folder)}",
        rows,
        _common.command("mpnet_parity.py", argv),
    )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""The peer side of `mpnet_parity.py`: sentence-transformers (PyTorch) encodes texts.

Runs in a separate Python with `sentence-transformers` installed; it does not
import tlnlp_tf. Reads a JSON job `{model, texts, max_length, threads,
batch_size, output}` from the file named by its one argument, saves the
embeddings (`output`, .npy) and the token ids' lists next to them, and prints
one JSON line `{encode_seconds}`.

    .peer/bin/python benchmarks/_mpnet_parity_worker.py job.json
"""

import json
import sys
import time


def main(path):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    with open(path, encoding="utf-8") as file:
        job = json.load(file)
    torch.set_num_threads(job["threads"])
    model = SentenceTransformer(job["model"], device="cpu")
    model.max_seq_length = job["max_length"]
    ids = model.tokenizer(job["texts"], truncation=True, max_length=job["max_length"])[
        "input_ids"
    ]
    model.encode(job["texts"][:8])  # warm-up
    start = time.perf_counter()
    embeddings = model.encode(job["texts"], batch_size=job["batch_size"])
    seconds = time.perf_counter() - start
    np.save(job["output"], embeddings)
    with open(job["output"] + ".ids.json", "w", encoding="utf-8") as file:
        json.dump(ids, file)
    print(json.dumps({"encode_seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main(sys.argv[1])

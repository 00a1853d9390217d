"""The peer side of `export_parity.py`: `transformers` runs an exported folder.

Runs in a separate Python with `transformers` and `torch` installed; it does
not import tlnlp_tf. Reads a JSON job `{folder, sentence_folder, texts,
max_length, batch_size, output}` from the file named by its one argument,
loads `folder` with `AutoTokenizer` and `AutoModelForSequenceClassification`,
and `sentence_folder` with `sentence_transformers.SentenceTransformer`; saves
(`output`, .npz) each text's token ids, logits, masked mean of the last
hidden states and sentence embedding; prints one JSON line with the classes
it loaded.

    .peer/bin/python benchmarks/_export_parity_worker.py job.json
"""

import json
import sys


def main(path):
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers import AutoTokenizer

    with open(path, encoding="utf-8") as file:
        job = json.load(file)
    tokenizer = AutoTokenizer.from_pretrained(job["folder"])
    model = AutoModelForSequenceClassification.from_pretrained(job["folder"]).eval()
    ids, logits, means = [], [], []
    texts, size = job["texts"], job["batch_size"]
    for start in range(0, len(texts), size):
        batch = tokenizer(
            texts[start : start + size],
            padding="longest",
            truncation=True,
            max_length=job["max_length"],
            return_tensors="pt",
        )
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True)
        mask = batch["attention_mask"].numpy().astype(bool)
        hidden = out.hidden_states[-1].numpy()
        for row, keep in enumerate(mask):
            ids.append(batch["input_ids"][row].numpy()[keep].tolist())
            means.append(hidden[row][keep].mean(0))
        logits.append(out.logits.numpy())
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(job["sentence_folder"], device="cpu")
    encoder.max_seq_length = job["max_length"]
    embeddings = encoder.encode(texts, batch_size=size, convert_to_numpy=True)
    np.savez(
        job["output"],
        logits=np.concatenate(logits),
        means=np.stack(means),
        embeddings=embeddings,
        ids=np.array(json.dumps(ids)),
    )
    modules = [type(module).__name__ for module in encoder]
    print(
        json.dumps(
            {
                "tokenizer": type(tokenizer).__name__,
                "model": type(model).__name__,
                "sentence_transformers": "+".join(modules),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])

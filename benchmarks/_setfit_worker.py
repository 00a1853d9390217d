"""The peer side of `setfit_peer.py`: Hugging Face's `setfit` (PyTorch) on one draw.

Runs in a separate Python that has `setfit` (and PyTorch) installed; it does
not import tlnlp_tf. Reads a JSON job `{model, texts, labels, dev_texts,
dev_labels, iterations, learning_rate, seed, threads}` from the file named
by its one argument and prints one JSON line `{accuracy, train_seconds}`.

    .peer/bin/python benchmarks/_setfit_worker.py job.json
"""

import json
import shutil
import sys
import tempfile
import time


def main(path):
    import torch
    from datasets import Dataset
    from setfit import SetFitModel
    from setfit import Trainer
    from setfit import TrainingArguments

    with open(path, encoding="utf-8") as file:
        job = json.load(file)
    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    model = SetFitModel.from_pretrained(job["model"])
    # setfit writes checkpoints under `output_dir` (default ./checkpoints).
    output = tempfile.mkdtemp(prefix="setfit_peer_")
    arguments = TrainingArguments(
        output_dir=output,
        batch_size=16,
        num_iterations=job["iterations"],
        num_epochs=1,
        body_learning_rate=job["learning_rate"],
        seed=job["seed"],
        report_to="none",
    )
    train = Dataset.from_dict({"text": job["texts"], "label": job["labels"]})
    trainer = Trainer(model=model, args=arguments, train_dataset=train)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    shutil.rmtree(output, ignore_errors=True)
    predicted = [int(p) for p in model.predict(job["dev_texts"])]
    correct = sum(p == t for p, t in zip(predicted, job["dev_labels"]))
    print(
        json.dumps(
            {
                "accuracy": correct / len(predicted),
                "train_seconds": round(seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])

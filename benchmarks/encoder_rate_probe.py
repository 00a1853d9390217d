"""Does a warm-started encoder-decoder read its source? The encoder's rate decides.

    python benchmarks/encoder_rate_probe.py --steps 200 --settings 1,0.1,frozen

DialogSum bert2bert on all-MiniLM-L6-v2 (`tl.tasks.EncoderDecoderLM`), the
same seeded training pairs for each setting, peak rate `--learning-rate`
(the library's AdamW: 10% warmup, linear decay). Settings: the encoder's
rate multiplier (`compile(encoder_rate=...)`: `1` is one rate for all, `0.1`
the library's default for a warm-started encoder) or `frozen` (the encoder
does not train). Every `steps / 8` steps, on 16 test dialogues:

- `loss` and `loss_shifted`: teacher-forced loss of the references with
  their own dialogues, and with each dialogue moved to the next pair. The
  gap is what the decoder takes from the source (0: it ignores it).
- `encoder_spread_tokens` / `encoder_spread_dialogues`: the standard
  deviation of the encoder's output across the tokens of a dialogue and
  across the dialogues' mean vectors (about 0.23 and 0.08 at the start); a
  collapsed encoder gives one constant vector (about 0).

Writes `benchmarks/results/encoder_rate_probe.json` and its RESULTS.md
section unless `--no-markdown`.
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import generation  # noqa: E402

from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "summarization_dialogsum", epochs=1)
    parser.set_defaults(batch_size=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--settings", default="1,0.1,frozen")
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--source-length", type=int, default=128)
    parser.add_argument("--target-length", type=int, default=48)
    parser.add_argument("--no-markdown", action="store_true")
    args = parser.parse_args(argv)
    train = generation.read_pairs(os.path.join(args.data, "train.jsonl"))
    test = generation.read_pairs(os.path.join(args.data, "test.jsonl"))[:16]
    pairs = generation.sample(train, args.steps * args.batch_size, args.seed)
    runs = [probe(setting, pairs, test, args) for setting in args.settings.split(",")]
    results = {
        "backbone": "minilm",
        "variant": "bert2bert",
        "steps": args.steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "source_length": args.source_length,
        "target_length": args.target_length,
        "seed": args.seed,
        "runs": runs,
    }
    rows = [
        "| encoder | step | loss | loss, shifted sources | gap "
        "| spread across tokens | across dialogues |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for point in run["trace"]:
            if point["step"] in (0, run["trace"][1]["step"], args.steps):
                rows.append(
                    f"| {run['setting']} | {point['step']} | {point['loss']:.4f} "
                    f"| {point['loss_shifted']:.4f} "
                    f"| {point['loss_shifted'] - point['loss']:.4f} "
                    f"| {point['encoder_spread_tokens']:.4f} "
                    f"| {point['encoder_spread_dialogues']:.4f} |"
                )
    title = (
        f"Encoder rate and conditioning, DialogSum bert2bert, {args.steps} steps "
        f"of {args.batch_size}, peak {args.learning_rate:g}"
    )
    command = _common.command("encoder_rate_probe.py", argv)
    if args.no_markdown:
        generation.write_json("encoder_rate_probe", results, command)
    else:
        _common.write_results("encoder_rate_probe", results, title, rows, command)
    print("\n".join(rows))


def probe(setting, pairs, test, args):
    """Train one setting; the conditioning trace every `steps / 8` steps."""
    keras.utils.set_random_seed(args.seed)
    frozen = setting == "frozen"
    model = EncoderDecoderLM.from_backbone(
        "minilm",
        variant="bert2bert",
        source_length=args.source_length,
        target_length=args.target_length,
        freeze={"encoder": "all" if frozen else "none"},
    )
    model.compile(
        learning_rate=args.learning_rate,
        encoder_rate="auto" if frozen else float(setting),
    )
    sources = [source for source, _, _ in test]
    references = [target for _, target, _ in test]
    inputs, labels, weights = model.preprocess_samples(sources, references)
    shifted = dict(inputs)
    for key in ("encoder_token_ids", "encoder_padding_mask"):
        shifted[key] = np.roll(keras.ops.convert_to_numpy(inputs[key]), 1, axis=0)
    weights = keras.ops.convert_to_numpy(weights)

    def loss(features):
        logits = model(features, training=False)
        tokens = keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )
        return float(
            np.sum(keras.ops.convert_to_numpy(tokens) * weights) / weights.sum()
        )

    trace = []

    def measure(step):
        encoded = keras.ops.convert_to_numpy(
            model.encode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])
        )
        trace.append(
            {
                "step": step,
                "loss": round(loss(inputs), 4),
                "loss_shifted": round(loss(shifted), 4),
                "encoder_spread_tokens": round(float(encoded.std(axis=1).mean()), 4),
                "encoder_spread_dialogues": round(
                    float(encoded.mean(axis=1).std(axis=0).mean()), 4
                ),
            }
        )
        print(setting, trace[-1], flush=True)

    every = max(1, args.steps // 8)

    class Trace(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % every == 0 or batch + 1 == args.steps:
                measure(batch + 1)

    measure(0)
    model.fit(
        [source for source, _ in pairs],
        [target for _, target in pairs],
        batch_size=args.batch_size,
        epochs=1,
        shuffle=False,
        callbacks=[Trace()],
        verbose=0,
    )
    return {"setting": setting, "trace": trace}


if __name__ == "__main__":
    main()

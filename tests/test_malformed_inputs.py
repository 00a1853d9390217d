"""Every user error is one line and exit 2; the readers raise `tlnlp_tf` errors.

A sweep of malformed inputs through every command that reads a user's file
(`tlnlp fit` for each task kind and `--task multi`, `evaluate`, `predict`,
`score-sources`, `pretrain`), run in-process: each error must come before any
training starts, so no case trains. The same files through the Python readers
raise `DataError`, never `KeyError`, `IndexError`, `UnicodeDecodeError` or a
TensorFlow error. Awkward but valid files (a UTF-8 BOM, CRLF line endings,
quoted CSV fields holding commas and line breaks) simply work.
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli import main
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

# Cases waiting on a change outside the data layer (requested from its owner).
# Cases whose fix is pending, by name, with the reason (an xfail); none now.
PENDING = {}

TRAIN = "".join(
    f"the film was very {word} .\t{label}\n"
    for word, label in [("good", "pos"), ("bad", "neg")] * 4
)
NER = "Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n\nthe O\nfilm O\n"
CONTEXT = "Angela Merkel visited Paris in 2019."


def squad(start=22, text="Paris", **changes):
    qa = {"id": "q1", "question": "Where?", "answers": [{"text": text}]}
    qa["answers"][0]["answer_start"] = start
    paragraph = {"context": CONTEXT, "qas": [qa]}
    document = {"version": "1.1", "data": [{"title": "t", "paragraphs": [paragraph]}]}
    document.update(changes)
    return json.dumps(document)


def table(rows, header="sentence\tlabel"):
    return header + "\n" + "".join(row + "\n" for row in rows)


# name -> content (str: written as UTF-8; bytes: as is; None: a folder).
FILES = {
    # valid files the malformed ones are set against
    "train.tsv": "sentence\tlabel\n" + TRAIN,
    "reg.tsv": table([f"text {i}\t{i / 4}" for i in range(8)], "sentence\tscore"),
    "ner.txt": NER,
    "qa.json": squad(),
    "corpus.txt": "the film was good\nthe plot was dull\n",
    # malformed tables
    "empty.tsv": "",
    "blank.tsv": "\n \n\n",
    "header.tsv": "sentence\tlabel\n",
    "one_label.tsv": table(["good\tpos", "great\tpos", "fine\tpos"]),
    "dup.tsv": table(["good\tgreat\tpos"], "sentence\tsentence\tlabel"),
    "binary.tsv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    "latin1.tsv": b"sentence\tlabel\ngood\tpos\nna\xefve\tneg\n",
    "utf16.tsv": "sentence\tlabel\ngood\tpos\n".encode("utf-16"),
    "ragged.tsv": table(["good\tpos", "bad\tneg\textra"]),
    "empty_text.tsv": table(["good\tpos", " \tneg"]),
    "empty_label.tsv": table(["good\tpos", "bad\t "]),
    "unclosed.csv": 'sentence,label\n"good,pos\nbad,neg\n',
    "valid_unseen.tsv": table(["fine\tpos", "hmm\tmeh"]),
    "folder.tsv": None,
    # malformed JSON lines
    "truncated.jsonl": '{"sentence": "good", "label": "pos"}\n{"sentence": "ba',
    "array.jsonl": '{"sentence": "good", "label": "pos"}\n["bad", "neg"]\n',
    "no_field.jsonl": '{"sentence": "good", "label": "pos"}\n{"sentence": "bad"}\n',
    "null_text.jsonl": '{"sentence": "good", "label": "pos"}\n'
    '{"sentence": null, "label": "neg"}\n',
    "dup_key.jsonl": '{"sentence": "good", "label": "pos", "label": "neg"}\n',
    # regression targets
    "reg_word.tsv": table(["good\t1.5", "bad\thigh"], "sentence\tscore"),
    "reg_nan.tsv": table(["good\t1.5", "bad\tnan"], "sentence\tscore"),
    "reg_inf.tsv": table(["good\tinf", "bad\t0.5"], "sentence\tscore"),
    "reg_nan.jsonl": '{"sentence": "good", "score": 1}\n'
    '{"sentence": "bad", "score": NaN}\n',
    # CoNLL
    "one_column.txt": "Angela\nMerkel\n",
    "bad_tag.txt": "Angela B-PER\nMerkel B_PER\n",
    "bioes.txt": "Angela B-PER\nMerkel E-PER\n",
    "bilou.txt": "Angela B-PER\nMerkel L-PER\n",
    "ragged.txt": "Angela NNP B-PER\nMerkel NNP I-PER\nvisited O\n",
    "all_o.txt": "the O\nfilm O\n",
    "no_sentences.txt": "-DOCSTART- -X- O\n\n",
    "ner_unseen.txt": "Angela B-PER\n\nBerlin B-MISC\n",
    # SQuAD
    "qa_range.json": squad(start=999),
    "qa_negative.json": squad(start=-3),
    "qa_mismatch.json": squad(start=0),
    "qa_not_json.json": "{'data': []}",
    "qa_no_data.json": json.dumps({"version": "1.1"}),
    "qa_article.json": json.dumps({"data": [1]}),
    "qa_no_text.json": squad(text=""),
    "questions.jsonl": '{"question": "Where?", "context": "Paris."}\n{"question":\n',
    "no_context.jsonl": '{"question": "Where?"}\n',
    # multi-task configs
    "list.yaml": "- sst2\n- stsb\n",
    "missing_file.yaml": "tasks:\n  sst2:\n    type: text-classification\n"
    "    train: nowhere.tsv\n    text_column: sentence\n    label_column: label\n",
    "nan_task.yaml": "tasks:\n  stsb:\n    type: regression\n    train: reg_nan.tsv\n"
    "    text_column: sentence\n    label_column: score\n",
    "bad_tag_task.yaml": "tasks:\n  ner:\n    type: token-classification\n"
    "    train: bad_tag.txt\n",
    "bad_limit.yaml": "tasks:\n  sst2:\n    type: text-classification\n"
    "    train: train.tsv\n    text_column: sentence\n    label_column: label\n"
    "    limit: -5\n",
    # text inputs
    "empty.txt": "\n  \n\n",
    "corpus.csv": "text\ngood\nbad\n",
    # awkward but valid: a BOM, CRLF, quoted fields holding commas and newlines
    "awkward.csv": '\ufefftext,label\r\n"one, two",pos\r\n"three\r\nfour",neg\r\n'
    'plain,"pos"\r\n',
}
AWKWARD_TEXTS = ["one, two", "three\r\nfour", "plain"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed")
    paths = {}
    for name, content in FILES.items():
        path = folder / name
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(
                content if isinstance(content, bytes) else content.encode()
            )
        paths[name] = str(path)
    paths["missing.tsv"] = str(folder / "missing.tsv")
    return paths


@pytest.fixture(scope="module")
def models(tiny_preset, tmp_path_factory):
    """Model folders as `tlnlp fit` writes them, built but not trained (fast)."""
    from tlnlp_tf import outputs

    folder = tmp_path_factory.mktemp("models")
    specs = {
        "tc": (
            lambda: tl.TextClassifier.from_backbone(
                tiny_preset, labels=["neg", "pos"], max_length=16
            ),
            {
                "task": "text-classification",
                "text_column": "sentence",
                "label_column": "label",
            },
        ),
        "reg": (
            lambda: tl.TextRegressor.from_backbone(tiny_preset, max_length=16),
            {"task": "regression", "text_column": "sentence", "label_column": "score"},
        ),
        "tok": (
            lambda: tl.TokenClassifier.from_backbone(
                tiny_preset, tags=["O", "B-PER", "I-PER"], max_length=16
            ),
            {"task": "token-classification"},
        ),
        "qa": (
            lambda: tl.SpanExtractor.from_backbone(tiny_preset, max_length=32),
            {"task": "question-answering"},
        ),
    }
    paths = {}
    for name, (make, run) in specs.items():
        keras.utils.set_random_seed(0)
        outputs.save_model(make(), str(folder / name / "model.keras"))
        outputs.write_json(str(folder / name / "run.json"), run)
        paths[name] = str(folder / name)
    (folder / "no_model").mkdir()  # run.json but no model.keras
    (folder / "no_model" / "run.json").write_text("{}")
    shutil.copytree(folder / "tc", folder / "corrupt")  # model.keras is not a model
    (folder / "corrupt" / "model.keras").write_text("not a Keras zip file")
    shutil.copytree(folder / "tc", folder / "bad_run")  # run.json is cut short
    (folder / "bad_run" / "run.json").write_text('{"task": ')
    for name in ("no_model", "corrupt", "bad_run"):
        paths[name] = str(folder / name)
    return paths


def fit(train, *extra, task=None, columns=("sentence", "label")):
    """`tlnlp fit` arguments; "@name" is a file of FILES, "@out" the output folder."""
    args = ["fit", "--train", "@" + train, "--backbone", "@preset"]
    if task is not None:
        args += ["--task", task]
    if columns:
        args += ["--text-column", columns[0], "--label-column", columns[1]]
    return args + ["--epochs", "1", "--output", "@out", *extra]


def reg(train, *extra):
    return fit(train, *extra, task="regression", columns=("sentence", "score"))


def ner(train, *extra):
    return fit(train, *extra, task="token-classification", columns=None)


def qa(train, *extra):
    return fit(train, *extra, task="question-answering", columns=None)


def multi(config, *extra):
    args = ["fit", "--task", "multi", "--config", "@" + config, "--backbone"]
    return args + ["@preset", "--epochs", "1", "--output", "@out", *extra]


def evaluate(model, data, *extra):
    return ["evaluate", "--model", "@" + model, "--data", "@" + data, *extra]


def predict(model, data, *extra):
    return ["predict", "--model", "@" + model, "--input", "@" + data, *extra]


def score(train, *extra, task="classification", label="label"):
    args = ["score-sources", "--train", "@" + train, "--text-column", "sentence"]
    return args + ["--label-column", label, "--task", task, "--backbones", "@preset"]


def pretrain(text, *extra):
    args = ["pretrain", "--text", "@" + text, "--backbone", "@preset"]
    return args + ["--output", "@out", *extra]


# (id, arguments, what the one error line must contain)
CLI_CASES = [
    # fit, text classification
    ("fit-empty", fit("empty.tsv"), ["empty.tsv: the file is empty"]),
    ("fit-blank-lines", fit("blank.tsv"), ["blank.tsv: the file is empty"]),
    ("fit-header-only", fit("header.tsv"), ["header.tsv: no examples after"]),
    ("fit-one-label", fit("one_label.tsv"), ["one_label.tsv: every example has"]),
    ("fit-dup-columns", fit("dup.tsv"), ["dup.tsv, line 1: ", "column 'sentence'"]),
    ("fit-binary", fit("binary.tsv"), ["binary.tsv, line 3, column 1: a NUL byte"]),
    ("fit-latin1", fit("latin1.tsv"), ["latin1.tsv, line 3, column 3: byte 0xef"]),
    ("fit-utf16", fit("utf16.tsv"), ["utf16.tsv: the file is UTF-16"]),
    ("fit-ragged", fit("ragged.tsv"), ["ragged.tsv, line 3: expected 2 fields"]),
    ("fit-empty-text", fit("empty_text.tsv"), ["empty_text.tsv, line 3: column"]),
    ("fit-empty-label", fit("empty_label.tsv"), ["empty_label.tsv, line 3: column"]),
    ("fit-unclosed-quote", fit("unclosed.csv"), ["unclosed.csv, line 2: ", "quote"]),
    ("fit-missing-file", fit("missing.tsv"), ["missing.tsv: no such file"]),
    ("fit-folder", fit("folder.tsv"), ["folder.tsv: is a folder"]),
    ("fit-truncated-jsonl", fit("truncated.jsonl"), ["truncated.jsonl, line 2: "]),
    ("fit-jsonl-array", fit("array.jsonl"), ["array.jsonl, line 2: expected a JSON"]),
    ("fit-jsonl-no-field", fit("no_field.jsonl"), ["no_field.jsonl, line 2: no fie"]),
    ("fit-jsonl-null", fit("null_text.jsonl"), ["null_text.jsonl, line 2: field"]),
    ("fit-jsonl-dup-key", fit("dup_key.jsonl"), ["dup_key.jsonl, line 1: field 'l"]),
    (
        "fit-missing-column",
        fit("train.tsv", columns=("review", "label")),
        ["train.tsv: no column 'review'"],
    ),
    (
        "fit-no-text-column",
        ["fit", "--train", "@train.tsv", "--label-column", "label", "--output", "@out"],
        ["--text-column"],
    ),
    (
        "fit-unseen-validation-label",
        fit("train.tsv", "--validation", "@valid_unseen.tsv"),
        ["valid_unseen.tsv, line 3: label 'meh' was not seen in training"],
    ),
    (
        "fit-missing-validation",
        fit("train.tsv", "--validation", "@missing.tsv"),
        ["missing.tsv: no such file"],
    ),
    ("fit-limit-0", fit("train.tsv", "--limit", "0"), ["--limit"]),
    ("fit-epochs-0", fit("train.tsv", "--epochs", "0"), ["--epochs"]),
    ("fit-batch-size-negative", fit("train.tsv", "--batch-size=-4"), ["--batch-size"]),
    ("fit-config-without-multi", fit("train.tsv", "--config", "@list.yaml"), ["--con"]),
    # fit, regression
    ("reg-word", reg("reg_word.tsv"), ["reg_word.tsv, line 3: target 'high'"]),
    ("reg-nan", reg("reg_nan.tsv"), ["reg_nan.tsv, line 3: target 'nan' is not a"]),
    ("reg-inf", reg("reg_inf.tsv"), ["reg_inf.tsv, line 2: target 'inf' is not a"]),
    ("reg-json-nan", reg("reg_nan.jsonl"), ["reg_nan.jsonl, line 2: NaN"]),
    (
        "reg-validation-nan",
        reg("reg.tsv", "--validation", "@reg_nan.tsv"),
        ["reg_nan.tsv, line 3: target 'nan'"],
    ),
    # fit, token classification
    ("ner-one-column", ner("one_column.txt"), ["one_column.txt, line 1: "]),
    ("ner-bad-tag", ner("bad_tag.txt"), ["bad_tag.txt, line 2: tag 'B_PER'"]),
    ("ner-bilou-tags", ner("bilou.txt"), ["bilou.txt, line 2: tag 'L-PER'"]),
    (
        "ner-wrong-scheme",
        ner("bioes.txt", "--scheme", "iob1"),
        ["bioes.txt, line 2: tag 'E-PER' is not in the IOB1 scheme"],
    ),
    ("ner-unknown-scheme", ner("ner.txt", "--scheme", "bilou"), ["--scheme"]),
    ("ner-ragged", ner("ragged.txt"), ["ragged.txt, line 3: expected 3 columns"]),
    ("ner-all-o", ner("all_o.txt"), ["all_o.txt: every tag is 'O'"]),
    ("ner-no-sentences", ner("no_sentences.txt"), ["no_sentences.txt: no sentences"]),
    (
        "ner-bad-tag-column",
        ner("ner.txt", "--tag-column", "5"),
        ["ner.txt, line 1: tag column 5 does not exist"],
    ),
    (
        "ner-unseen-validation-tag",
        ner("ner.txt", "--validation", "@ner_unseen.txt"),
        ["ner_unseen.txt, line 3: tag 'B-MISC' was not seen"],
    ),
    ("ner-binary", ner("binary.tsv"), ["binary.tsv, line 3, column 1: a NUL byte"]),
    # fit, question answering
    ("qa-start-range", qa("qa_range.json"), ["qa_range.json: question q1: ", "999"]),
    ("qa-start-negative", qa("qa_negative.json"), ["qa_negative.json: question q1"]),
    ("qa-start-mismatch", qa("qa_mismatch.json"), ["qa_mismatch.json: question q1"]),
    ("qa-not-json", qa("qa_not_json.json"), ["qa_not_json.json, line 1, column 2"]),
    ("qa-no-data", qa("qa_no_data.json"), ["qa_no_data.json: expected a SQuAD"]),
    ("qa-article-not-object", qa("qa_article.json"), ["qa_article.json: article 0"]),
    ("qa-answer-no-text", qa("qa_no_text.json"), ["qa_no_text.json: question q1"]),
    ("qa-empty-file", qa("empty.tsv"), ["empty.tsv, line 1, column 1: not valid"]),
    # fit, several tasks
    ("multi-list", multi("list.yaml"), ["list.yaml: expected a mapping"]),
    ("multi-missing-file", multi("missing_file.yaml"), ["missing_file.yaml, task"]),
    ("multi-nan-target", multi("nan_task.yaml"), ["reg_nan.tsv, line 3: target"]),
    ("multi-bad-tag", multi("bad_tag_task.yaml"), ["bad_tag.txt, line 2: tag"]),
    ("multi-missing-config", multi("missing.tsv"), ["missing.tsv: no such"]),
    (
        "multi-bad-limit",
        multi("bad_limit.yaml"),
        ["bad_limit.yaml, task 'sst2'", "lim"],
    ),
    (
        "multi-no-config",
        ["fit", "--task", "multi", "--output", "@out"],
        ["--config"],
    ),
    # evaluate
    ("evaluate-no-model", evaluate("no_model", "train.tsv"), ["no model.keras"]),
    ("evaluate-corrupt-model", evaluate("corrupt", "train.tsv"), ["model.keras"]),
    ("evaluate-bad-run-json", evaluate("bad_run", "train.tsv"), ["run.json: not"]),
    ("evaluate-missing", evaluate("tc", "missing.tsv"), ["missing.tsv: no such"]),
    ("evaluate-header", evaluate("tc", "header.tsv"), ["header.tsv: no examples"]),
    ("evaluate-binary", evaluate("tc", "binary.tsv"), ["binary.tsv, line 3, col"]),
    (
        "evaluate-unseen-label",
        evaluate("tc", "valid_unseen.tsv"),
        ["valid_unseen.tsv, line 3: label 'meh' was not seen in training"],
    ),
    (
        "evaluate-missing-column",
        evaluate("tc", "train.tsv", "--text-column", "review"),
        ["train.tsv: no column 'review'"],
    ),
    ("evaluate-reg-nan", evaluate("reg", "reg_nan.tsv"), ["reg_nan.tsv, line 3: "]),
    (
        "evaluate-ner-unseen-tag",
        evaluate("tok", "ner_unseen.txt"),
        ["ner_unseen.txt, line 3: tag 'B-MISC' was not seen"],
    ),
    ("evaluate-qa-range", evaluate("qa", "qa_range.json"), ["qa_range.json: ques"]),
    (
        "evaluate-batch-size-0",
        evaluate("tc", "train.tsv", "--batch-size", "0"),
        ["--b"],
    ),
    # predict
    ("predict-no-model", predict("no_model", "corpus.txt"), ["no model.keras"]),
    ("predict-empty", predict("tc", "empty.txt"), ["empty.txt: no texts to predict"]),
    ("predict-missing", predict("tc", "missing.tsv"), ["missing.tsv: no such file"]),
    ("predict-folder", predict("tc", "folder.tsv"), ["folder.tsv: is a folder"]),
    ("predict-binary", predict("tok", "binary.txt"), ["binary.txt, line 3, column"]),
    (
        "predict-table-without-column",
        predict("tok", "train.tsv"),
        ["train.tsv: name the text column with --text-column"],
    ),
    ("predict-latin1", predict("tc", "latin1.tsv"), ["latin1.tsv, line 3, column 3"]),
    (
        "predict-missing-column",
        predict("tc", "train.tsv", "--text-column", "review"),
        ["train.tsv: no column 'review'"],
    ),
    ("predict-header", predict("reg", "header.tsv"), ["header.tsv: no examples"]),
    ("predict-qa-bad-line", predict("qa", "questions.jsonl"), ["questions.jsonl, li"]),
    ("predict-qa-no-context", predict("qa", "no_context.jsonl"), ["no_context.json"]),
    ("predict-qa-empty", predict("qa", "empty.txt"), ["empty.txt: no questions"]),
    # score-sources
    ("score-missing", score("missing.tsv"), ["missing.tsv: no such file"]),
    ("score-header", score("header.tsv"), ["header.tsv: no examples after"]),
    ("score-one-label", score("one_label.tsv"), ["one_label.tsv: every example"]),
    (
        "score-nan",
        score("reg_nan.tsv", task="regression", label="score"),
        ["reg_nan.tsv, line 3: target 'nan'"],
    ),
    ("score-binary", score("binary.tsv"), ["binary.tsv, line 3, column 1"]),
    ("score-limit-0", score("train.tsv") + ["--limit", "0"], ["--limit"]),
    ("score-bad-layers", score("train.tsv") + ["--layers", "top"], ["--layers"]),
    # pretrain
    ("pretrain-empty", pretrain("empty.txt"), ["empty.txt: "]),
    ("pretrain-binary", pretrain("binary.tsv", "--text-column", "t"), ["binary.tsv"]),
    ("pretrain-latin1", pretrain("latin1.tsv", "--text-column", "sentence"), ["lat"]),
    ("pretrain-missing", pretrain("missing.tsv", "--text-column", "t"), ["missing"]),
    ("pretrain-folder", pretrain("folder.tsv", "--text-column", "t"), ["folder.tsv"]),
    ("pretrain-no-text-column", pretrain("corpus.csv"), ["--text-column"]),
    ("pretrain-epochs-0", pretrain("corpus.txt", "--epochs", "0"), ["--epochs"]),
]


def run_cli(argv, capsys):
    """`(exit code, stdout, stderr)` of `tlnlp ARGV` run in this process."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def resolve(args, files, models, preset, out):
    def one(arg):
        if not arg.startswith("@"):
            return arg
        name = arg[1:]
        if name == "out":
            return out
        if name == "preset":
            return preset
        return models[name] if name in models else files[name]

    return [one(arg) for arg in args]


@pytest.mark.parametrize(
    "args, expected",
    [
        pytest.param(
            args,
            expected,
            id=name,
            marks=[pytest.mark.xfail(reason=PENDING[name])] if name in PENDING else [],
        )
        for name, args, expected in CLI_CASES
    ],
)
def test_cli_error_is_one_line_exit_2(
    files, models, tiny_preset, tmp_path, capsys, args, expected
):
    out = str(tmp_path / "out")
    code, _, err = run_cli(resolve(args, files, models, tiny_preset, out), capsys)
    assert "Traceback" not in err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tlnlp {args[0]}: error: "), err
    for fragment in expected:
        assert fragment in lines[0]
    assert not os.path.exists(out) or not os.listdir(out)  # nothing was written


def test_sweep_covers_every_reading_command_and_thirty_inputs():
    commands = {args[0] for _, args, _ in CLI_CASES}
    assert commands == {"fit", "evaluate", "predict", "score-sources", "pretrain"}
    tasks = {
        args[args.index("--task") + 1]
        for _, args, _ in CLI_CASES
        if args[0] == "fit" and "--task" in args
    }
    assert tasks == {
        "regression",
        "token-classification",
        "question-answering",
        "multi",
    }
    inputs = {arg for _, args, _ in CLI_CASES for arg in args if arg[1:] in FILES}
    assert len(inputs) >= 30 and len(CLI_CASES) >= 60


def test_a_real_process_prints_one_line_and_no_traceback(files, tmp_path):
    """A NaN target through a real `tlnlp` process: exit 2, one line, no model."""
    script = os.path.join(os.path.dirname(sys.executable), "tlnlp")
    out = tmp_path / "out"
    result = subprocess.run(
        [script, *resolve(reg("reg_nan.tsv"), files, {}, "minilm", str(out))],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"tlnlp fit: error: {files['reg_nan.tsv']}, line 3: target 'nan' is not a "
        "finite number; regression needs finite targets."
    )
    assert not out.exists()


# === The same inputs through the Python readers ===


def _read_csv(name, **options):
    return lambda f: tl.data.read_csv(
        f[name], text="sentence", label="label", **options
    )


def _table(name, label="label"):
    return lambda f: tl.data.load_table(f[name], "sentence", label)


def _jsonl(name, label="label"):
    return lambda f: tl.data.read_jsonl(f[name], text="sentence", label=label)


def _conll(name, **options):
    return lambda f: tl.data.read_conll(f[name], **options)


def _squad(name):
    return lambda f: tl.data.read_squad(f[name])


READER_CASES = [
    ("empty", _read_csv("empty.tsv"), r"empty.tsv: the file is empty"),
    ("blank", _read_csv("blank.tsv"), r"blank.tsv: the file is empty"),
    ("header-only", _read_csv("header.tsv"), r"header.tsv: no examples after"),
    (
        "one-label",
        lambda f: tl.data.load_table(
            f["one_label.tsv"], "sentence", "label"
        ).label_names(),
        r"one_label.tsv: every example has the label 'pos'",
    ),
    ("dup-columns", _read_csv("dup.tsv"), r"dup.tsv, line 1: .*'sentence' 2 times"),
    ("binary", _read_csv("binary.tsv"), r"binary.tsv, line 3, column 1: a NUL byte"),
    ("latin1", _read_csv("latin1.tsv"), r"latin1.tsv, line 3, column 3: byte 0xef"),
    ("utf16", _read_csv("utf16.tsv"), r"utf16.tsv: the file is UTF-16"),
    ("ragged", _read_csv("ragged.tsv"), r"ragged.tsv, line 3: expected 2 fields"),
    ("empty-text", _read_csv("empty_text.tsv"), r"line 3: column 'sentence' is empty"),
    ("empty-label", _read_csv("empty_label.tsv"), r"line 3: column 'label' is empty"),
    (
        "unclosed-quote",
        _read_csv("unclosed.csv"),
        r"unclosed.csv, line 2: expected 2 fields .* runs on to line 3.*quote",
    ),
    ("missing", _read_csv("missing.tsv"), r"missing.tsv: no such file"),
    ("folder", _read_csv("folder.tsv"), r"folder.tsv: is a folder"),
    ("no-column", _table("train.tsv", label="stars"), r"no column 'stars'"),
    (
        "text-not-a-name",
        lambda f: tl.data.read_csv(f["train.tsv"], text=None),
        r"text must name a column",
    ),
    (
        "same-column-twice",
        lambda f: tl.data.read_csv(f["train.tsv"], text="label", label="label"),
        r"must be different columns",
    ),
    (
        "unseen-label",
        _read_csv("valid_unseen.tsv", labels=["neg", "pos"]),
        r"valid_unseen.tsv, line 3: label 'meh' was not seen in training",
    ),
    (
        "bad-labels-option",
        _read_csv("train.tsv", labels="numbers"),
        r"labels must be a list of label names or 'numeric'",
    ),
    ("truncated-jsonl", _jsonl("truncated.jsonl"), r"truncated.jsonl, line 2: not"),
    ("jsonl-array", _jsonl("array.jsonl"), r"array.jsonl, line 2: expected a JSON"),
    ("jsonl-no-field", _jsonl("no_field.jsonl"), r"no_field.jsonl, line 2: no field"),
    ("jsonl-null", _jsonl("null_text.jsonl"), r"line 2: field 'sentence' is null"),
    ("jsonl-dup-key", _jsonl("dup_key.jsonl"), r"line 1: field 'label' is given"),
    ("jsonl-binary", _jsonl("binary.tsv"), r"binary.tsv, line 3, column 1: a NUL"),
    (
        "reg-word",
        lambda f: tl.data.read_csv(
            f["reg_word.tsv"], text="sentence", label="score", labels="numeric"
        ),
        r"reg_word.tsv, line 3: target 'high' is not a number",
    ),
    (
        "reg-nan",
        lambda f: tl.data.read_csv(
            f["reg_nan.tsv"], text="sentence", label="score", labels="numeric"
        ),
        r"reg_nan.tsv, line 3: target 'nan' is not a finite number",
    ),
    (
        "reg-inf",
        lambda f: tl.data.load_table(
            f["reg_inf.tsv"], "sentence", "score"
        ).check_numeric(),
        r"reg_inf.tsv, line 2: target 'inf' is not a finite number",
    ),
    ("reg-json-nan", _jsonl("reg_nan.jsonl", label="score"), r"line 2: NaN is not"),
    ("conll-one-column", _conll("one_column.txt"), r"one_column.txt, line 1: the tok"),
    ("conll-bad-tag", _conll("bad_tag.txt"), r"bad_tag.txt, line 2: tag 'B_PER'"),
    ("conll-bilou", _conll("bilou.txt"), r"bilou.txt, line 2: tag 'L-PER'"),
    (
        "conll-wrong-scheme",
        _conll("bioes.txt", scheme="iob1"),
        r"bioes.txt, line 2: tag 'E-PER' is not in the IOB1 scheme",
    ),
    ("conll-unknown-scheme", _conll("ner.txt", scheme="bilou"), r"scheme must be"),
    ("conll-ragged", _conll("ragged.txt"), r"ragged.txt, line 3: expected 3 columns"),
    (
        "conll-all-o",
        lambda f: tl.data.read_conll(f["all_o.txt"]).tag_names(),
        r"all_o.txt: every tag is 'O'",
    ),
    ("conll-no-sentences", _conll("no_sentences.txt"), r"no sentences found"),
    ("conll-tag-column", _conll("ner.txt", tag_column=5), r"tag column 5 does not"),
    ("conll-column-type", _conll("ner.txt", tag_column="tag"), r"tag_column must be"),
    (
        "conll-unseen-tag",
        lambda f: tl.data.read_conll(f["ner_unseen.txt"]).check_tags(
            ["O", "B-PER", "I-PER"]
        ),
        r"ner_unseen.txt, line 3: tag 'B-MISC' was not seen",
    ),
    ("conll-binary", _conll("binary.tsv"), r"binary.tsv, line 3, column 1: a NUL"),
    ("conll-missing", _conll("missing.tsv"), r"missing.tsv: no such file"),
    ("squad-range", _squad("qa_range.json"), r"answer_start 999 is out of range"),
    ("squad-negative", _squad("qa_negative.json"), r"answer_start -3 is negative"),
    ("squad-mismatch", _squad("qa_mismatch.json"), r"answer_start 0 does not point"),
    ("squad-not-json", _squad("qa_not_json.json"), r"line 1, column 2: not valid JSON"),
    ("squad-no-data", _squad("qa_no_data.json"), r"expected a SQuAD JSON object"),
    ("squad-article", _squad("qa_article.json"), r"article 0: expected a JSON object"),
    ("squad-no-text", _squad("qa_no_text.json"), r"question q1: each answer needs"),
    ("squad-folder", _squad("folder.tsv"), r"folder.tsv: is a folder"),
    ("squad-binary", _squad("binary.tsv"), r"binary.tsv, line 3, column 1: a NUL"),
    ("lists-string", lambda f: tl.data.from_lists("good"), r"texts must be a list"),
    ("lists-empty", lambda f: tl.data.from_lists([]), r"from_lists: no texts"),
    ("lists-none", lambda f: tl.data.from_lists(["a", None]), r"texts item 2 is None"),
    (
        "lists-empty-text",
        lambda f: tl.data.from_lists(["a", " "], ["x", "y"]),
        r"<lists>, item 2: text is empty",
    ),
    (
        "lists-none-label",
        lambda f: tl.data.from_lists(["a", "b"], ["x", None]),
        r"labels item 2 is NoneType",
    ),
    (
        "lists-nan-label",
        lambda f: tl.data.from_lists(["a", "b"], [0.5, float("nan")]),
        r"labels item 2 is nan; expected a finite number",
    ),
    (
        "lists-lengths",
        lambda f: tl.data.from_lists(["a", "b"], ["x"]),
        r"2 texts but 1 labels",
    ),
]


OPTION_CASES = [
    (
        "sample-zero",
        lambda f: tl.data.load_table(f["train.tsv"], "sentence", "label").sample(0),
        r"sample needs a positive number of examples",
    ),
    (
        "sample-questions-negative",
        lambda f: tl.data.read_squad(f["qa.json"]).sample(-1),
        r"sample needs a positive number of examples",
    ),
    (
        "delimiter",
        lambda f: tl.data.load_table(f["train.tsv"], "sentence", delimiter="||"),
        r"train.tsv: delimiter must be one character",
    ),
    (
        "no-texts-to-measure",
        lambda f: tl.data.choose_sequence_length(None, []),
        r"choose_sequence_length needs a non-empty list of texts",
    ),
]


@pytest.mark.parametrize(
    "call, message",
    [pytest.param(call, message, id=name) for name, call, message in OPTION_CASES],
)
def test_reader_options_raise_tlnlp_errors(files, call, message):
    with pytest.raises((DataError, PolicyError), match=message):
        call(files)


@pytest.mark.parametrize(
    "read, message",
    [pytest.param(read, message, id=name) for name, read, message in READER_CASES],
)
def test_readers_raise_data_errors(files, read, message):
    with pytest.raises(DataError, match=message) as error:
        read(files)
    assert "\n" not in str(error.value)  # one line, as the CLI prints it


# === Awkward but valid ===


def test_bom_crlf_and_quoted_fields_read_as_written(files, tmp_path):
    examples = tl.data.load_table(files["awkward.csv"], "text", "label")
    assert examples.texts == AWKWARD_TEXTS
    assert examples.labels == ["pos", "neg", "pos"]
    assert examples.lines == [2, 3, 5]  # where each row starts
    rows = list(tl.data.read_csv(files["awkward.csv"], "text", "label"))
    assert [t.numpy().decode() for t, _ in rows] == AWKWARD_TEXTS

    tsv = tmp_path / "crlf.tsv"
    tsv.write_bytes(b"\xef\xbb\xbfsentence\tlabel\r\ngood\tpos\r\n\r\nbad\tneg\r\n")
    examples = tl.data.load_table(str(tsv), "sentence", "label")
    assert examples.texts == ["good", "bad"] and examples.labels == ["pos", "neg"]
    assert examples.lines == [2, 4]

    jsonl = tmp_path / "crlf.jsonl"
    jsonl.write_bytes(
        b'\xef\xbb\xbf{"t": "a, \\"b\\"\\nc", "y": 1}\r\n{"t": "d", "y": 0.5}\r\n'
    )
    examples = tl.data.load_jsonl(str(jsonl), "t", "y")
    assert examples.texts == ['a, "b"\nc', "d"] and examples.labels == ["1", "0.5"]
    assert examples.check_numeric() is examples

    conll = tmp_path / "crlf.txt"
    conll.write_bytes(
        b"\xef\xbb\xbfAngela B-PER\r\nMerkel I-PER\r\n\r\nParis B-LOC\r\n"
    )
    sentences = tl.data.read_conll(str(conll))
    assert sentences.words == [["Angela", "Merkel"], ["Paris"]]
    assert sentences.tags == [["B-PER", "I-PER"], ["B-LOC"]]

    squad_path = tmp_path / "bom.json"
    squad_path.write_bytes(b"\xef\xbb\xbf" + squad().replace("\n", "\r\n").encode())
    assert tl.data.read_squad(str(squad_path)).answer_texts() == [["Paris"]]


def test_awkward_csv_through_the_cli(files, models, capsys):
    """BOM, CRLF, quoted commas and line breaks: `tlnlp predict` reads them right."""
    args = predict("tc", "awkward.csv", "--text-column", "text")
    code, out, err = run_cli(resolve(args, files, models, None, None), capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [record["text"] for record in records] == AWKWARD_TEXTS
    assert all(record["label"] in ("neg", "pos") for record in records)

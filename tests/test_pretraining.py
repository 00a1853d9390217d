import json
import os

import keras
import keras_hub
import numpy as np
import pytest
from conftest import toy_examples

import tlnlp_tf as tl
from tlnlp_tf import pretraining
from tlnlp_tf.cli.main import main

TEXTS = toy_examples(40)[0]


@pytest.fixture(scope="module")
def pretrained(tiny_preset):
    """One short masked-LM run on the tiny preset, shared by the tests below."""
    masked_lm, report = pretraining.pretrain_masked_lm(
        tiny_preset,
        TEXTS,
        epochs=2,
        batch_size=8,
        learning_rate=1e-2,
        validation_fraction=0.1,
        verbose=0,
    )
    return masked_lm, report


def test_masked_lm_loss_goes_down(pretrained, tiny_preset):
    masked_lm, report = pretrained
    keras.utils.set_random_seed(0)  # as pretrain_masked_lm: the same head init
    backbone, _ = tl.load_backbone(tiny_preset)
    untrained = keras_hub.models.BertMaskedLM(
        backbone, preprocessor=masked_lm.preprocessor
    )
    before = pretraining.masked_lm_scores(untrained, TEXTS)
    after = pretraining.masked_lm_scores(masked_lm, TEXTS)
    assert after["loss"] < before["loss"] - 0.5  # (measured: 4.5 -> 3.0-3.2)
    assert after["accuracy"] > before["accuracy"] + 0.1
    # Held out: 4 documents, too few masked tokens for a reliable drop on a
    # toy model (masks in training are drawn in a parallel tf.data map).
    for value in report["masked_lm_loss"].values():
        assert 0.0 < value < 20.0
    assert report["train_documents"] == 36 and report["held_out_documents"] == 4
    for name in ("masked_lm_loss", "masked_accuracy"):
        assert set(report[name]) == {"before", "after"}
    assert 0.0 <= report["masked_accuracy"]["after"] <= 1.0
    assert report["train_seconds"] > 0 and len(report["history"]["loss"]) == 2


def test_saved_folder_is_a_backbone_preset(pretrained, tmp_path):
    masked_lm, report = pretrained
    folder = str(tmp_path / "domain")
    pretraining.save_pretrained(masked_lm, folder, report)
    with open(os.path.join(folder, "pretrain.json")) as file:
        assert json.load(file)["train_documents"] == 36
    assert not [
        name for name in os.listdir(tmp_path) if name.startswith(".")
    ]  # no temp left
    backbone, preprocessor = tl.load_backbone(folder)
    saved, trained = backbone.get_weights(), masked_lm.backbone.get_weights()
    assert len(saved) == len(trained)
    assert all(np.array_equal(a, b) for a, b in zip(saved, trained))
    vocabulary = masked_lm.preprocessor.tokenizer.get_vocabulary()
    assert preprocessor.tokenizer.get_vocabulary() == vocabulary
    model = tl.TextClassifier.from_backbone(folder, labels=["neg", "pos"])
    result = model.predict(["the film was very good .", "the food was awful ."])
    assert list(result["label"]) and set(result["label"]) <= {"neg", "pos"}
    # Saving again replaces the preset; a folder of other files is refused.
    pretraining.save_pretrained(masked_lm, folder)
    assert not os.path.exists(os.path.join(folder, "pretrain.json"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(tl.DataError, match="is not a preset folder"):
        pretraining.save_pretrained(masked_lm, str(other))
    assert os.listdir(other) == ["notes.txt"]


def test_saved_head_round_trips(pretrained, tiny_preset, tmp_path):
    masked_lm, report = pretrained
    folder = pretraining.save_pretrained(masked_lm, tmp_path / "domain", report)
    # Saved the keras-hub way: task.json + task.weights.h5, no format of ours.
    assert os.path.isfile(os.path.join(folder, "task.json"))
    assert os.path.isfile(os.path.join(folder, pretraining.HEAD_FILE))
    assert not os.path.exists(os.path.join(folder, pretraining.LEGACY_HEAD_FILE))
    with open(os.path.join(folder, "pretrain.json")) as file:
        head = json.load(file)["masked_lm_head"]
    assert head["file"] == "task.weights.h5" and head["task"] == "BertMaskedLM"
    assert "mlm_head/output_bias" in head["weights"]
    assert "token_embedding/embeddings" not in head["weights"]  # tied: the backbone's
    texts = toy_examples(24, seed=3)[0]
    original = pretraining.masked_lm_scores(masked_lm, texts, batch_size=8, seed=5)
    assert original["masked_tokens"] > 0
    # keras-hub's own loader reads the folder: the whole task, same scores.
    hub = keras_hub.models.MaskedLM.from_preset(folder)
    assert type(hub) is keras_hub.models.BertMaskedLM
    assert pretraining.masked_lm_scores(hub, texts, batch_size=8, seed=5) == original
    # Around the folder's own backbone, and around the very same backbone object.
    for backbone in (None, masked_lm.backbone):
        loaded = pretraining.load_masked_lm(folder, backbone)
        assert (
            pretraining.masked_lm_scores(loaded, texts, batch_size=8, seed=5)
            == original
        )
    loaded = pretraining.load_masked_lm(folder)
    assert loaded.preprocessor.sequence_length == masked_lm.preprocessor.sequence_length
    # A preset with no saved head (not written by `tlnlp pretrain`): a clear error.
    with pytest.raises(tl.BackboneError, match="no saved masked-LM head.*minilm"):
        pretraining.load_masked_lm(tiny_preset)


def test_folders_written_before_still_load(pretrained, tmp_path):
    """A folder of the old format (masked_lm_head.weights.h5) still loads."""
    import h5py

    masked_lm, _ = pretrained
    folder = str(tmp_path / "old")
    masked_lm.backbone.save_to_preset(folder)
    masked_lm.preprocessor.tokenizer.save_to_preset(folder)
    keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=masked_lm.preprocessor.tokenizer, sequence_length=32
    ).save_to_preset(folder)
    preprocessor = masked_lm.preprocessor
    config = {
        "task": "BertMaskedLM",
        "preprocessor": {
            "sequence_length": preprocessor.sequence_length,
            "mask_selection_rate": preprocessor.mask_selection_rate,
            "mask_selection_length": preprocessor.mask_selection_length,
        },
    }
    backbone_ids = {id(v) for v in masked_lm.backbone.weights}
    with h5py.File(os.path.join(folder, pretraining.LEGACY_HEAD_FILE), "w") as file:
        file.attrs["config"] = json.dumps(config)
        for variable in masked_lm.weights:
            if id(variable) not in backbone_ids:
                file.create_dataset(variable.path, data=variable.numpy())
    texts = toy_examples(24, seed=3)[0]
    original = pretraining.masked_lm_scores(masked_lm, texts, batch_size=8, seed=5)
    assert pretraining.find_head(folder)[1] == "legacy"
    loaded = pretraining.load_masked_lm(folder)
    assert pretraining.masked_lm_scores(loaded, texts, batch_size=8, seed=5) == original
    _, batches = pretraining.head_masked_batches(folder, texts, batch_size=8, seed=5)
    assert pretraining.score_masked_batches(loaded, batches) == original


def test_hugging_face_folder_as_source(tiny_hf_folder, tmp_path):
    masked_lm, report = pretraining.pretrain_masked_lm(
        tiny_hf_folder, TEXTS[:16], epochs=1, batch_size=8, verbose=0
    )
    assert isinstance(masked_lm, keras_hub.models.BertMaskedLM)
    assert report["train_documents"] == 15 and report["held_out_documents"] == 1
    folder = pretraining.save_pretrained(masked_lm, tmp_path / "hf-domain", report)
    assert os.path.isfile(
        os.path.join(folder, "1_Pooling", "config.json")
    )  # pooling kept
    backbone, _ = tl.load_backbone(folder)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(backbone.get_weights(), masked_lm.backbone.get_weights())
    )


def test_read_corpus(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(
        "first doc\n\n  \nsecond\u0085 doc stays one line\r\nthird\n", encoding="utf-8"
    )
    assert pretraining.read_corpus(str(text)) == [
        "first doc",
        "second\u0085 doc stays one line",
        "third",
    ]
    table = tmp_path / "corpus.jsonl"
    table.write_text('{"text": "a review", "id": 1}\n\n{"text": "another", "id": 2}\n')
    assert pretraining.read_corpus(str(table), text_column="text") == [
        "a review",
        "another",
    ]
    with pytest.raises(tl.DataError, match="name the text column"):
        pretraining.read_corpus(str(table))
    with pytest.raises(tl.DataError, match="corpus is empty"):
        pretraining.pretrain_masked_lm("minilm", ["", "  "])


def test_cli_writes_a_preset_that_fit_accepts(tiny_preset, toy_files, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    output = tmp_path / "domain"
    assert (
        main(
            [
                "pretrain",
                "--text",
                str(corpus),
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--limit",
                "30",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    report = json.loads((output / "pretrain.json").read_text())
    assert report["train_documents"] + report["held_out_documents"] == 30
    assert set(report["masked_lm_loss"]) == {"before", "after"}
    assert set(report["masked_accuracy"]) == {"before", "after"}
    assert report["train_seconds"] > 0
    assert {
        "config.json",
        "model.weights.h5",
        "tokenizer.json",
        "preprocessor.json",
    } <= set(os.listdir(output))
    assert '"masked_lm_loss"' in capsys.readouterr().out  # the summary is printed too
    run = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--train",
                toy_files["train"],
                "--text-column",
                "sentence",
                "--label-column",
                "label",
                "--backbone",
                str(output),
                "--epochs",
                "1",
                "--limit",
                "16",
                "--batch-size",
                "8",
                "--output",
                str(run),
            ]
        )
        == 0
    )
    assert os.path.isfile(run / "model.keras")


@pytest.mark.parametrize(
    "name, body, extra, message",
    [
        ("empty.txt", "\n  \n\n", [], "empty.txt: the pretraining corpus is empty"),
        (
            "reviews.jsonl",
            '{"review": "good"}\n',
            ["--text-column", "text"],
            "reviews.jsonl, line 1: no field 'text'",
        ),
        (
            "reviews.tsv",
            "review\nfine\n",
            ["--text-column", "text"],
            "reviews.tsv: no column 'text'; the header has: review",
        ),
        (
            "reviews.jsonl",
            '{"text": "good"}\n',
            [],
            "reviews.jsonl: name the text column",
        ),
    ],
)
def test_bad_corpus_fails_before_training(
    tiny_preset, tmp_path, capsys, name, body, extra, message
):
    corpus = tmp_path / name
    corpus.write_text(body)
    output = tmp_path / "out"
    assert (
        main(
            [
                "pretrain",
                "--text",
                str(corpus),
                "--backbone",
                tiny_preset,
                *extra,
                "--output",
                str(output),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("tlnlp pretrain: error: ") and message in err
    assert "Traceback" not in err
    assert not output.exists()


# === pretraining from scratch with a new vocabulary ===

CHINESE = [
    "我喜欢这部电影。",
    "这部电影很好看。",
    "这本书非常无聊。",
    "今天天气很好。",
    "我不喜欢这家餐厅的菜。",
    "演员的表演很精彩。",
    "故事情节太慢了。",
    "这家饭店的服务很差。",
    "我们明天去北京。",
    "他每天早上跑步。",
    "这个手机很好用。",
    "音乐非常动听。",
    "电影的结局让人失望。",
    "我觉得这本书很有意思。",
    "孩子们在公园里玩。",
    "老师讲得很清楚。",
    "价格太贵了，不值得。",
    "质量很好，我很满意。",
    "房间很干净，也很安静。",
    "等了一个小时，太慢了。",
]
MIXED = CHINESE + TEXTS[:10]


@pytest.fixture(scope="module")
def chinese_preset(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("zh") / "zh-new")
    report = pretraining.new_backbone_preset(
        folder,
        MIXED,
        vocabulary_size=500,
        num_layers=1,
        hidden_dim=32,
        num_heads=2,
        max_sequence_length=64,
    )
    return folder, report


def test_new_backbone_preset_covers_chinese(chinese_preset):
    folder, report = chinese_preset
    backbone, preprocessor = tl.load_backbone(folder)
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    assert backbone.num_layers == 1 and backbone.hidden_dim == 32
    tokenizer = preprocessor.tokenizer
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    hanzi = {char for text in CHINESE for char in text if "\u4e00" <= char <= "\u9fff"}
    assert len(hanzi) > 100 and hanzi <= set(vocabulary)
    assert "##电" not in vocabulary  # a CJK character is always a word of its own
    assert len(vocabulary) == report["vocabulary_size"] <= 500
    unknown = tokenizer.token_to_id("[UNK]")
    for text in (CHINESE[0], CHINESE[-1], TEXTS[0]):
        ids = list(np.asarray(tokenizer(text)))
        assert ids and unknown not in ids
    assert len(np.asarray(tokenizer(CHINESE[1]))) == len(
        CHINESE[1]
    )  # one token a character
    assert report["unknown_token_rate"] == 0.0
    assert report["num_layers"] == 1 and report["hidden_dim"] == 32
    assert report["parameters"] == backbone.count_params() > 0
    assert not [
        name for name in os.listdir(os.path.dirname(folder)) if name.startswith(".")
    ]  # no temp left


# Opt-in (`make test-extended`): the default run covers a new vocabulary and
# backbone through the CLI (test_cli_new_vocabulary) and Chinese tasks
# (tests/test_chinese.py).
@pytest.mark.extended
def test_new_backbone_pretrains_and_classifies_chinese(chinese_preset, tmp_path):
    folder, _ = chinese_preset
    masked_lm, report = pretraining.pretrain_masked_lm(
        folder,
        MIXED * 2,
        epochs=4,
        batch_size=8,
        learning_rate=1e-2,
        validation_fraction=0.1,
        verbose=0,
    )
    keras.utils.set_random_seed(0)  # as pretrain_masked_lm: the same head init
    backbone, _ = tl.load_backbone(folder)
    untrained = keras_hub.models.BertMaskedLM(
        backbone, preprocessor=masked_lm.preprocessor
    )
    before = pretraining.masked_lm_scores(untrained, MIXED * 4)  # 4 maskings of each
    after = pretraining.masked_lm_scores(masked_lm, MIXED * 4)
    assert after["loss"] < before["loss"] - 0.3  # (measured: 5.03 -> 4.40-4.53)
    assert after["accuracy"] > before["accuracy"] + 0.03  # (0.01 -> 0.07-0.13)
    saved = pretraining.save_pretrained(masked_lm, tmp_path / "zh-pretrained", report)
    model = tl.TextClassifier.from_backbone(saved, labels=["neg", "pos"])
    result = model.predict(["这部电影很好看。", "这本书非常无聊。"])
    assert len(result["label"]) == 2 and set(result["label"]) <= {"neg", "pos"}


def test_cli_new_vocabulary(tmp_path, capsys):
    corpus = tmp_path / "zh.txt"
    corpus.write_text("\n".join(MIXED) + "\n", encoding="utf-8")
    output = tmp_path / "zh-bert"
    assert (
        main(
            [
                "pretrain",
                "--text",
                str(corpus),
                "--new-vocabulary",
                "200",
                "--num-layers",
                "1",
                "--hidden-dim",
                "32",
                "--num-heads",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    report = json.loads((output / "pretrain.json").read_text(encoding="utf-8"))
    new = report["new_backbone"]
    assert new["num_layers"] == 1 and new["hidden_dim"] == 32
    assert new["vocabulary_size"] <= 200 and 0.0 <= new["unknown_token_rate"] < 0.5
    assert report["weights"] == "random" and report["backbone"] is None
    assert set(report["masked_lm_loss"]) == {"before", "after"}
    backbone, preprocessor = tl.load_backbone(str(output))
    assert backbone.num_layers == 1 and backbone.hidden_dim == 32
    assert backbone.vocabulary_size == len(preprocessor.tokenizer.get_vocabulary())
    assert '"new_backbone"' in capsys.readouterr().out


def test_new_backbone_errors(tmp_path):
    with pytest.raises(tl.DataError, match="corpus is empty"):
        pretraining.new_backbone_preset(str(tmp_path / "a"), ["", "  "])
    with pytest.raises(
        tl.PolicyError, match="hidden_dim=30 is not divisible by num_heads=4"
    ):
        pretraining.new_backbone_preset(
            str(tmp_path / "b"), CHINESE, hidden_dim=30, num_heads=4
        )
    with pytest.raises(tl.PolicyError, match="vocabulary_size=10 is too small"):
        pretraining.new_backbone_preset(
            str(tmp_path / "c"), CHINESE, vocabulary_size=10
        )
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    "body, extra, message",
    [
        ("\n  \n", ["--new-vocabulary", "200"], "the pretraining corpus is empty"),
        (
            "好\n",
            ["--num-layers", "1"],
            "--num-layers sets the architecture of a new backbone: "
            "it needs --new-vocabulary",
        ),
        (
            "好\n",
            ["--new-vocabulary", "200", "--hidden-dim", "30", "--num-heads", "4"],
            "hidden_dim=30 is not divisible by num_heads=4",
        ),
        (
            "好\n",
            ["--new-vocabulary", "200", "--backbone", "minilm"],
            "--backbone minilm cannot be used with --new-vocabulary",
        ),
        (
            "好\n",
            ["--new-vocabulary", "200", "--weights", "pretrained"],
            "--weights pretrained cannot be used with --new-vocabulary",
        ),
        (
            "好\n",
            ["--new-vocabulary", "200", "--kind", "word2vec"],
            "does not apply to --kind word2vec",
        ),
    ],
)
def test_cli_new_vocabulary_errors(tmp_path, capsys, body, extra, message):
    corpus = tmp_path / "zh.txt"
    corpus.write_text(body, encoding="utf-8")
    output = tmp_path / "out"
    assert (
        main(["pretrain", "--text", str(corpus), *extra, "--output", str(output)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("tlnlp pretrain: error: ") and message in err
    assert "Traceback" not in err
    assert not output.exists()

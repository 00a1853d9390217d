"""Tiny backbones, built here and saved as local presets: no network, fast.

- `tiny_preset`: a keras-hub preset folder (BertBackbone + preprocessor).
- `tiny_hf_folder`: a Hugging Face BERT checkpoint folder (config.json,
  model.safetensors, vocab.txt, sentence-transformers pooling config).
- `toy_sentiment`: a separable two-class toy set in that vocabulary.
"""

import json
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# The suite builds hundreds of tiny models and runs each a few steps, so the
# time goes to instantiating graphs, not to running them: grappler's rewrites
# (run on every train step, every map function of every dataset iterator)
# cost more than they save here. Measured on 2 cores: a dataset iterator of a
# tiny TokenClassifier 1.12 s -> 1.03 s, a tiny classifier's fit of 24 steps
# 7.4 s -> 5.9 s, test_text_classifier.py + test_token_classifier.py 185 s ->
# 141 s. Benchmarks, the demo and users keep TensorFlow's defaults; set
# TLNLP_TEST_GRAPPLER=1 to run the suite with grappler on.
if os.environ.get("TLNLP_TEST_GRAPPLER") != "1":
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})

WORDS = (
    "the film movie book was is it very and but not this plot cast food "
    "good great fun love loved lovely wonderful best "
    "bad awful boring hate hated dull worst terrible ."
).split()
VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list("abcdefghijklmnopqrstuvwxyz")
    + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    + WORDS
)
HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_LENGTH = 16, 2, 2, 32, 64

POSITIVE = ["good", "great", "fun", "love", "loved", "lovely", "wonderful", "best"]
NEGATIVE = ["bad", "awful", "boring", "hate", "hated", "dull", "worst", "terrible"]
SUBJECTS = ["the film", "the movie", "this book", "the plot", "the cast", "the food"]


def tiny_backbone():
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=LAYERS,
        num_heads=HEADS,
        hidden_dim=HIDDEN,
        intermediate_dim=INTERMEDIATE,
        max_sequence_length=MAX_LENGTH,
    )


def tiny_causal_lm(hidden_dim=8, sequence_length=64, dropout=0.1):
    """A 1-layer GPT-2 over letters: a keras-hub `CausalLM` with its preprocessor."""
    tokens = ["<|endoftext|>", "Ġ", *"abcdefghijklmnopqrstuvwxyz", "Ġt", "he"]
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(tokens)},
        merges=["Ġ t", "h e"],
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(tokens),
        num_layers=1,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=sequence_length,
        dropout=dropout,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return keras_hub.models.GPT2CausalLM(backbone, preprocessor)


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory):
    """Path of a keras-hub preset folder holding a 2-layer BERT."""
    folder = str(tmp_path_factory.mktemp("tiny_preset"))
    keras.utils.set_random_seed(1)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=tokenizer, sequence_length=MAX_LENGTH
    )
    tiny_backbone().save_to_preset(folder)
    preprocessor.save_to_preset(folder)
    return folder


def hf_weights(rng):
    """Random weights under the Hugging Face BERT names, tiny shapes."""

    def dense(out_dim, in_dim, name):
        return {
            f"{name}.weight": rng.normal(0, 0.02, (out_dim, in_dim)),
            f"{name}.bias": np.zeros(out_dim),
        }

    def norm(name):
        return {f"{name}.weight": np.ones(HIDDEN), f"{name}.bias": np.zeros(HIDDEN)}

    weights = {
        "embeddings.word_embeddings.weight": rng.normal(0, 0.02, (len(VOCAB), HIDDEN)),
        "embeddings.position_embeddings.weight": rng.normal(
            0, 0.02, (MAX_LENGTH, HIDDEN)
        ),
        "embeddings.token_type_embeddings.weight": rng.normal(0, 0.02, (2, HIDDEN)),
        **norm("embeddings.LayerNorm"),
        **dense(HIDDEN, HIDDEN, "pooler.dense"),
    }
    for i in range(LAYERS):
        prefix = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            weights.update(dense(HIDDEN, HIDDEN, f"{prefix}.attention.self.{part}"))
        weights.update(dense(HIDDEN, HIDDEN, f"{prefix}.attention.output.dense"))
        weights.update(norm(f"{prefix}.attention.output.LayerNorm"))
        weights.update(dense(INTERMEDIATE, HIDDEN, f"{prefix}.intermediate.dense"))
        weights.update(dense(HIDDEN, INTERMEDIATE, f"{prefix}.output.dense"))
        weights.update(norm(f"{prefix}.output.LayerNorm"))
    return {name: value.astype("float32") for name, value in weights.items()}


@pytest.fixture(scope="session")
def tiny_hf_folder(tmp_path_factory):
    """Path of a Hugging Face BERT checkpoint folder (safetensors), mean pooling."""
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("tiny_hf")
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_LENGTH,
        "vocab_size": len(VOCAB),
        "type_vocab_size": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "layer_norm_eps": 1e-12,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    save_file(hf_weights(np.random.default_rng(0)), str(folder / "model.safetensors"))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True})
    )
    return str(folder)


def toy_examples(count=64, seed=0):
    """`count` short reviews: label 'pos' iff the sentiment word is positive."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(count):
        positive = i % 2 == 0
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        texts.append(f"{rng.choice(SUBJECTS)} was very {word} .")
        labels.append("pos" if positive else "neg")
    return texts, labels


@pytest.fixture
def toy_sentiment():
    return toy_examples()


@pytest.fixture
def toy_files(tmp_path):
    """A train and a validation TSV of toy reviews (header `sentence\\tlabel`)."""
    paths = {}
    for name, seed, count in (("train", 0, 48), ("valid", 1, 16)):
        texts, labels = toy_examples(count, seed)
        path = tmp_path / f"{name}.tsv"
        path.write_text(
            "sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels))
        )
        paths[name] = str(path)
    return paths


MPNET_VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]"] + VOCAB[5:] + ["<mask>"]
MPNET_POSITIONS = 40  # 37 tokens + padding index 1 + 1


def mpnet_hf_weights(rng, prefix=""):
    """Random weights under Hugging Face's MPNet names, tiny shapes."""

    def dense(out_dim, in_dim, name):
        return {
            f"{name}.weight": rng.normal(0, 0.2, (out_dim, in_dim)),
            f"{name}.bias": rng.normal(0, 0.1, out_dim),
        }

    def norm(name):
        return {
            f"{name}.weight": 1 + rng.normal(0, 0.1, HIDDEN),
            f"{name}.bias": rng.normal(0, 0.1, HIDDEN),
        }

    weights = {
        "embeddings.word_embeddings.weight": rng.normal(
            0, 1, (len(MPNET_VOCAB), HIDDEN)
        ),
        "embeddings.position_embeddings.weight": rng.normal(
            0, 1, (MPNET_POSITIONS, HIDDEN)
        ),
        "encoder.relative_attention_bias.weight": rng.normal(0, 1, (32, HEADS)),
        **norm("embeddings.LayerNorm"),
        **dense(HIDDEN, HIDDEN, "pooler.dense"),
    }
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        for part in "qkvo":
            weights.update(dense(HIDDEN, HIDDEN, f"{layer}.attention.attn.{part}"))
        weights.update(norm(f"{layer}.attention.LayerNorm"))
        weights.update(dense(INTERMEDIATE, HIDDEN, f"{layer}.intermediate.dense"))
        weights.update(dense(HIDDEN, INTERMEDIATE, f"{layer}.output.dense"))
        weights.update(norm(f"{layer}.output.LayerNorm"))
    return {prefix + name: value.astype("float32") for name, value in weights.items()}


def write_tiny_mpnet_folder(folder):
    """Write a Hugging Face MPNet checkpoint folder (sentence-transformers layout)."""
    from safetensors.numpy import save_file

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["MPNetForMaskedLM"],
        "model_type": "mpnet",
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MPNET_POSITIONS,
        "vocab_size": len(MPNET_VOCAB),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "relative_attention_num_buckets": 32,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(MPNET_VOCAB) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    save_file(
        mpnet_hf_weights(np.random.default_rng(0)), str(folder / "model.safetensors")
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True})
    )
    return str(folder)


@pytest.fixture(scope="session")
def tiny_mpnet_folder(tmp_path_factory):
    """Path of a tiny Hugging Face MPNet checkpoint folder."""
    return write_tiny_mpnet_folder(tmp_path_factory.mktemp("tiny_mpnet"))

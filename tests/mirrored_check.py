"""Run by test_distribute.py in a fresh process: train each task on one device and
under MirroredStrategy over 2 logical CPU devices, and write what happened as JSON.

    python tests/mirrored_check.py OUT.json [TASK,TASK,...]
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

# Two logical CPU devices: must happen before TensorFlow initialises.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402
from test_span_extractor import toy_questions  # noqa: E402
from test_token_classifier import toy_tagged  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def preset():
    """A tiny BERT preset without dropout, so one device and two agree."""
    folder = tempfile.mkdtemp()
    keras.utils.set_random_seed(1)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=conftest.VOCAB)
    keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=tokenizer, sequence_length=conftest.MAX_LENGTH
    ).save_to_preset(folder)
    keras_hub.models.BertBackbone(
        vocabulary_size=len(conftest.VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=conftest.MAX_LENGTH,
        dropout=0.0,
    ).save_to_preset(folder)
    return folder


def halves(items, batch=8):
    """Each batch of `batch`: `batch // 2` items, then the same ones again, so
    both replicas see the same token counts and their means agree."""
    half = batch // 2
    out = []
    for start in range(0, len(items), half):
        out += items[start : start + half] * 2
    return out


def tasks(folder):
    """name → (build model, training dataset): every batch splits into equal halves."""
    texts, labels = conftest.toy_examples(32)
    tagged = toy_tagged(32)
    # Token classification averages over first sub-words per replica: give both
    # halves of each batch the same sentences so the per-replica means agree.
    words = [" ".join(w) for w in tagged.words[:16]] * 2
    tags = [" ".join(t) for t in tagged.tags[:16]] * 2
    # Batch k of 8 = sentences 4k..4k+3, then the same four again (indices + 16).
    order = [
        4 * k + j + 16 * half for k in range(4) for half in range(2) for j in range(4)
    ]
    questions = toy_questions(32, seed=0)
    sources = [" ".join(text.split()[:4]) for text in texts[:16]]
    targets = [" ".join(text.split()[-2:]) for text in texts[:16]]
    return {
        "language_model": (
            lambda: tl.LanguageModel(
                conftest.tiny_causal_lm(16, sequence_length=32, dropout=0.0),
                max_length=16,
            ),
            tf.data.Dataset.from_tensor_slices(halves(sources)).batch(8),
        ),
        "encoder_decoder": (
            lambda: tl.EncoderDecoderLM.from_backbone(
                folder, source_length=8, target_length=4
            ),
            tf.data.Dataset.from_tensor_slices(
                (halves(sources), halves(targets))
            ).batch(8),
        ),
        "classifier": (
            lambda: tl.TextClassifier.from_backbone(
                folder, labels=["neg", "pos"], dropout=0.0
            ),
            tl.data.from_lists(texts, labels).batch(8),
        ),
        # Contrastive pairs (stage 1, its own AdamW), then the head (compiled SGD).
        "setfit": (
            lambda: tl.TextClassifier.from_backbone(
                folder, labels=["neg", "pos"], dropout=0.0, freeze="setfit"
            ),
            tl.data.from_lists(texts[:16], labels[:16]).batch(8),
        ),
        "token_classifier": (
            lambda: tl.TokenClassifier.from_backbone(folder, tags=TAGS, dropout=0.0),
            tf.data.Dataset.from_tensor_slices(
                ([words[i] for i in order], [tags[i] for i in order])
            ).batch(8),
        ),
        "span_extractor": (
            lambda: tl.SpanExtractor.from_backbone(folder, dropout=0.0, max_length=32),
            questions.to_dataset().batch(8),
        ),
        "multi_task": (
            lambda: tl.MultiTaskModel.from_backbone(
                folder,
                {
                    "sentiment": {
                        "kind": "text-classification",
                        "labels": ["neg", "pos"],
                        "dropout": 0.0,
                    },
                    "similarity": {"kind": "regression", "dropout": 0.0},
                },
            ),
            lambda model: tl.data.mix_tasks(
                {
                    "sentiment": model.task_dataset(
                        "sentiment", tl.data.from_lists(texts, labels).batch(8)
                    ),
                    "similarity": model.task_dataset(
                        "similarity",
                        tf.data.Dataset.from_tensor_slices(
                            (
                                (texts[:16], texts[16:]),
                                [float(i % 5) for i in range(16)],
                            )
                        ).batch(8),
                    ),
                },
                seed=0,
            ),
        ),
    }


def train(build, data, strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build()
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    if callable(data):  # built from the model (MultiTaskModel.task_dataset)
        data = data(model)
    history = model.fit(data, epochs=2, verbose=0)
    weights = {v.path: v for v in model.trainable_variables}
    in_sync = True
    for variable in weights.values():
        values = getattr(variable.value, "values", None)
        if values is not None and len(values) > 1:
            first = values[0].numpy()
            in_sync &= all(np.array_equal(first, other.numpy()) for other in values[1:])
    arrays = {path: np.asarray(v.numpy()) for path, v in weights.items()}
    return history.history["loss"], arrays, bool(in_sync), model


def main(out, names=None):
    folder = preset()
    mirrored = tl.distribute.strategy("mirrored")
    report = {"replicas": mirrored.num_replicas_in_sync, "tasks": {}}
    for name, (build, data) in tasks(folder).items():
        if names is not None and name not in names:
            continue
        single_loss, single, _, _ = train(build, data, tf.distribute.get_strategy())
        loss, weights, in_sync, model = train(build, data, mirrored)
        gap = max(float(np.max(np.abs(single[p] - weights[p]))) for p in single)
        evaluated = model.evaluate(
            data(model) if callable(data) else data, return_dict=True, verbose=0
        )
        report["tasks"][name] = {
            "single_loss": single_loss,
            "mirrored_loss": loss,
            "max_weight_gap": gap,
            "in_sync": in_sync,
            "evaluate_loss": float(evaluated["loss"]),
        }
    with open(out, "w") as file:
        json.dump(report, file, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(",") if len(sys.argv) > 2 else None)

"""One worker of a 2-worker MultiWorkerMirroredStrategy run on 127.0.0.1.

    python tests/multi_worker_check.py INDEX PORT0 PORT1 OUT.json

Started twice by test_distribute.py (INDEX 0 and 1). Each worker trains a
tiny TextClassifier with plain `model.fit` and writes a digest of its final
weights and its losses to OUT.json; then it reads gzip shards through
`tl.data.stream_examples`, distributed as `fit` distributes its input, and
writes the examples it was given, and fits one epoch on them.
"""

import gzip
import hashlib
import json
import os
import sys
import tempfile

index, port0, port1, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]},
        "task": {"type": "worker", "index": index},
    }
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

strategy = tl.distribute.strategy("auto")  # TF_CONFIG names 2 workers: multi-worker
assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy), type(strategy)

folder = tempfile.mkdtemp()
keras.utils.set_random_seed(1)
tokenizer = keras_hub.models.BertTokenizer(vocabulary=conftest.VOCAB)
keras_hub.models.BertTextClassifierPreprocessor(
    tokenizer=tokenizer, sequence_length=conftest.MAX_LENGTH
).save_to_preset(folder)
conftest.tiny_backbone().save_to_preset(folder)

texts, labels = conftest.toy_examples(32)
keras.utils.set_random_seed(0)
with strategy.scope():
    model = tl.TextClassifier.from_backbone(folder, labels=["neg", "pos"])
history = model.fit(tl.data.from_lists(texts, labels).batch(8), epochs=2, verbose=0)
# The streamed input path (gzip shards read by `tl.data.stream_examples`), as
# `fit` distributes it: each worker reports the examples it was given.
shards = tempfile.mkdtemp()
stream_texts, stream_labels = conftest.toy_examples(40, seed=3)
stream_texts = [f"{i} {text}" for i, text in enumerate(stream_texts)]  # distinct
for k in range(2):
    rows = zip(stream_texts[k::2], stream_labels[k::2])
    with gzip.open(os.path.join(shards, f"train-{k}.tsv.gz"), "wt") as file:
        file.write("sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows))
stream = tl.data.stream_examples(os.path.join(shards, "*.tsv.gz"), "sentence", "label")
seen = []
for x, _ in strategy.experimental_distribute_dataset(stream.batch(8)):
    for local in strategy.experimental_local_results(x):
        seen.extend(text.decode() for text in local.numpy())
stream_history = model.fit(stream.batch(8), epochs=1, verbose=0)

digest = hashlib.sha256()
for variable in model.weights:
    digest.update(np.asarray(variable.numpy()).tobytes())
with open(out, "w") as file:
    json.dump(
        {
            "worker": index,
            "replicas": strategy.num_replicas_in_sync,
            "loss": [float(x) for x in history.history["loss"]],
            "weights_sha256": digest.hexdigest(),
            "stream_examples": stream_texts,
            "stream_seen": seen,
            "stream_loss": [float(x) for x in stream_history.history["loss"]],
        },
        file,
    )

"""`freeze="auto"` choosing SetFit under MirroredStrategy (2 logical CPUs).

Run by tests/test_distribute.py in its own process (the logical devices must
be set before TensorFlow starts): `python mirrored_auto_freeze_check.py FOLDER`
with a sentence-encoder folder; prints the chosen policy and two labels.
"""

import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import conftest  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

texts, labels = conftest.toy_examples(16, 0)
with tl.distribute.strategy("mirrored").scope():
    model = tl.TextClassifier.from_backbone(sys.argv[1], labels=["neg", "pos"])
model.fit(tl.data.from_lists(texts, labels).batch(8), epochs=1, verbose=0)
print(model.freeze, list(model.predict(texts[:2])["label"]))

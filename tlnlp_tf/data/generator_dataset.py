"""A `tf.data.Dataset` read from a Python generator, sharded by data across workers.

The streamed readers (`stream_examples`, `StreamedExamples`,
`StreamedSentences`, `StreamedPropositions`) read their files again in a
generator every time the dataset is iterated. `tf.data` cannot shard a
generator by file, so under `MultiWorkerMirroredStrategy` (and TPU pods)
every worker reads every file and keeps its share of the elements: the
policy is said here (`DATA`), rather than left to `AUTO`, which tries file
sharding first and logs why it cannot. A known count is asserted as the
cardinality, so `fit` and the learning-rate schedule know the steps.

```python
def numbers():
    yield from range(3)

data = generator_dataset(numbers, tf.TensorSpec((), tf.int64), count=3)
int(data.cardinality())  # 3
```
"""

import tensorflow as tf


def generator_dataset(generate, signature, count=None):
    """`Dataset.from_generator(generate, output_signature=signature)`, its
    cardinality `count` (unknown when `None`), auto-sharded by data."""
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if count is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)

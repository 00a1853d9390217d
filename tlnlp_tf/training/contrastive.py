"""Contrastive few-shot fine-tuning: SetFit's first stage, Keras-native.

SetFit (Tunstall et al., "Efficient Few-Shot Learning Without Prompts",
2022) fine-tunes a sentence encoder on pairs drawn from a few labelled
examples: two texts of the same class are a positive pair (target cosine
similarity 1), two of different classes a negative one (target 0), and the
loss is the squared error of the pooled embeddings' cosine similarity
(sentence-transformers' `CosineSimilarityLoss`, SetFit's default). A
logistic head is then fitted on the new embeddings (the task's frozen head,
solved to its optimum: `tlnlp_tf.tasks.feature_cache`).

Stage 1 here is an ordinary `keras.Model` (`PairSimilarity`, the task's
backbone and pooling applied to both texts) trained with `fit` on a
`tf.data` pipeline that tokenizes the pairs in the graph, so it runs under
the task's `tf.distribute` strategy like any other fit.

Example:

```python
first, second, target = draw_pairs([0, 0, 1, 1], iterations=2, seed=0)
# 8 pairs: per example and iteration, one positive and one negative
```
"""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.pooled_encoder import pooled_encoder
from tlnlp_tf.errors import DataError
from tlnlp_tf.training.optimizers import fine_tuning_adamw

# SetFit's defaults are 20 iterations (one positive and one negative pair
# per example each), batch 16, one epoch, body learning rate 2e-5. On SST-2
# with MiniLM (22M parameters), 8 labels per class (dev accuracy, draws 0
# and 1 of benchmarks/few_labels.py): 20 at 2e-5 0.682 / 0.634; 20 at 1e-4
# 0.694 / 0.671; 40 at 5e-5 0.710 (draw 0). Hence 40 iterations at 5e-5 for
# small encoders. On all-mpnet-base-v2 (109M), 5 draws of 8 per class: 40 at
# 5e-5 0.854 ± 0.025, 20 at 2e-5 0.870 ± 0.023 (higher on 4 of 5 draws, in
# half the time; RESULTS.md, setfit_peer_8_all_mpnet_base_v2). Hence
# SetFit's own settings above LARGE_BACKBONE parameters. The LoRA rate
# (1e-3) is not tuned.
ITERATIONS = 40
LEARNING_RATE = 5e-5
LARGE_BACKBONE = 60_000_000
LARGE_ITERATIONS = 20
LARGE_LEARNING_RATE = 2e-5
MAX_PAIRS = 10_000
BATCH_SIZE = 16
LORA_LEARNING_RATE = 1e-3


def default_settings(backbone):
    """`(iterations, learning_rate)` of stage 1 for `backbone`: 40 at 5e-5 up
    to `LARGE_BACKBONE` parameters, SetFit's 20 at 2e-5 above, 1e-3 when
    only LoRA factors train.

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    default_settings(backbone)  # (40, 5e-05): 22M parameters
    ```
    """
    large = backbone.count_params() > LARGE_BACKBONE
    iterations = LARGE_ITERATIONS if large else ITERATIONS
    if any("lora" in w.path for w in backbone.trainable_weights):
        return iterations, LORA_LEARNING_RATE
    return iterations, LARGE_LEARNING_RATE if large else LEARNING_RATE


def is_setfit(policy):
    """Whether a freeze policy asks for contrastive training (`"setfit"`,
    `"setfit-lora-R"`)."""
    return isinstance(policy, str) and (
        policy == "setfit" or policy.startswith("setfit-")
    )


def draw_pairs(labels, iterations=ITERATIONS, seed=0, max_pairs=MAX_PAIRS, names=None):
    """`(first, second, target)` index arrays of balanced contrastive pairs.

    For each iteration and each example `i`: `(i, j)` with `j != i` of the
    same class (target 1.0) and `(i, k)` with `k` of another class (target
    0.0). At most `max_pairs` pairs (a seeded sample, still balanced).
    Every class needs two examples or more: a `DataError` names the one
    that has fewer (by `names[label]` when given).
    """
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise DataError(
            "Contrastive training needs examples of at least 2 classes; the "
            f"training data have only {[str(c) for c in classes]}."
        )
    few = classes[counts < 2]
    if len(few):
        name = str(few[0]) if names is None else str(names[int(few[0])])
        raise DataError(
            f"Contrastive training needs at least 2 labelled examples of each "
            f"class (a positive pair); class '{name}' has "
            f"{int(counts[classes == few[0]][0])}. Add examples or train "
            "without 'setfit'."
        )
    rng = np.random.default_rng(seed)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    others = {c: np.flatnonzero(labels != c) for c in classes}
    first, second, target = [], [], []
    for _ in range(int(iterations)):
        for i, label in enumerate(labels):
            same = members[label]
            partner = rng.choice(same[same != i])
            first += [i, i]
            second += [int(partner), int(rng.choice(others[label]))]
            target += [1.0, 0.0]
    first, second, target = np.array(first), np.array(second), np.array(target)
    if len(first) > max_pairs:
        keep = rng.permutation(len(first) // 2)[: max_pairs // 2]
        keep = np.sort(np.concatenate([2 * keep, 2 * keep + 1]))
        first, second, target = first[keep], second[keep], target[keep]
    return first, second, target.astype("float32")


class PairSimilarity(keras.Model):
    """The cosine similarity of two texts' pooled embeddings (shared encoder).

    Takes `{"first": features, "second": features}` (token features of the
    backbone) and returns `[batch]` similarities.
    """

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, inputs, training=None):
        first = self.encoder(inputs["first"], training=training)
        second = self.encoder(inputs["second"], training=training)
        first = keras.ops.normalize(keras.ops.cast(first, "float32"), axis=-1)
        second = keras.ops.normalize(keras.ops.cast(second, "float32"), axis=-1)
        return keras.ops.sum(first * second, axis=-1)


def fit_contrastive(
    task,
    texts,
    pairs,
    labels,
    epochs=1,
    iterations="auto",
    batch_size=BATCH_SIZE,
    learning_rate="auto",
    seed=0,
    verbose="auto",
    names=None,
):
    """Stage 1: fine-tune `task`'s backbone on contrastive pairs of its data.

    `texts` (and `pairs` for text-pair inputs, else `None`) are lists of
    strings, `labels` class indices (`names` their names, for errors).
    `iterations` and `learning_rate` `"auto"`: `default_settings`.
    Returns the stage's `History`, with `history.pairs` the number of
    pairs trained on.
    """
    auto_iterations, auto_rate = default_settings(task.backbone)
    iterations = auto_iterations if iterations == "auto" else iterations
    learning_rate = auto_rate if learning_rate == "auto" else learning_rate
    first, second, target = draw_pairs(labels, iterations, seed, names=names)
    texts = tf.constant(list(texts), tf.string)
    pairs = None if pairs is None else tf.constant(list(pairs), tf.string)

    def features(index):
        x = tf.gather(texts, index)
        if pairs is not None:
            x = (x, tf.gather(pairs, index))
        return task.batch_features(task.preprocessor(x=x))

    def tokenize(a, b, y):
        return {"first": features(a), "second": features(b)}, y

    data = (
        tf.data.Dataset.from_tensor_slices((first, second, target))
        .shuffle(len(first), seed=seed)
        .batch(batch_size)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = -(-len(first) // batch_size) * int(epochs)
    with task.distribute_strategy.scope():
        model = PairSimilarity(
            pooled_encoder(task.backbone, task.head.pool), name="pair_similarity"
        )
        model.compile(
            optimizer=fine_tuning_adamw(learning_rate, total_steps=steps),
            loss=keras.losses.MeanSquaredError(),
        )
    history = model.fit(data, epochs=int(epochs), verbose=verbose, shuffle=False)
    history.pairs = int(len(first))
    return history

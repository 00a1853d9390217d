"""Masked-LM pretraining on a corpus of any size: streamed, packed, resumable.

`pretrain_masked_lm` takes a list of documents. A corpus of gigabytes is
not a list: `pretrain_masked_lm_stream` reads it as a `tf.data.Dataset`
of documents (`stream_corpus`), tokenizes it in the graph, lays the
documents end to end with `[SEP]` between them and cuts blocks of
`max_length` tokens (`tl.data.pack_blocks`: no padding), shuffles the
blocks in a bounded buffer, masks them as BERT does, and trains for a
number of optimizer `steps`: memory holds buffers, not the corpus.

A backup is written every `backup_every` steps (Keras's
`BackupAndRestore`, two checkpoints): run the same call again after a
kill and it resumes from the last backup, skipping the blocks already
trained on. The held-out documents (the first `held_out` of the stream,
left out of training) give the masked-LM loss before and after.

```python
documents = tl.pretraining.stream_corpus("corpus/*.txt.gz")
masked_lm, report = pretrain_masked_lm_stream(
    "minilm", documents, steps=300, backup_dir="run/backup"
)
report["rss_mb"]  # {10: …, 100: …, 300: …}: resident memory at those steps
```
"""

import math
import time
import warnings

import keras
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.text_blocks import pack_blocks
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining.masked_lm import HEAD_MULTIPLIER
from tlnlp_tf.pretraining.masked_lm import _head_variables
from tlnlp_tf.pretraining.masked_lm import _masked_batches
from tlnlp_tf.pretraining.masked_lm import _new_masked_lm
from tlnlp_tf.pretraining.masked_lm import _scores
from tlnlp_tf.training import fine_tuning_adamw
from tlnlp_tf.training.callbacks import RandomStateBackup
from tlnlp_tf.training.callbacks import backed_up_epoch
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.memory import RSSAtSteps

# Blocks in the shuffle buffer (at 128 tokens, about 5 MB of ids).
SHUFFLE_BLOCKS = 10_000


def pretrain_masked_lm_stream(
    spec,
    documents,
    steps,
    backup_dir=None,
    batch_size=32,
    max_length=128,
    mask_rate=0.15,
    learning_rate=5e-5,
    held_out=256,
    backup_every=100,
    seed=0,
    weights="pretrained",
    callbacks=None,
    verbose="auto",
):
    """Masked-LM training for `steps` steps on a streamed corpus; see the module doc.

    Args:
        spec: a backbone spec, as for `load_backbone` (a new-vocabulary
            preset folder too).
        documents: a `tf.data.Dataset` of document strings (`stream_corpus`);
            it is read again from its start when it runs out.
        steps: optimizer steps (rounded up to whole backups, see below).
        backup_dir: where the backup goes; `None`: no backup, no resume.
        max_length: tokens per block, `[CLS]` and `[SEP]` included.
        held_out: documents from the start of the stream kept out of
            training to score the masked-LM loss before and after (0: none).
        backup_every: steps between backups; the run trains in "epochs" of
            this many steps (`ceil(steps / epochs)` when they do not divide).
        callbacks: more Keras callbacks for `fit`.

    Returns:
        `(masked_lm, report)`, as `pretrain_masked_lm`, with `steps`,
        `blocks` (trained on), `resumed_from_step` and `rss_mb` (resident
        memory after steps 10, 100 and the last).

    ```python
    documents = tl.pretraining.stream_corpus("corpus/*.txt.gz")
    masked_lm, report = pretrain_masked_lm_stream(
        "minilm", documents, steps=2, batch_size=4, held_out=2, backup_dir=None
    )
    report["masked_lm_loss"]  # {'before': …, 'after': …}
    ```
    """
    _check(documents, steps, batch_size, max_length, held_out, backup_every)
    keras.utils.set_random_seed(seed)
    backbone, classifier_preprocessor = load_backbone(spec, weights=weights)
    masked_lm = _new_masked_lm(
        backbone, classifier_preprocessor.tokenizer, max_length, mask_rate
    )
    preprocessor = masked_lm.preprocessor
    epochs = math.ceil(steps / min(backup_every, steps))
    per_epoch = math.ceil(steps / epochs)
    total = per_epoch * epochs
    head = {path: HEAD_MULTIPLIER for path in _head_variables(masked_lm)}
    masked_lm.compile(
        optimizer=fine_tuning_adamw(learning_rate, total_steps=total, multipliers=head)
    )
    texts = [t.numpy().decode("utf-8") for t in documents.take(held_out)]
    held_out_batches = _masked_batches(preprocessor, texts, batch_size, seed)
    before = _scores(masked_lm, held_out_batches)

    resumed = (backed_up_epoch(backup_dir) or 0) if backup_dir else 0
    training = documents.skip(held_out)
    first = masked_blocks(training, preprocessor, batch_size, seed, shuffle=0)
    if next(iter(first.take(1)), None) is None:
        raise DataError(
            f"The corpus has too little text after its first {held_out} "
            f"(held-out) documents for one batch of {batch_size} blocks of "
            f"{max_length} tokens; lower held_out, batch_size or max_length."
        )
    data = masked_blocks(training, preprocessor, batch_size, seed)
    data = data.repeat().skip(resumed * per_epoch)
    rss = RSSAtSteps(steps=(10, 100))
    callbacks = [*(callbacks or []), rss]
    if backup_dir is not None:
        callbacks = [
            RandomStateBackup(backup_dir),
            keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
            *callbacks,
        ]
    masked_lm.preprocessor = None  # the blocks are masked in tf.data already
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # the unused pooler gets no gradient
            warnings.filterwarnings("ignore", message="Gradients do not exist")
            build_optimizer(masked_lm)
            history = masked_lm.fit(
                data,
                epochs=epochs,
                steps_per_epoch=per_epoch,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # shuffled in tf.data (`masked_blocks`)
            )
    finally:
        masked_lm.preprocessor = preprocessor
    seconds = time.perf_counter() - start
    after = _scores(masked_lm, held_out_batches)
    report = {
        "backbone": str(spec),
        "weights": weights,
        "streamed": True,
        "steps": total,
        "blocks": total * batch_size,
        "resumed_from_step": resumed * per_epoch,
        "held_out_documents": len(texts),
        "max_length": int(max_length),
        "mask_rate": mask_rate,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "masked_lm_loss": {"before": before["loss"], "after": after["loss"]},
        "masked_accuracy": {"before": before["accuracy"], "after": after["accuracy"]},
        "train_seconds": round(seconds, 2),
        "rss_mb": {str(step): mb for step, mb in sorted(rss.rss_mb.items())},
        "history": {
            name: [round(float(v), 6) for v in values]
            for name, values in history.history.items()
        },
    }
    return masked_lm, report


def masked_blocks(documents, preprocessor, batch_size, seed=0, shuffle=SHUFFLE_BLOCKS):
    """Batches `(x, mask_ids, mask_weights)` of masked, packed blocks, in tf.data.

    Each block is `[CLS]`, `max_length - 2` ids of documents laid end to
    end (`[SEP]` after each), `[SEP]`; `preprocessor` (a keras-hub
    `MaskedLMPreprocessor`) gives the tokenizer, the length and the masks.
    The blocks are shuffled in a buffer of `shuffle` blocks (0: in order).

    ```python
    documents = tl.pretraining.stream_corpus("corpus/*.txt.gz")
    data = masked_blocks(documents, masked_lm.preprocessor, batch_size=4)
    ```
    """
    if not preprocessor.built:
        preprocessor.build(None)  # makes its mask generator
    tokenizer = preprocessor.tokenizer
    start, end = tokenizer.start_token_id, tokenizer.end_token_id
    ids = documents.batch(256).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    blocks = pack_blocks(ids, preprocessor.sequence_length - 2, end_of_text_id=end)
    keys = set(preprocessor(tf.constant(["a"]))[0])

    def mask(block):
        rows = tf.shape(block)[0]
        token_ids = tf.concat(
            [tf.fill([rows, 1], start), block, tf.fill([rows, 1], end)], axis=1
        )
        masked = preprocessor.masker(token_ids)
        x = {
            "token_ids": masked["token_ids"],
            "padding_mask": tf.ones_like(token_ids, tf.bool),
            "mask_positions": masked["mask_positions"],
        }
        if "segment_ids" in keys:
            x["segment_ids"] = tf.zeros_like(token_ids)
        return x, masked["mask_ids"], masked["mask_weights"]

    if shuffle:
        blocks = blocks.shuffle(shuffle, seed=seed)
    batches = blocks.batch(batch_size, drop_remainder=True)
    return batches.map(mask, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def _check(documents, steps, batch_size, max_length, held_out, backup_every):
    if not isinstance(documents, tf.data.Dataset):
        raise DataError(
            "pretrain_masked_lm_stream takes a tf.data.Dataset of documents "
            "(stream_corpus); for a list use pretrain_masked_lm."
        )
    for name, value, low in (
        ("steps", steps, 1),
        ("batch_size", batch_size, 1),
        ("max_length", max_length, 8),
        ("held_out", held_out, 0),
        ("backup_every", backup_every, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PolicyError(f"{name} must be an integer >= {low}, got {value!r}.")

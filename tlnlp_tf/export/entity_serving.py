"""The serving function of a `TokenClassifier`: raw texts in, entities out.

Everything `TokenClassifier.predict` does, in TF ops: the model's word
splitter, word pieces, overlapping word windows for long texts (each word
tagged by its most central window), the CRF's Viterbi path, the allowed
path (`decoding="allowed"`) or the argmax, the IOB1 reading of the tags, and
entities with character offsets.

```python
tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
model = tl.TokenClassifier.from_backbone("minilm", tags=tags)
serve, signature, trackables = entity_serving(model)
out = serve(tf.constant(["Angela Merkel visited Paris ."]))
out["entity_text"][0, : out["entity_count"][0]]  # trained: [b"Angela Merkel", b"Paris"]
```
"""

import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.export.graph_words import GraphWordSplitter
from tlnlp_tf.export.graph_words import checked_texts
from tlnlp_tf.layers.crf import CRF
from tlnlp_tf.tasks.word_pieces import word_pieces


def entity_serving(model):
    """`(serve, input_signature, trackables)` for a `TokenClassifier`.

    `serve(text)` takes `[batch]` strings and returns the entities
    `model.predict` finds, padded to the most entities in a row:
    `entity_text`, `entity_label` (string `[batch, entities]`; `""` as
    padding), `entity_start`, `entity_end` (int64 character offsets,
    `text[start:end] == entity_text`; -1 as padding), `entity_score`
    (float32, the mean tag probability; 0 as padding) and `entity_count`
    (int64 `[batch]`). Long texts are windowed as `predict` windows them:
    nothing is truncated.

    ```python
    tagger = tl.TokenClassifier.from_backbone("minilm", tags=["O", "B-PER", "I-PER"])
    serve, _, _ = entity_serving(tagger)
    serve(tf.constant(["Ann was in Paris ."]))["entity_label"]  # trained: [[b"PER"]]
    ```
    """
    outside, begins, kinds, kind_names = _tag_table(model.tags)
    splitter = GraphWordSplitter(model.word_splitter)
    # `decoding="allowed"` (or `"auto"` on a tag scheme) in the graph: the
    # CRF's Viterbi with zero transition scores, on the log-probabilities.
    paths = None
    if not model.crf and model.decodes_allowed_paths:
        paths = CRF(model.tags, name="allowed_paths")
    budget = model.sequence_length() - 2
    tokenizer = model.preprocessor.tokenizer

    def serve(text):
        text = checked_texts(text, "text")
        words, starts, ends = splitter(text)
        flat_words = words.flat_values
        counts = tf.cast(word_pieces(tokenizer, flat_words).row_lengths(), tf.int32)
        sentence, first, stop = word_windows(words.with_flat_values(counts), budget)
        # Window k holds words [first, stop) of its sentence, joined by spaces
        # as `predict` feeds them to the model.
        offset = tf.gather(tf.cast(words.row_starts(), tf.int32), sentence)
        members = tf.ragged.range(first, stop) + offset[:, None]  # [K, (w)]
        inputs = tf.strings.reduce_join(
            tf.gather(flat_words, members), axis=1, separator=" "
        )
        logits = tf.cast(
            model(model.preprocess_batch(inputs), training=False), "float32"
        )
        ids, scores = _window_tags(model, logits, tf.gather(counts, members), paths)
        word_ids, word_scores = _central(
            members, first, stop, ids, scores, tf.size(flat_words)
        )
        table = (outside, begins, kinds, kind_names)
        return _entities(text, words, starts, ends, word_ids, word_scores, table)

    trackables = [splitter] + ([paths] if paths is not None else [])
    return serve, [tf.TensorSpec([None], tf.string, name="text")], trackables


def word_windows(counts, budget):
    """`(sentence, first, stop)` `[windows]` int32: `sub_word_windows` in the graph.

    `counts` is ragged `[sentences, (words)]`, each word's sub-word count.
    A sentence of at most `budget` sub-words is one window; a longer one is
    cut into windows of whole words, at most `budget` sub-words each (a
    longer word alone), half a window apart. Sentences without words get none.

    ```python
    word_windows(tf.ragged.constant([[2, 2, 2, 2], [1]]), 4)
    # sentence [0, 0, 0, 1], first [0, 1, 2, 0], stop [2, 3, 4, 1]
    ```
    """
    totals = tf.cast(counts.row_lengths(), tf.int32)
    rows = tf.size(totals)
    sums = tf.cumsum(tf.cast(counts.to_tensor(), tf.int64), axis=1)
    sums = tf.concat([tf.zeros([rows, 1], tf.int64), sums], axis=1)
    column = tf.range(tf.shape(sums)[1])[None]
    sums = tf.where(column <= totals[:, None], sums, sums.dtype.max)

    def step(start, active, windows):
        limit = tf.gather(sums, start, batch_dims=1) + budget
        stop = tf.searchsorted(sums, limit[:, None], side="right")[:, 0] - 1
        stop = tf.maximum(tf.cast(stop, tf.int32), start + 1)
        found = tf.stack([tf.range(rows), start, stop], axis=1)
        windows = tf.concat([windows, tf.boolean_mask(found, active)], axis=0)
        active &= stop < totals
        start = tf.maximum(start + 1, start + (stop - start) // 2)
        return start, active, windows

    _, _, windows = tf.while_loop(
        lambda start, active, windows: tf.reduce_any(active),
        step,
        (tf.zeros([rows], tf.int32), totals > 0, tf.zeros([0, 3], tf.int32)),
        shape_invariants=(
            tf.TensorShape([None]),
            tf.TensorShape([None]),
            tf.TensorShape([None, 3]),
        ),
    )
    windows = tf.gather(windows, tf.argsort(windows[:, 0], stable=True))
    return windows[:, 0], windows[:, 1], windows[:, 2]


def _window_tags(model, logits, counts, paths=None):
    """Per window word (ragged `[K, (w)]`): its tag id and that tag's probability.

    Read at each word's first sub-word (after [CLS]); with a CRF the ids
    are the Viterbi path over the first sub-words; with `paths` (a CRF of
    zero transition scores) the most probable allowed path of the
    probabilities; else the argmax.
    """
    length = tf.shape(logits)[1]
    within = tf.cumsum(counts.flat_values, exclusive=True)
    within -= tf.repeat(tf.gather(within, counts.row_starts()), counts.row_lengths())
    positions = tf.minimum(1 + within, length - 1)
    at = tf.stack([tf.cast(counts.value_rowids(), tf.int32), positions], axis=1)
    probabilities = tf.nn.softmax(tf.gather_nd(logits, at), axis=-1)
    if model.crf or paths is not None:
        mask = tf.scatter_nd(at, tf.ones_like(positions, tf.bool), tf.shape(logits)[:2])
        if model.crf:
            best = model.head.crf.decode(logits, mask)
        else:
            best = paths.decode(tf.nn.log_softmax(logits, axis=-1), mask)
        ids = tf.cast(tf.gather_nd(best, at), tf.int32)
    else:
        ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    scores = tf.gather(probabilities, ids, batch_dims=1)
    return ids, scores


def _central(members, first, stop, ids, scores, words):
    """Each word's tag from its most central window (the earliest on a tie)."""
    word = members.flat_values
    window = tf.cast(members.value_rowids(), tf.int32)
    local = tf.cast(tf.ragged.range(members.row_lengths()).flat_values, tf.int32)
    distance = tf.minimum(local, tf.gather(stop - first, window) - 1 - local)
    span = tf.cast(words, tf.int64) + 1
    earlier = span - 1 - tf.cast(tf.gather(first, window), tf.int64)
    key = tf.cast(distance, tf.int64) * span + earlier
    best = tf.math.unsorted_segment_max(key, word, words)
    chosen = tf.equal(key, tf.gather(best, word))
    where = tf.boolean_mask(word, chosen)[:, None]
    return (
        tf.scatter_nd(where, tf.boolean_mask(ids, chosen), [words]),
        tf.scatter_nd(where, tf.boolean_mask(scores, chosen), [words]),
    )


def _entities(text, words, starts, ends, ids, scores, table):
    """Entities of the IOB tags `ids` of `words`, padded per text."""
    outside, begins, kinds, kind_names = table
    is_outside = tf.gather(outside, ids)
    kind = tf.gather(kinds, ids)
    index = tf.range(tf.size(ids))
    row_start = tf.cast(words.row_starts(), tf.int32)
    opens = tf.equal(index, tf.gather(row_start, words.value_rowids()))
    previous_outside = tf.concat([[True], is_outside[:-1]], 0)
    previous_kind = tf.concat([[-1], kind[:-1]], 0)
    # IOB1 read as `predict` reads it (`to_iob2(..., "iob1")`): an I-X that
    # continues nothing starts an entity.
    starts_entity = ~is_outside & (
        tf.gather(begins, ids) | opens | previous_outside | (previous_kind != kind)
    )
    entity = tf.cumsum(tf.cast(starts_entity, tf.int32)) - 1
    inside = ~is_outside
    member = tf.boolean_mask(entity, inside)
    count = tf.reduce_sum(tf.cast(starts_entity, tf.int32))
    first = tf.boolean_mask(index, starts_entity)
    last = tf.math.unsorted_segment_max(tf.boolean_mask(index, inside), member, count)
    score = tf.math.unsorted_segment_mean(
        tf.boolean_mask(scores, inside), member, count
    )
    row = tf.gather(words.value_rowids(), first)
    start = tf.gather(starts.flat_values, first)
    end = tf.gather(ends.flat_values, last)
    found = {
        "entity_text": tf.strings.substr(
            tf.gather(text, row), start, end - start, unit="UTF8_CHAR"
        ),
        "entity_label": tf.gather(kind_names, tf.gather(kind, first)),
        "entity_start": start,
        "entity_end": end,
        "entity_score": score,
    }
    padding = {"entity_text": "", "entity_label": "", "entity_score": 0.0}
    rows = tf.shape(text, out_type=tf.int64)[0]
    outputs = {
        name: tf.RaggedTensor.from_value_rowids(values, row, nrows=rows).to_tensor(
            padding.get(name, -1)
        )
        for name, values in found.items()
    }
    outputs["entity_count"] = tf.math.bincount(
        row, minlength=rows, maxlength=rows, dtype=tf.int64
    )
    return outputs


def _tag_table(tags):
    """Per tag id: outside (O), begins (B-), its entity kind's id; the kind names.

    Tags `predict` cannot read (not `O`, `B-X` or `I-X`) are a `PolicyError`.
    """
    kind_names, rows = [], []
    for tag in tags:
        if tag == "O":
            rows.append((True, False, -1))
            continue
        if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI":
            raise PolicyError(
                f"Tag '{tag}': the serving export reads IOB tags ('O', 'B-X', "
                f"'I-X') into entities, as predict does; the model's tags are "
                f"{list(tags)}."
            )
        if tag[2:] not in kind_names:
            kind_names.append(tag[2:])
        rows.append((False, tag[0] == "B", kind_names.index(tag[2:])))
    outside, begins, kinds = zip(*rows)
    return (
        tf.constant(outside),
        tf.constant(begins),
        tf.constant(np.array(kinds, np.int32)),
        tf.constant(kind_names or [""], tf.string),
    )

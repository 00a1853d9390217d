"""Prompt–response pairs for a causal LM: the loss on the response only.

Instruction tuning trains on a prompt followed by its response, but only
the response is what the model should learn to write: the prompt's tokens
get weight 0 (Hugging Face TRL's completion-only collator does the same).
`LanguageModel.fit(prompts, responses)` packs each pair with
`pack_pairs`: the prompt's tokens, then the response's, then the
preprocessor's start and end tokens around both, as a single text would be
packed; the weights mark the targets that are response tokens or the end
token.

```python
prompt_ids = tf.ragged.constant([[5, 6], [7]])
response_ids = tf.ragged.constant([[8], [9, 10]])
x, y, weights = pack_pairs(model.preprocessor, prompt_ids, response_ids, 8)
weights[0]  # [False, False, True, True, False, …]: "8" and the end token
```
"""

import keras_hub
import tensorflow as tf

from tlnlp_tf.errors import DataError


def pack_pairs(preprocessor, prompt_ids, response_ids, length):
    """`(features, targets, weights)` of prompt–response pairs, `length` columns.

    Args:
        preprocessor: a keras-hub `CausalLMPreprocessor` (its packer and
            its start/end token settings).
        prompt_ids, response_ids: ragged int32 token ids, one row per pair,
            without start or end tokens.
        length: the columns of the features (the packed sequence is one
            longer: targets are the next tokens).

    A pair longer than `length` tokens loses the tail of its response (as a
    long text does); its end token, which the packer keeps, then has weight
    0, so the model does not learn to stop mid-response. Its `weights` have
    fewer ones, or none when the prompt fills the length.
    """
    if preprocessor.packer is None:
        preprocessor.build(None)
    add_start, add_end = preprocessor.add_start_token, preprocessor.add_end_token
    ids = tf.concat([prompt_ids, response_ids], axis=1)
    ids, padding = preprocessor.packer(
        ids,
        sequence_length=length + 1,
        add_start_value=add_start,
        add_end_value=add_end,
    )
    # The same packing of a 0/1 "is response" marker: the start token counts
    # as prompt, the end token as response.
    marker = tf.concat([tf.zeros_like(prompt_ids), tf.ones_like(response_ids)], axis=1)
    marker_packer = keras_hub.layers.StartEndPacker(
        sequence_length=length + 1, start_value=0, end_value=1, pad_value=0
    )
    response = marker_packer(marker, add_start_value=add_start, add_end_value=add_end)
    features = {"token_ids": ids[:, :-1], "padding_mask": padding[:, :-1]}
    weights = tf.logical_and(padding[:, 1:], tf.equal(response[:, 1:], 1))
    needed = prompt_ids.row_lengths() + response_ids.row_lengths()
    needed += int(bool(add_start)) + int(bool(add_end))
    fits = needed <= length + 1
    weights = tf.concat(
        [weights[:, :-1], tf.logical_and(weights[:, -1:], fits[:, None])], axis=1
    )
    return features, ids[:, 1:], weights


def cut_responses(response_ids, weights):
    """`(cut, lost)`: pairs whose response lost tokens to the length, and those
    that kept none (`weights` from `pack_pairs` of these `response_ids`)."""
    counted = tf.reduce_sum(tf.cast(weights, tf.int64), axis=1)
    whole = response_ids.row_lengths() + 1  # and the end token
    cut = int(tf.reduce_sum(tf.cast(counted < whole, tf.int32)))
    lost = int(tf.reduce_sum(tf.cast(counted == 0, tf.int32)))
    return cut, lost


def is_pair_dataset(dataset):
    """Whether a dataset's elements are `(prompt, response)` string tensors."""
    if not isinstance(dataset, tf.data.Dataset):
        return False
    spec = dataset.element_spec
    return (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(s, tf.TensorSpec) and s.dtype == tf.string for s in spec)
    )


def is_pair_batch(x, y):
    """Whether `preprocess_samples` got a batch of prompts and their responses."""
    return all(
        isinstance(t, tf.Tensor) and t.dtype == tf.string and t.shape.rank == 1
        for t in (x, y)
    )


def joined_pairs(dataset, limit):
    """Up to `limit` prompts joined to their responses, from a batched
    dataset of pairs: the texts whose lengths `fit` chooses `max_length` by."""
    texts = []
    for prompts, responses in dataset:
        texts += [
            (p + r).decode("utf-8")
            for p, r in zip(prompts.numpy().reshape(-1), responses.numpy().reshape(-1))
        ]
        if len(texts) >= limit:
            break
    return texts[:limit]


def checked_pairs(prompts, responses, where, texts):
    """`(prompts, responses)` as two equally long lists, each made by
    `texts(x, where)` (the model's own text check); datasets are refused."""
    if isinstance(prompts, tf.data.Dataset) or isinstance(responses, tf.data.Dataset):
        raise DataError(
            f"{where}: prompt–response pairs are two lists of strings "
            "(prompts, responses); a dataset gives both in one element: "
            "(prompt, response) strings, or model.tokenize_pairs' features."
        )
    prompts, responses = texts(prompts, where), texts(responses, f"{where} (responses)")
    if len(prompts) != len(responses):
        raise DataError(
            f"{where}: {len(prompts)} prompts but {len(responses)} responses; "
            "each prompt needs its response."
        )
    return prompts, responses


def validation_pairs(validation):
    """`validation_data=(prompts, responses)` as two lists."""
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise DataError(
            "fit(validation_data=...): with prompts and responses to train on, "
            "validation_data is a (prompts, responses) pair of lists too."
        )
    return validation

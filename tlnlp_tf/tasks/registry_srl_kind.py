"""How the semantic-role-labeling kind reads predicate blocks and predicts.

The hooks of "semantic-role-labeling" in the task registry
(`tlnlp_tf.tasks.registry`): one block per predicate (token, 0/1 predicate
marker and BIO role tag columns).

Example:

```python
data = read_propositions("srl.tsv", {"predicate_column": 1})
data.words[0], data.predicates[0]  # the sentence and its predicate's index
```
"""

from tlnlp_tf.errors import DataError
from tlnlp_tf.tasks.registry_encoder_kinds import CONLL_COLUMNS
from tlnlp_tf.tasks.role_labeler_preprocessor import RoleLabelerPreprocessor

SRL_COLUMNS = {
    "token_column": CONLL_COLUMNS["token_column"],
    "predicate_column": {
        "type": int,
        "help": "semantic-role-labeling: column of the predicate marker, 1 on "
        "the predicate's token and 0 elsewhere (default 1, the second)",
    },
    "tag_column": CONLL_COLUMNS["tag_column"],
}


def read_propositions(path, columns, limit=None, seed=0, stream=False):
    """`Propositions` of a per-predicate SRL file or shards (`read_srl`);
    `StreamedPropositions` for a large or sharded input read whole with
    `stream=True`."""
    from tlnlp_tf.data.srl import read_srl

    token, predicate, tag = (
        columns.get(name) for name in ("token_column", "predicate_column", "tag_column")
    )
    return read_srl(
        path,
        token_column=0 if token is None else token,
        predicate_column=1 if predicate is None else predicate,
        tag_column=-1 if tag is None else tag,
        limit=limit,
        seed=seed,
        stream=stream,
    )


def read_input_propositions(path, columns):
    """Predicate instances to label: a per-predicate file; a tag column is ignored."""
    from tlnlp_tf.data.srl import read_srl

    if path == "-":
        raise DataError(
            "semantic-role-labeling: --input must be a file of predicate blocks "
            "(a token and a 0/1 predicate-marker column); standard input is not "
            "read."
        )
    token, predicate = columns.get("token_column"), columns.get("predicate_column")
    return read_srl(
        path,
        token_column=0 if token is None else token,
        predicate_column=1 if predicate is None else predicate,
        tag_column=None,
    )


def predict_roles(model, data, batch_size):
    """`{"text", "predicate", "arguments"}` per instance (offsets into `text`)."""
    results = model.predict(data.words, list(data.predicates), batch_size=batch_size)
    records = []
    for words, index, arguments in zip(data.words, data.predicates, results):
        start = len(" ".join(words[:index])) + (1 if index else 0)
        predicate = {
            "index": index,
            "text": words[index],
            "start": start,
            "end": start + len(words[index]),
        }
        records.append(
            {"text": " ".join(words), "predicate": predicate, "arguments": arguments}
        )
    return records


def new_role_preprocessor(text_preprocessor, limit, options):
    """A `RoleLabelerPreprocessor` (takes `predicate_encoding` out of `options`)."""
    return RoleLabelerPreprocessor(
        text_preprocessor.tokenizer,
        sequence_length=limit,
        predicate_encoding=options.pop("predicate_encoding", "segment"),
    )

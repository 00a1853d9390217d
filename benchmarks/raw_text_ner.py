"""Raw text tagged as well as tokenized text: CoNLL-2003 test, MiniLM tagger.

    python benchmarks/raw_text_ner.py --limit 2000 --epochs 2

One `TokenClassifier` (defaults) is trained on a seeded sample of the
CoNLL-2003 training sentences, then scored on the whole test split four ways:

- `tokens`: `predict_tags` on the CoNLL tokens (what `evaluate` scores);
- `raw`: each test sentence as one line of text, its tokens joined by spaces,
  through `predict` (what `tlnlp predict` does), with the model's fitted
  `word_splitter`; and the same with the unfitted splitter (`split_words`,
  the splitting before issue 16) in the same run;
- `detokenized`: the same sentences with the spaces before `, . ; : ) 's`
  and after `(` and `$` removed, as a person would write them, both ways.

Raw-text entities are character spans; an entity counts as correct only if
its span starts and ends exactly at a gold token's boundaries and its type
matches (then it is the same entity as in CoNLL tags). Every score is entity
micro F1 with CoNLL semantics (`tl.metrics.entity_scores`).
"""

import os
import re
import sys

import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

_NO_SPACE_BEFORE = re.compile(r" (?=[,.;:)%]|'s\b|n't\b|'\s)")
_NO_SPACE_AFTER = re.compile(r"(?<=[($]) ")


def detokenize(words):
    """The words as a person would write them: no space before `, . ) 's`."""
    text = " ".join(words)
    return _NO_SPACE_AFTER.sub("", _NO_SPACE_BEFORE.sub("", text))


def token_spans(text, words):
    """`[(start, end)]` of each word in `text` (words in order, as written)."""
    spans, position = [], 0
    for word in words:
        start = text.index(word, position)
        spans.append((start, start + len(word)))
        position = start + len(word)
    return spans


def entities_as_tags(entities, spans):
    """IOB2 tags over the gold tokens; an entity off the token boundaries is lost."""
    tags = ["O"] * len(spans)
    starts = {start: i for i, (start, _) in enumerate(spans)}
    ends = {end: i for i, (_, end) in enumerate(spans)}
    lost = 0
    for entity in entities:
        first, last = starts.get(entity["start"]), ends.get(entity["end"])
        if first is None or last is None or last < first:
            lost += 1
            continue
        tags[first] = "B-" + entity["type"]
        for index in range(first + 1, last + 1):
            tags[index] = "I-" + entity["type"]
    return tags, lost


def raw_scores(model, test, write):
    texts = [write(words) for words in test.words]
    predicted = model.predict(texts, batch_size=64)
    tags, lost = [], 0
    for text, words, entities in zip(texts, test.words, predicted):
        sentence_tags, missed = entities_as_tags(entities, token_spans(text, words))
        tags.append(sentence_tags)
        lost += missed
    split = [model.word_splitter.split(text) for text in texts]
    differ = sum(
        [w for w, _, _ in words] != list(gold) for words, gold in zip(split, test.words)
    )
    scores = tl.metrics.entity_scores(test.tags, tags)
    return {
        "f1": round(scores["f1"], 4),
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "entities_off_token_boundaries": lost,
        "sentences_split_differently": differ,
    }


def main(argv=None):
    parser = _common.parser(__doc__, "conll2003", epochs=2)
    args = parser.parse_args(argv)
    train = tl.data.read_conll(os.path.join(args.data, "train.txt")).sample(
        args.limit, args.seed
    )
    test = tl.data.read_conll(os.path.join(args.data, "test.txt")).check_tags(
        train.tag_names()
    )
    keras.utils.set_random_seed(args.seed)
    model = tl.TokenClassifier.from_backbone("minilm", tags=train.tag_names())
    data = train.to_dataset().shuffle(len(train), seed=args.seed).batch(args.batch_size)
    _, seconds = _common.timed(lambda: model.fit(data, epochs=args.epochs, verbose=2))
    predicted, _ = model.predict_tags(test.words)
    tokens = tl.metrics.entity_scores(test.tags, predicted)
    fitted = model.word_splitter
    results = {
        "train_sentences": len(train),
        "test_sentences": len(test),
        "epochs": args.epochs,
        "train_seconds": round(seconds, 1),
        "splitter": {"whole": len(fitted.whole), "shapes": len(fitted.shapes)},
        "tokens": {"f1": round(tokens["f1"], 4)},
    }
    for name, write in (("raw", " ".join), ("detokenized", detokenize)):
        model.word_splitter = fitted
        results[name] = raw_scores(model, test, write)
        model.word_splitter = tl.data.WordSplitter()  # split_words: the old way
        results[name + "_split_words"] = raw_scores(model, test, write)
        print(name, results[name], results[name + "_split_words"], flush=True)
    _common.write_results(
        "raw_text_ner",
        results,
        "Raw text vs tokens: CoNLL-2003 test, MiniLM tagger (issue 16)",
        table(results),
        _common.command("raw_text_ner.py", argv),
    )


def table(results):
    token_f1 = results["tokens"]["f1"]
    rows = [
        f"One MiniLM `TokenClassifier` (defaults), {results['train_sentences']} "
        f"training sentences, {results['epochs']} epochs ({results['train_seconds']} "
        f"s); all {results['test_sentences']} test sentences. Fitted splitter: "
        f"{results['splitter']['whole']} whole words, "
        f"{results['splitter']['shapes']} shapes.",
        "",
        "| input | splitter | entity F1 | F1 − tokens (points) | sentences split "
        "differently | entities off token boundaries |",
        "|---|---|---|---|---|---|",
        f"| CoNLL tokens (`evaluate`) | — | {token_f1:.4f} | 0 | 0 | 0 |",
    ]
    for name, label in (
        ("raw", "tokens joined by spaces"),
        ("detokenized", "detokenized text"),
    ):
        for suffix, splitter in (("", "fitted"), ("_split_words", "`split_words`")):
            r = results[name + suffix]
            rows.append(
                f"| {label} (`predict`) | {splitter} | {r['f1']:.4f} | "
                f"{100 * (r['f1'] - token_f1):+.2f} | "
                f"{r['sentences_split_differently']} | "
                f"{r['entities_off_token_boundaries']} |"
            )
    return rows


if __name__ == "__main__":
    main()

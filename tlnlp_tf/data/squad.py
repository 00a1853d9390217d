"""Read SQuAD-style extractive QA data (v1.1 and v2) into `QuestionAnswers`."""

import json
import random
import warnings

import tensorflow as tf

from tlnlp_tf.data.examples import check_count
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.words import split_words
from tlnlp_tf.errors import DataError


class QuestionAnswers:
    """Questions on contexts with their answers (character offsets), in memory.

    Attributes are parallel lists: `ids`, `titles`, `questions`, `contexts`,
    `answers` (per question, a list of `{"text", "start"}`; empty when the
    question has no answer in its context, as SQuAD v2's `is_impossible`).

    Example:

    ```python
    from tlnlp_tf.metrics import squad_scores

    train, dev = read_squad("train-v1.1.json"), read_squad("dev-v1.1.json")
    model.fit(train.to_dataset().shuffle(100_000).batch(16))
    predictions = model.predict(dev.inputs())
    squad_scores([p["answer"] for p in predictions], dev.answer_texts())
    ```
    """

    def __init__(self, ids, titles, questions, contexts, answers, source="<lists>"):
        self.ids = list(ids)
        self.titles = list(titles)
        self.questions = list(questions)
        self.contexts = list(contexts)
        self.answers = [list(a) for a in answers]
        self.source = source
        self._words = {}

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return (
            f"<QuestionAnswers {len(self)} questions on {len(set(self.contexts))} "
            f"contexts from {self.source}>"
        )

    @property
    def has_impossible(self):
        """Whether some questions have no answer (SQuAD v2)."""
        return any(not answers for answers in self.answers)

    def select(self, indices):
        """The examples at `indices`, in that order."""
        pick = lambda values: [values[i] for i in indices]
        return QuestionAnswers(
            pick(self.ids),
            pick(self.titles),
            pick(self.questions),
            pick(self.contexts),
            pick(self.answers),
            self.source,
        )

    def sample(self, limit, seed=0):
        """A seeded random sample of `limit` questions (all of them when `None`)."""
        check_count(limit)
        if limit is None or limit >= len(self):
            return self
        return self.select(sorted(random.Random(seed).sample(range(len(self)), limit)))

    def split_articles(self, count):
        """`(first, rest)`: the questions of the first `count` articles, and the others.

        Splitting by article keeps every context on one side only, so the
        evaluation never sees a training paragraph.
        """
        order = list(dict.fromkeys(self.titles))
        if not 0 < count < len(order):
            raise DataError(
                f"{self.source}: cannot take {count} of {len(order)} articles."
            )
        chosen = set(order[:count])
        first = [i for i, title in enumerate(self.titles) if title in chosen]
        rest = [i for i, title in enumerate(self.titles) if title not in chosen]
        return self.select(first), self.select(rest)

    def inputs(self):
        """`[{"question", "context"}]`, the form `SpanExtractor.predict` takes."""
        return [
            {"question": q, "context": c} for q, c in zip(self.questions, self.contexts)
        ]

    def answer_texts(self):
        """Per question, its gold answer texts (`[""]` for no answer)."""
        return [[a["text"] for a in answers] or [""] for answers in self.answers]

    def words(self, context):
        """`[(word, start, end)]` of a context (cached: contexts repeat)."""
        if context not in self._words:
            self._words[context] = split_words(context)
        return self._words[context]

    def answer_words(self, index):
        """`(first word, last word)` of question `index`'s first answer, or (-1, -1)."""
        if not self.answers[index]:
            return -1, -1
        answer = self.answers[index][0]
        begin, end = answer["start"], answer["start"] + len(answer["text"])
        words = self.words(self.contexts[index])
        inside = [k for k, (_, a, b) in enumerate(words) if a < end and b > begin]
        if not inside:
            raise DataError(
                f"{self.source}: question {self.ids[index]}: the answer "
                f"{answer['text']!r} holds no word."
            )
        return inside[0], inside[-1]

    def to_dataset(self):
        """A `tf.data.Dataset` of `({"question", "context"}, [first word, last word])`.

        The context is written as its words joined by single spaces (what
        `SpanExtractorPreprocessor` reads); training uses each question's first answer.
        """
        spans = [self.answer_words(i) for i in range(len(self))]
        contexts = [" ".join(w for w, _, _ in self.words(c)) for c in self.contexts]
        features = {
            "question": tf.constant(self.questions, tf.string),
            "context": tf.constant(contexts, tf.string),
        }
        return tf.data.Dataset.from_tensor_slices(
            (features, tf.constant(spans, tf.int32, shape=[len(spans), 2]))
        )


def read_squad(path, skip_mismatched=False):
    """Read a SQuAD JSON file (v1.1, or v2 with `is_impossible`).

    Every answer is checked: `context[answer_start:][:len(text)]` must be the
    answer text. A mismatch is an error naming the question id, unless
    `skip_mismatched=True`: then such answers are dropped (a question left
    with none is skipped), counted, and reported in a warning.

    Example:

    ```python
    data = read_squad("dev-v1.1.json")
    train, evaluation = data.split_articles(38)
    ```
    """
    content = read_text(path)
    try:
        document = json.loads(content)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}, line {error.lineno}, column {error.colno}: "
            f"not valid JSON ({error.msg})."
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(
            f"{path}: expected a SQuAD JSON object with a 'data' list of articles."
        )
    columns = {"ids": [], "titles": [], "questions": [], "contexts": [], "answers": []}
    skipped = 0
    for a, article in enumerate(document["data"]):
        _record(article, path, f"article {a}")
        title = str(article.get("title", f"article {a}"))
        for p, paragraph in enumerate(
            _field(article, "paragraphs", list, path, f"article {title!r}")
        ):
            where = f"article {title!r}, paragraph {p}"
            _record(paragraph, path, where)
            context = _field(paragraph, "context", str, path, where)
            if not context.strip():
                raise DataError(f"{path}: {where}: the context is empty.")
            for q, qa in enumerate(_field(paragraph, "qas", list, path, where)):
                _record(qa, path, f"{where}, question {q}")
                qid = str(qa.get("id", f"{where}, question {q}"))
                question = _field(qa, "question", str, path, f"question {qid}")
                if not question.strip():
                    raise DataError(f"{path}: question {qid}: the question is empty.")
                answers = (
                    [] if qa.get("is_impossible") else _answers(qa, qid, context, path)
                )
                if not qa.get("is_impossible"):
                    kept = [x for x in answers if x["ok"]]
                    if len(kept) < len(answers) and not skip_mismatched:
                        bad = next(x for x in answers if not x["ok"])
                        raise DataError(
                            f"{path}: question {qid}: {_mismatch(bad, context)}; "
                            "pass skip_mismatched=True (CLI: "
                            "--skip-mismatched-answers) to count and skip such answers."
                        )
                    if len(kept) < len(answers):
                        skipped += 1
                    if not kept:
                        continue
                    answers = [{"text": x["text"], "start": x["start"]} for x in kept]
                columns["ids"].append(qid)
                columns["titles"].append(title)
                columns["questions"].append(question)
                columns["contexts"].append(context)
                columns["answers"].append(answers)
    if skipped:
        warnings.warn(
            f"{path}: {skipped} questions had answers whose answer_start does "
            "not match the context; those answers were skipped.",
            stacklevel=2,
        )
    if not columns["ids"]:
        raise DataError(f"{path}: no questions found.")
    return QuestionAnswers(source=path, **columns)


def _record(record, path, where):
    if not isinstance(record, dict):
        raise DataError(
            f"{path}: {where}: expected a JSON object, found {type(record).__name__}."
        )


def _mismatch(answer, context):
    start, text = answer["start"], answer["text"]
    if start < 0:
        return f"answer_start {start} is negative (the answer {text!r})"
    if start + len(text) > len(context):
        return (
            f"answer_start {start} is out of range: the answer {text!r} would end "
            f"at {start + len(text)}, past the context's {len(context)} characters"
        )
    return (
        f"answer_start {start} does not point at the answer {text!r} (the "
        f"context there reads {context[start : start + len(text)]!r})"
    )


def _field(record, name, kind, path, where):
    value = record.get(name) if isinstance(record, dict) else None
    if not isinstance(value, kind):
        raise DataError(
            f"{path}: {where}: expected a field '{name}' holding a "
            f"{kind.__name__}, found {type(value).__name__}."
        )
    return value


def _answers(qa, qid, context, path):
    answers = _field(qa, "answers", list, path, f"question {qid}")
    if not answers:
        raise DataError(
            f"{path}: question {qid}: no answers, and it is not marked is_impossible."
        )
    result = []
    for answer in answers:
        text = answer.get("text") if isinstance(answer, dict) else None
        start = answer.get("answer_start") if isinstance(answer, dict) else None
        if (
            not isinstance(text, str)
            or not isinstance(start, int)
            or isinstance(start, bool)
            or not text.strip()
        ):
            raise DataError(
                f"{path}: question {qid}: each answer needs a non-empty "
                f"'text' and an integer 'answer_start', found {answer!r}."
            )
        ok = start >= 0 and context[start : start + len(text)] == text
        result.append({"text": text, "start": start, "ok": ok})
    return result

"""The language-model forgetting probe: held-out LM loss before and after `fit`.

A causal language model's own ability is predicting text. Fine-tuning it on
a task (instruction pairs, one domain's documents) can cost that ability on
other text; this probe measures it as the model's exact mean next-token loss
(and perplexity) on held-out documents, with the model's own head, when
`fit` starts and when it ends (`tl.LanguageModel.score`). Lower is better:
a positive `change` (`after - before`, in nats per token) is forgotten.

```python
report = tl.probes.LanguageModelForgettingReport(held_out_texts)
model.fit(domain_texts, epochs=1, callbacks=[report])
report.result  # {"probe": "lm-loss", "before": 3.9, "after": 4.2, ...}
```
"""

import math

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.probes.forgetting import _ProbeReport
from tlnlp_tf.probes.forgetting import check_texts

LM_PROBE = "lm-loss"


class LanguageModelForgettingReport(_ProbeReport):
    """Measure a language model's held-out loss when `fit` starts and ends.

    The model is a `tl.LanguageModel` (a keras-hub `CausalLM`: GPT-2, OPT,
    Llama-family, SmolLM2): its `score(texts)` gives the exact token-weighted
    mean next-token loss, so "before" and "after" score the same tokens.
    After `fit`, `result` holds `{"probe": "lm-loss", "before", "after",
    "change", "perplexity_before", "perplexity_after", "examples",
    "tokens"}`: `before`/`after` are losses in nats per token, `change` is
    `after - before` (positive: forgotten). `seconds` is the time both
    measurements took. List it first with `BackupAndRestore`, as the other
    forgetting reports.

    Args:
        texts: held-out documents (strings), not in the training data.
        batch_size: documents per forward pass.

    Raises:
        DataError: (here, before training) `texts` is empty or not strings.
        PolicyError: (when `fit` starts) the model is not a language model;
            for encoder task models use `ForgettingReport` or
            `MaskedLMForgettingReport`.

    Example:

    ```python
    report = tl.probes.LanguageModelForgettingReport(["the cat sat on the mat"])
    model.fit(["a dog ran in the park"], epochs=1, callbacks=[report])
    report.result["change"]  # > 0: held-out loss went up (forgotten)
    ```
    """

    def __init__(self, texts, batch_size=16):
        super().__init__()
        self.texts = check_texts(texts)
        self.batch_size = batch_size
        self.before = None
        self.result = None
        self.seconds = 0.0

    def _measure(self):
        score = getattr(self.model, "score", None)
        if not callable(score) or not callable(getattr(self.model, "generate", None)):
            raise PolicyError(
                f"LanguageModelForgettingReport measures a language model's own "
                f"loss; a {type(self.model).__name__} is not one (use "
                "ForgettingReport or MaskedLMForgettingReport for encoder tasks)."
            )
        scores = score(self.texts, batch_size=self.batch_size)
        if "perplexity" not in scores:
            raise PolicyError(
                f"LanguageModelForgettingReport needs a language model whose score "
                f"gives a perplexity (tl.LanguageModel); {type(self.model).__name__}"
                f".score gives {sorted(scores)}."
            )
        return scores

    def _result(self, before, after):
        return language_model_report(before, after, len(self.texts))


def language_model_report(before, after, examples):
    """The report of two `LanguageModel.score` results, before and after fit.

    Example:

    ```python
    language_model_report(
        {"loss": 2.0, "tokens": 10}, {"loss": 2.5, "tokens": 10}, examples=3
    )["change"]  # 0.5
    ```
    """
    return {
        "probe": LM_PROBE,
        "before": float(before["loss"]),
        "after": float(after["loss"]),
        "change": float(after["loss"]) - float(before["loss"]),
        "perplexity_before": math.exp(min(float(before["loss"]), 700.0)),
        "perplexity_after": math.exp(min(float(after["loss"]), 700.0)),
        "examples": int(examples),
        "tokens": int(after["tokens"]),
    }

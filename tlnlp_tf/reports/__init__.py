"""Reports that train task models: what transfer bought on the user's data.

They sit above `tasks` (they build and fit task models) and below `cli`;
the probes (`tlnlp_tf.probes`) measure without training a task model.

```python
train = tl.data.load_table("train.tsv", "sentence", "label")
valid = tl.data.load_table("dev.tsv", "sentence", "label")
report = tl.reports.transfer_report(train, valid, budgets=(16, 64))
```
"""

from tlnlp_tf.reports.transfer_report import transfer_report

__all__ = ["transfer_report"]

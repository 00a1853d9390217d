"""`tlnlp fit`'s command line to a task's `from_backbone` options."""

from tlnlp_tf.errors import PolicyError

# Options that only some tasks take (TaskSpec.fit_options); elsewhere an error.
TASK_FLAGS = ("variant", "target_vocabulary", "target_length", "crf", "decoding")


def model_options(args, task):
    """The `from_backbone` options of `tlnlp fit`'s command line for `task`
    (a `TaskSpec`); a task flag the task does not take is a `PolicyError`.

    ```python
    import argparse
    from tlnlp_tf.tasks import registry
    flags = dict.fromkeys(TASK_FLAGS)
    args = argparse.Namespace(task="text-classification", weights="random",
                              max_length=64, attention_dropout="auto",
                              freeze="all", precision="float32", **flags)
    model_options(args, registry.get_task(args.task))  # {"weights": "random", ...}
    ```
    """
    options = dict(
        weights=args.weights,
        max_length=args.max_length,
        attention_dropout=args.attention_dropout,
    )
    if args.freeze is not None:
        options["freeze"] = args.freeze
    if args.precision != "float32":
        options["dtype"] = args.precision
    for name in TASK_FLAGS:
        if getattr(args, name) not in (None, False) and name not in task.fit_options:
            flag = "--" + name.replace("_", "-")
            raise PolicyError(f"{flag} is not an option of --task {args.task}.")
    for name in task.fit_options:
        if getattr(args, name) is not None:  # not given: the model's default
            options[name] = getattr(args, name)
    return options

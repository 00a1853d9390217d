"""`tlnlp fit --task multi --config tasks.yaml`: every task on one backbone, one fit."""

import os
import time

from tlnlp_tf.cli import arguments
from tlnlp_tf.errors import PolicyError


def run_multi(args):
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.backbones.freezing import parameter_counts
    from tlnlp_tf.data.mixing import mix_tasks
    from tlnlp_tf.distribute.strategies import check_global_batch
    from tlnlp_tf.distribute.strategies import strategy
    from tlnlp_tf.tasks import MultiTaskModel
    from tlnlp_tf.tasks import registry
    from tlnlp_tf.tasks.multi_task_config import read_config
    from tlnlp_tf.tasks.multi_task_config import read_task_data
    from tlnlp_tf.training.update_budget import DEFAULT_EPOCHS

    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS
    if args.config is None:
        raise PolicyError(
            "--task multi needs --config tasks.yaml (the tasks and their files)."
        )
    if args.train is not None or args.validation is not None:
        raise PolicyError(
            "--task multi takes its files from --config, not --train/--validation."
        )
    config = read_config(args.config)
    data, specs = read_task_data(config, limit=args.limit, seed=args.seed)
    for spec in specs.values():
        spec.update(
            max_length=args.max_length, attention_dropout=args.attention_dropout
        )
        for name in registry.get_task(spec["kind"]).fit_options:
            spec[name] = getattr(args, name)

    keras.utils.set_random_seed(args.seed)
    distribution = strategy(args.strategy)
    check_global_batch(args.batch_size, distribution)
    with distribution.scope():
        model = MultiTaskModel.from_backbone(
            args.backbone,
            specs,
            freeze=args.freeze or "none",
            weights=args.weights,
            loss_weights={
                name: task["weight"] for name, task in config["tasks"].items()
            },
        )
        if args.learning_rate is not None:
            model.compile(learning_rate=args.learning_rate)
    start = time.perf_counter()
    batches = {}
    for name, (train, _) in data.items():
        dataset = (
            train.to_dataset()
            .shuffle(len(train), seed=args.seed)
            .batch(args.batch_size)
        )
        batches[name] = model.task_dataset(name, dataset)
    mixed = mix_tasks(
        batches,
        sampling=config["sampling"],
        temperature=config["temperature"],
        seed=args.seed,
    )
    model.fit(mixed, epochs=args.epochs)
    seconds = time.perf_counter() - start

    counts = parameter_counts(model)
    metrics = {
        "validation": {
            name: registry.kind_of(model.tasks[name]).score(
                model.tasks[name], validation, 64
            )
            for name, (_, validation) in data.items()
            if validation is not None
        },
        "train_seconds": round(seconds, 2),
        "train_examples": {name: len(train) for name, (train, _) in data.items()},
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "steps_per_epoch": int(mixed.cardinality()),
    }
    metrics["train_examples_per_second"] = round(
        metrics["steps_per_epoch"] * args.epochs * args.batch_size / seconds, 2
    )
    run = {
        "task": "multi",
        "config": args.config,
        "backbone": args.backbone,
        "weights": args.weights,
        "freeze": model.freeze,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "sampling": config["sampling"],
        "temperature": config["temperature"],
        "tasks": config["tasks"],
        "seed": args.seed,
        "limit": args.limit,
    }
    outputs.save_model(model, os.path.join(args.output, "model.keras"))
    outputs.write_json(os.path.join(args.output, arguments.RUN_FILE), run)
    outputs.write_json(os.path.join(args.output, "metrics.json"), metrics)
    arguments.print_json(metrics)
    return 0

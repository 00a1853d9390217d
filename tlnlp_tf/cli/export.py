"""`tlnlp export`: a trained model out of the library, for serving or Hugging Face.

    tlnlp export --model run/ --format saved_model --output serving/1
    tlnlp export --model run/ --format huggingface --output run-hf/

`saved_model`: a TensorFlow SavedModel whose `serving_default` signature
takes raw strings (`tl.export.export_saved_model`); `huggingface`: a Hugging
Face folder of the BERT-family or MPNet backbone, with the head where the format has a
place for it (`tl.export.export_huggingface`). Prints what was written as JSON.
"""

from tlnlp_tf.cli import arguments

FORMATS = ("saved_model", "huggingface")


def register(commands):
    export = commands.add_parser(
        "export", help="write a trained model as a SavedModel or a Hugging Face folder"
    )
    export.add_argument(
        "--model", required=True, help="a folder written by `tlnlp fit`"
    )
    export.add_argument("--format", choices=FORMATS, default="saved_model")
    export.add_argument(
        "--output", required=True, help="the folder to write (new or empty)"
    )
    export.set_defaults(handler=run)


def run(args):
    import os

    from tlnlp_tf import export
    from tlnlp_tf.errors import PolicyError

    if os.path.isfile(args.output) or (
        args.format == "saved_model"
        and os.path.isdir(args.output)
        and os.listdir(args.output)
        and not os.path.exists(os.path.join(args.output, "saved_model.pb"))
    ):
        raise PolicyError(
            f"--output {args.output}: exists and is not an earlier {args.format} "
            "export; expected a new or empty folder."
        )
    model = arguments.load_model(args.model)
    try:
        if args.format == "saved_model":
            export.export_saved_model(model, args.output)
        else:  # what the format has no place for is said in a warning
            export.export_huggingface(model, args.output)
    except FileExistsError as error:  # a folder that is not an earlier export
        raise PolicyError(f"--output {args.output}: {error}") from None
    arguments.print_json(
        {
            "format": args.format,
            "output": args.output,
            "files": sorted(os.listdir(args.output)),
        }
    )
    return 0

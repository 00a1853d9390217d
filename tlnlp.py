"""The `tlnlp` command's launcher: TensorFlow's start-up log stays off the terminal.

TensorFlow's C++ runtime writes to stderr while it loads and when it first looks
for devices ("Could not find cuda drivers", "failed call to cuInit: … (303)",
CPU-feature and oneDNN notices, absl's preamble), before any code of ours runs
and whatever `TF_CPP_MIN_LOG_LEVEL` says for some of them. On a CPU machine that
reads like a failure. This module is the console script's entry point, and
lives outside `tlnlp_tf` because importing that package imports TensorFlow. It
holds stderr while TensorFlow loads and finds its devices, then writes back
every line that is not a C++ log line, and sets `TF_CPP_MIN_LOG_LEVEL=2` for the
rest of the run unless the user set it. `tlnlp --verbose …` changes nothing:
the log shows as TensorFlow writes it.

    tlnlp --help
    tlnlp --verbose fit --train train.tsv --output run/
    python -m tlnlp fit --train train.tsv --output run/
"""

import os
import re
import sys
import tempfile

# absl's "I0000 00:00:1796221561.196705   31675 cudart_stub.cc:31] …", TF's older
# "2026-12-01 10:00:00.000000: I tensorflow/… ", absl's preamble, and the one
# continuation line TensorFlow prints without a prefix. Fatal (F) lines stay.
C_LOG_LINE = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def main(argv=None):
    """Run `tlnlp` with `argv` (default: the command line) and return its status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--verbose" in argv:
        from tlnlp_tf.cli.main import main as run
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet_start_up():
            import tensorflow as tf

            from tlnlp_tf.cli.main import main as run

            tf.config.list_physical_devices()  # CUDA probing logs here, if anywhere
    return run(argv)


class quiet_start_up:
    """Holds file descriptor 2 in a temporary file; on exit writes back the lines
    that are not C++ log lines (Python warnings, anything else) to the real stderr."""

    def __enter__(self):
        sys.stderr.flush()
        self.held = tempfile.TemporaryFile(mode="w+b")
        self.saved = os.dup(2)
        os.dup2(self.held.fileno(), 2)
        return self

    def __exit__(self, *error):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.held.seek(0)
        text = self.held.read().decode("utf-8", "replace")
        self.held.close()
        kept = [line for line in text.splitlines() if not C_LOG_LINE.match(line)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
        return False


if __name__ == "__main__":
    sys.exit(main())

"""`tlnlp`: the command line, a thin layer over the Python API."""

from tlnlp_tf.cli.main import main

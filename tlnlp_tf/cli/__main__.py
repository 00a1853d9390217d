"""`python -m tlnlp_tf.cli …`: the `tlnlp` command."""

import sys

from tlnlp_tf.cli.main import main

sys.exit(main())

"""spark-submit entry point: `spark-submit jobs/demo.py [options]` = `pooling demo [options]`.

Thin on purpose: the CLI parses the arguments, loads conf/, builds the session and calls
the library.
Global options (--conf, --profile) go before the command's own, e.g.
`spark-submit jobs/demo.py --profile cluster ...`.
"""

import sys

from pooling.cli import main_for

if __name__ == "__main__":
    sys.exit(main_for("demo", sys.argv[1:]))

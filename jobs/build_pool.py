"""spark-submit entry point: `spark-submit jobs/build_pool.py [options]` = `pooling pool [options]`.

Thin on purpose: the CLI parses the arguments, loads conf/, builds the session and calls
the library.
Global options (--conf, --profile) go before the command's own, e.g.
`spark-submit jobs/build_pool.py --profile cluster ...`.
"""

import sys

from pooling.cli import main_for

if __name__ == "__main__":
    sys.exit(main_for("pool", sys.argv[1:]))

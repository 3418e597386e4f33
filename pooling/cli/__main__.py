"""``python -m pooling.cli``: the same as the ``pooling`` command."""

import sys

from pooling.cli import main

sys.exit(main())

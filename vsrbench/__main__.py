"""``python -m vsrbench``: the same command line as the ``vsrbench`` script."""

import sys

from vsrbench.cli import main

sys.exit(main())

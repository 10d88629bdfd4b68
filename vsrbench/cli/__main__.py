"""``python -m vsrbench.cli``: the same command line as the ``vsrbench`` script."""

import sys

from vsrbench.cli.app import main

sys.exit(main())

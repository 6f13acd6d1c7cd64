"""`python -m genleak ...`: the CLI without an installed entry point (a checkout on PYTHONPATH)."""

import sys

from genleak.cli import main

sys.exit(main())

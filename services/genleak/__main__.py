"""`python -m genleak`: the `genleak` command line (genleak.cli)."""

import sys

from genleak.cli import main

if __name__ == "__main__":  # vLLM spawns worker processes: the guard is required
    sys.exit(main())

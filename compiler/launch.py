"""The `kerasdml` console script: sets the thread layout before numpy loads (BLAS reads it only
then; see kerasdml.runtime.local.threads), then runs the command line of compiler/cli.py."""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    if "numpy" not in sys.modules:
        from kerasdml.runtime.local.threads import configure_threads
        configure_threads()
    from .cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

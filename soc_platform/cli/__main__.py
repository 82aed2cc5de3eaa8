"""``python -m soc_platform.cli``: the ``soc-platform`` command."""

import sys

from soc_platform.cli import main

if __name__ == "__main__":
    sys.exit(main())

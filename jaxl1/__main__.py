"""``python -m jaxl1``: the ``jaxl1`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

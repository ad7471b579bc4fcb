"""``python -m fastscore_sdk``: the ``fastscore`` command."""

import sys

from fastscore_sdk.cli import main

if __name__ == "__main__":
    sys.exit(main())

import sys

from fastscore_sdk.cli import main

sys.exit(main())

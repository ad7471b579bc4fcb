from fastscore_sdk.cli import main
import sys

sys.exit(main())

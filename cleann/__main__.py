"""`python -m cleann`: same as the `cleann` console script."""
import sys

from cleann.cli import main

if __name__ == "__main__":  # spawned worker processes import this module; do not re-run
    sys.exit(main())

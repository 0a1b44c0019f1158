import sys

from cleann.cli import main

sys.exit(main())

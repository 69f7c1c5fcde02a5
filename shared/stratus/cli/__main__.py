"""`python -m stratus.cli` runs the `stratus` command."""

import sys

from stratus.cli import main

sys.exit(main())

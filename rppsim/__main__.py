"""``python -m rppsim`` runs the command line."""

import sys

from rppsim.cli import main

sys.exit(main())

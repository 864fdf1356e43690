"""``python -m negotiation_rules`` runs the command line."""

import sys

from ._cli import main

if __name__ == "__main__":  # not when a worker process imports it (spawn)
    sys.exit(main())

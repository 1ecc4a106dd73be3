"""``python -m sidecar`` runs the ``llm-sidecar`` command (``entry``: Ctrl-C during start-up ends quietly)."""

import sys

from .entry import main

sys.exit(main())

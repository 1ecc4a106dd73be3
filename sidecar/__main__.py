"""``python -m sidecar`` runs the ``llm-sidecar`` command."""

import sys

from .cli import main

sys.exit(main())

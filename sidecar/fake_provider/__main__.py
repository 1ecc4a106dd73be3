"""``python -m sidecar.fake_provider [flags]``: run a fake provider (see ``cli``)."""

import sys

from sidecar.fake_provider.cli import main

sys.exit(main())

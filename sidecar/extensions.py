"""The optional compiled parts, and the switch that turns them off.

Two C extensions, built by ``setup.py`` when a C compiler is there (``make`` builds them; so does the
image's builder stage), each the twin of pure-Python code that gives the same results (the tests hold
every pair together, and run the Python twin alone too):

- ``sidecar.telemetry._otlp_fast``: the OTLP span encoder's known-shape path (``telemetry.otlp_encode``);
- ``sidecar.translate._params_fast``: the request parameters of OpenAI and Anthropic bodies
  (``translate.usage.extract_request_params``).

Both only make traced requests cheaper. Without a compiler the package installs and runs on the twins.
``SIDECAR_NO_EXTENSIONS=1`` (or ``true``, ``yes``, ``on``; read once, when the modules are imported)
makes a built sidecar use the twins as well: an escape hatch that needs no new image.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Final

MODULES: Final = ("sidecar.telemetry._otlp_fast", "sidecar.translate._params_fast")
TURNED_OFF: Final = os.environ.get("SIDECAR_NO_EXTENSIONS", "").strip().lower() in ("1", "true", "yes", "on")


def load(name: str) -> ModuleType | None:
    """The compiled module ``name`` (one of ``MODULES``), or None: not built, or turned off."""
    if TURNED_OFF:
        return None
    return built(name)


def built(name: str) -> ModuleType | None:
    """The compiled module ``name`` if this installation has it, whatever ``SIDECAR_NO_EXTENSIONS`` says."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

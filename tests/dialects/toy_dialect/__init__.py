"""A toy wire dialect, written as a new dialect's package is: ``test_adding.py`` copies it to
``sidecar/dialects/toy/`` in a copy of the package, adds its name to ``registry.PACKAGES`` (the one
other edit), and serves requests through it. It is not importable from here (its imports are relative to
``sidecar/dialects/toy/``).

The toy API: ``POST /toy/v1/generate`` with ``{"model", "prompt", "stream", "max_tokens"}``; the answer is
``{"id", "model", "text", "stop", "tokens": {"in", "out"}}``; a stream is ``data: {"text"}`` events and
a terminal ``event: done`` carrying ``stop`` and ``tokens``; errors are ``{"error": {"message",
"status"}}`` (as an ``event: error`` in a stream); the key goes in ``x-toy-key``.
"""

"""The one thing pyproject.toml cannot say stably: the optional C extensions (``sidecar.extensions``).

``sidecar/telemetry/_otlp_fast.c`` is the OTLP span encoder's fast path, ``sidecar/translate/_params_fast.c``
reads request parameters for spans. Both are optional: where no C compiler is found the build goes on
without them and the sidecar runs the same code in Python (``SIDECAR_NO_EXTENSIONS=1`` picks the Python
code at run time).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(name, sources=[f"{name.replace('.', '/')}.c"], optional=True)
        for name in ("sidecar.telemetry._otlp_fast", "sidecar.translate._params_fast")
    ]
)

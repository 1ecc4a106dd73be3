"""The one thing pyproject.toml cannot say stably: the optional C extension.

``sidecar/telemetry/_otlp_fast.c`` is the OTLP span encoder's fast path. It is optional: where no C
compiler is found the build goes on without it and the sidecar runs the same encoding in Python
(docs/observability.md, "Cost"; ``SIDECAR_NO_EXTENSIONS=1`` picks the Python path at run time).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sidecar.telemetry._otlp_fast",
            sources=["sidecar/telemetry/_otlp_fast.c"],
            optional=True,
        )
    ]
)

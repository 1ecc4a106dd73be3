"""Quality gates: check an answer before it is returned, and escalate when it fails. Pure: no I/O.

Map:

- ``spec``        the ``gates:`` policy block (pydantic, path-qualified errors)
- ``schemas``     where a request's JSON schema is, per dialect (response formats, forced tools)
- ``validators``  fastjsonschema validators, compiled once per schema and cached by content
- ``refusal``     the refusal detector and its phrase list
- ``checks``      ``compile_gates(spec, validators) -> Gates``; ``Gates.check(answer, expectation)``
                  -> None or ``GateFailure`` (the gate's name and a message)
- ``escalation``  after a failure: re-ask, next target or give up; the re-ask request body

User documentation: ``docs/ensembles.md`` ("Quality gates").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .checks import GateFailure, Gates, compile_gates
    from .escalation import next_step, reask_body, reask_text
    from .schemas import Expectation, requested_json
    from .spec import GatesSpec
    from .validators import SchemaValidators

__all__ = [
    "Expectation",
    "GateFailure",
    "Gates",
    "GatesSpec",
    "SchemaValidators",
    "compile_gates",
    "next_step",
    "reask_body",
    "reask_text",
    "requested_json",
]

# Each name is imported from its module on first use (``sidecar.lazy``): importing ``spec`` for the
# policy's root model does not load the request path of a feature the policy does not use.
__getattr__ = lazy_exports(
    __name__,
    {
        "Expectation": "schemas",
        "GateFailure": "checks",
        "Gates": "checks",
        "GatesSpec": "spec",
        "SchemaValidators": "validators",
        "compile_gates": "checks",
        "next_step": "escalation",
        "reask_body": "escalation",
        "reask_text": "escalation",
        "requested_json": "schemas",
    },
)

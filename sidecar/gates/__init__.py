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

from .. import policy as _policy  # noqa: F401  # first: the policy compiler imports this package
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

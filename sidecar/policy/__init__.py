"""The policy: what an SRE writes (``spec``), what requests read (``compiled``), and how it arrives.

- ``base``        ``Spec``, the base of every policy block (feature packages define theirs on it)
- ``spec``        pydantic models of the file; the JSON Schema comes from them (``schema``)
- ``conditions``  pre-compiled route predicates (model glob, header, app, dialect, operation)
- ``compiled``    ``Policy``: immutable, names resolved, settings merged; ``route`` and ``explain``
- ``load``        file -> ``Policy`` or ``PolicyError`` listing every problem with its path
- ``watch``       hot reload: poll, validate, swap by one assignment, keep the last good policy
"""

from .compiled import Policy, PolicyError, Route, Target
from .load import load_policy, load_policy_bytes

__all__ = ["Policy", "PolicyError", "Route", "Target", "load_policy", "load_policy_bytes"]

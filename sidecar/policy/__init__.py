"""The policy: what an SRE writes (``spec``), what requests read (``compiled``), and how it arrives.

- ``base``        ``Spec``, the base of every policy block (feature packages define theirs on it);
                  ``slotted_copy``: a spec's fields copied into the slotted record the request path reads
- ``spec``        pydantic models of the file; the JSON Schema comes from them (``schema``);
                  ``resilience_spec``: its resilience blocks and a provider's timeouts; ``prices``: a
                  model's ``price``, its long-context tier; ``resilience_plan``: the resilience and
                  timeout specs copied into slotted records at load, as the request path reads them;
                  ``price_plan``: a model's price copied so (``Target.prices``), as an answer's bill reads it
- ``names``       the names of dialects and provider kinds as pydantic types, read from the registry
- ``plans``       a route's plan: which chain(s) of targets a request walks, chosen at load
- ``conditions``  pre-compiled route predicates (model glob, header, app, dialect, operation)
- ``access_log``  the ``access_log`` block: which access lines are written (a sampled rate, the kinds
                  always kept), compiled to ``AccessSampling``
- ``compiled``    ``Policy``: immutable, names resolved, settings merged; ``route`` and ``explain``
- ``compile``     spec -> ``Policy``: names resolved, plans, gates, shadow, cache and budgets compiled
- ``load``        file -> ``Policy`` or ``PolicyError`` listing every problem with its path
- ``hints``       what an author is told beyond the parser: where a YAML error is, the name likely meant,
                  a key written twice, a number in quotes, a ``${VAR}``
- ``backtracking`` regular expressions that backtrack exponentially (``(a+)+``), refused at load with the
                  part and a safe form, and (``polynomial``) those of a polynomial degree above 1
                  (``.*a.*b.*c``); ``parsed_regex``: the standard parser's tree they are read from
- ``hazards``     values that load but would harm every pod at once (a retry ratio over 1, a hedge after
                  under 0.1 s, timeouts under 1 s): warnings
- ``unreachable`` routes that can never match (an earlier route takes every request they would): warnings
- ``files``       the files a policy read when compiled (a learned router): digests, the version
- ``watch``       hot reload: poll the policy and its files, validate, swap by one assignment, keep the
                  last good policy
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiled import Policy, PolicyError, Route, Target
    from .load import load_policy, load_policy_bytes

__all__ = ["Policy", "PolicyError", "Route", "Target", "load_policy", "load_policy_bytes"]

# Loaded on first use (PEP 562): a feature package's blocks derive from ``base`` and ``spec`` imports
# them, so importing ``base`` must not import ``compiled`` (and through it ``spec``) first.
_HOMES = {"Policy": "compiled", "PolicyError": "compiled", "Route": "compiled", "Target": "compiled"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES.get(name, 'load')}", __name__), name)

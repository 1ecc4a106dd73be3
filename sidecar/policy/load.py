"""Reading a policy file: parse (YAML or JSON), validate, compile; every error with its path.

``load_policy(path)`` is all-or-nothing: it returns a ``Policy`` or raises ``PolicyError`` listing every
problem found (``providers.openai.base_url: must start with http:// or https://``). The version of a
policy is a hash of its bytes and of the files it read (``files``: a learned router), so two sidecars
with the same files report the same version. What loads but uses a deprecated name
(``providers.x.dialect``, now ``kind``), writes a key twice in one mapping (PyYAML and JSON parsers keep
the last value silently) or a number or true/false in quotes (pydantic reads ``"20"`` as 20: kept, as a
YAML author quotes by habit, and named) is listed in ``Policy.warnings``, which ``validate`` prints and
the server logs (``policy_warning``).
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .compile import compile_policy
from .compiled import Policy, PolicyError
from .files import policy_version
from .hints import (
    KnownFields,
    did_you_mean,
    quoted_scalars,
    repeated_json_keys,
    repeated_keys,
    unexpanded,
    with_names_meant,
    yaml_error,
)
from .spec import DEPRECATED_PROVIDER_FIELDS, PolicySpec


def load_policy(path: str | Path) -> Policy:
    """Read, validate and compile the policy at ``path``."""
    try:
        data = Path(path).read_bytes()  # any file: ``validate <(git show ...)`` reads a pipe (the watcher never does)
    except OSError as exc:
        raise PolicyError([f"cannot read the file: {exc.strerror or exc}"]) from None
    return load_policy_bytes(data, str(path))


def load_policy_bytes(data: bytes, source: str) -> Policy:
    document, repeated = parse_document(data)
    try:
        spec = PolicySpec.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(format_validation_error(exc)) from None
    try:
        policy = compile_policy(spec, version=policy_version(data, ()), source=source, loaded_at=time.time())
    except PolicyError as exc:
        raise PolicyError(with_names_meant(exc.errors, document), exc.files) from None
    warnings = [*repeated, *deprecations(document), *quoted_scalars(document, spec.model_dump(by_alias=True))]
    if warnings:
        policy = dataclasses.replace(policy, warnings=(*policy.warnings, *warnings))
    if policy.files:  # the files it read are part of it: the version covers them too
        policy = dataclasses.replace(policy, version=policy_version(data, (f.digest for f in policy.files)))
    return policy


def deprecations(document: dict[str, Any]) -> list[str]:
    """``path: ...`` for every deprecated name the document uses (it loads; the name should change)."""
    found = []
    providers = document.get("providers")
    for name, provider in providers.items() if isinstance(providers, dict) else ():
        for old, new in DEPRECATED_PROVIDER_FIELDS.items():
            if isinstance(provider, dict) and old in provider:
                found.append(f"providers.{name}.{old}: deprecated name of {new}; write {new}: {provider[old]}")
    return found


def parse_document(data: bytes) -> tuple[dict[str, Any], list[str]]:
    """JSON when it parses as JSON, else YAML (a superset); a clear error with the line otherwise. Also
    the warnings for keys the document repeats (YAML or JSON)."""
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise PolicyError([f"invalid JSON: {exc}"]) from None
        return _mapping(document), repeated_json_keys(data)
    try:
        loader = yaml.SafeLoader(data)  # it decodes the whole text here
    except yaml.reader.ReaderError as exc:
        raise PolicyError([_not_text(data, exc)]) from None
    try:
        node = loader.get_single_node()
        repeated = repeated_keys(node) if node is not None else []
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise PolicyError([yaml_error(data, exc)]) from None
    except RecursionError:  # PyYAML's parser recurses per level: a few thousand nested [ or { end it
        raise PolicyError(["invalid YAML: nested too deeply to read (a policy needs a dozen levels)"]) from None
    finally:
        loader.dispose()
    return _mapping(document), repeated


def _not_text(data: bytes, exc: yaml.reader.ReaderError) -> str:
    """Where the bytes stop being text YAML reads: not UTF-8 (a file saved as Latin-1), or a control
    character YAML forbids, in the words of an editor."""
    if exc.encoding == "unicode":  # decoded, but a character YAML does not allow (position in characters)
        line = data.decode("utf-8", "replace")[: exc.position].count("\n") + 1
        return f"invalid YAML: control character U+{exc.character:04X} on line {line} is not allowed"
    line = data[: exc.position].count(b"\n") + 1  # bytes the codec refused (position in bytes)
    return f"invalid YAML: not UTF-8 text: byte 0x{exc.character:02x} on line {line} (save the file as UTF-8)"


def _mapping(document: Any) -> dict[str, Any]:
    if document is None:
        raise PolicyError(["the file is empty"])
    if not isinstance(document, dict):
        # the value itself is never quoted: a file that is one value may be a key mounted at the wrong path
        kind = "a list" if isinstance(document, list) else f"a single value ({_kind(document)})"
        raise PolicyError([f"the policy must be a mapping, not {kind}"])
    return document


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else type(value).__name__


def _given(error: ErrorDetails) -> str:
    """`` (got '60s')`` for text where a number or true/false was wanted: the text said."""
    value = error.get("input")
    return f" (got {value!r})" if error["type"].endswith("_parsing") and isinstance(value, str) else ""


def format_validation_error(exc: ValidationError) -> list[str]:
    """pydantic errors as ``path: message`` lines, paths written the way the YAML reads; for a block that
    may be a value or a mapping (a route's ``target``), only the mapping's errors when a mapping was
    written, and a misspelt field's line alone (not also its correct name as missing)."""
    known = KnownFields()
    found: list[tuple[str, str, ErrorDetails]] = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field" + did_you_mean(str(error["loc"][-1]), known.at(error["loc"][:-1]), 0.6)
        message += unexpanded(error.get("input")) or _given(error)
        found.append((_written_path(error["loc"]), message, error))
    paths = {path for path, _, _ in found}
    meant = {path.rsplit(".", 1)[0] + "." + hint for path, message, _ in found for hint in _MEANT.findall(message)}
    lines = []
    for path, message, detail in found:
        other_branch = isinstance(detail.get("input"), dict) and any(
            p.startswith((f"{path}.", f"{path}[")) for p in paths
        )
        line = f"{path or '(top level)'}: {message}"
        if (
            line not in lines
            and not (detail["type"] in _SCALAR_TYPES and other_branch)
            and not (detail["type"] == "missing" and path in meant)
        ):
            lines.append(line)
    return lines


_MEANT = re.compile(r"^unknown field \(did you mean '([^']+)'\?\)")
_SCALAR_TYPES = {"string_type", "list_type", "int_type", "float_type", "bool_type", "literal_error"}


def _written_path(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the YAML reads (``routes[3].target.select``): union branch labels (``str``,
    ``SelectSpec``, ``function-after[...]``) say nothing to a policy author and are left out."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-after", "function-before")) or _BRANCH.fullmatch(str(part)):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


_BRANCH = re.compile(r"str|list\[str\]|literal\[.*\]|[A-Z]\w*Spec")

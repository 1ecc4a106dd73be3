"""What a policy author is told about a mistake beyond what the parser says: where a YAML syntax error
is in the policy's terms (``after models.gpt-4o-mini.model``) and what it likely is (a tab, an
indentation), the field or name most likely meant (``unknown field (did you mean 'deadline_s'?)``,
``unknown model 'claude-sonet' (did you mean 'claude-sonnet'?)``), a key a YAML mapping or a JSON
object repeats by its path, a number or true/false written in quotes, and a ``${VAR}`` the policy does
not expand.

All of it runs only on a policy that has a problem (or, for repeated keys and quoted values, once per
load), never per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import yaml


def yaml_error(data: bytes, exc: yaml.YAMLError) -> str:
    """``invalid YAML at line L, column C, after PATH: problem (hint)`` for a syntax error."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    path = _path_at_error(data)
    if path:
        where += f", after {path}"
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem:
        problem = "a tab character: YAML indents with spaces only (replace the tab with spaces)"
    elif problem.startswith(("mapping values are not allowed", "expected <block end>")) or "indentation" in problem:
        problem += " (check the indentation of this line and the one above)"
    return f"invalid YAML{where}: {problem}"


def _path_at_error(data: bytes) -> str:
    """The path of the last key (or list item) the parser had read when it stopped."""
    frames: list[list[Any]] = []  # mappings: [key, expecting a key]; sequences: [index, None]
    try:
        for event in yaml.parse(data, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionEndEvent):
                if frames:
                    frames.pop()
                _value_done(frames)
            elif isinstance(event, yaml.NodeEvent):
                _node_read(frames, event)
    except yaml.YAMLError:
        pass
    return _written(frames)


def _node_read(frames: list[list[Any]], event: yaml.NodeEvent) -> None:
    parent = frames[-1] if frames else None
    is_key = parent is not None and parent[1] is True
    if is_key:  # a key of the mapping: its value comes next
        parent[0], parent[1] = getattr(event, "value", "?"), False  # type: ignore[index]
    elif parent is not None and parent[1] is None:  # an item of the list
        parent[0] += 1
    if isinstance(event, yaml.MappingStartEvent):
        frames.append([None, True])
    elif isinstance(event, yaml.SequenceStartEvent):
        frames.append([-1, None])
    elif not is_key:  # a scalar value: the mapping expects its next key
        _value_done(frames)


def _value_done(frames: list[list[Any]]) -> None:
    if frames and frames[-1][1] is False:
        frames[-1][1] = True


def _written(frames: list[list[Any]]) -> str:
    path = ""
    for key, expecting in frames:
        if expecting is None and key >= 0:
            path += f"[{key}]"
        elif expecting is not None and key is not None:
            path += f".{key}" if path else str(key)
    return path


def repeated_keys(node: yaml.Node) -> list[str]:
    """``line L: key 'PATH' written twice: only the last one is used`` for each key a mapping of the
    composed document repeats (``routes[4].match``; merge keys, ``<<``, aside: overriding those is fine)."""
    repeats = _repeats(node, "", set())
    return [f"line {line}: key '{path}' written twice: only the last one is used" for line, path in repeats]


def _repeats(node: yaml.Node, path: str, walked: set[int]) -> Iterator[tuple[int, str]]:
    """Each node once (an alias is the node it names: walking it again would be exponential in nested
    aliases, endless in a recursive one)."""
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _repeats(item, f"{path}[{i}]", walked)
    elif isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value
            here = f"{path}.{key}" if path else key
            if key in seen:
                yield key_node.start_mark.line + 1, here
            seen.add(key)
            yield from _repeats(value_node, here, walked)


def repeated_json_keys(data: bytes) -> list[str]:
    """``key 'PATH' written twice: only the last one is used`` for each key an object of the JSON text
    repeats (JSON allows it and the parser keeps the last value, as PyYAML does). No line: ``json``'s
    ``object_pairs_hook`` sees an object's pairs, not where they are. Nothing for text ``json`` does not
    read (the caller has parsed it already and reports its errors)."""
    try:
        document = json.loads(data, object_pairs_hook=_JSONObject.of)
        return [f"key '{path}' written twice: only the last one is used" for path in _json_repeats(document, "")]
    except (ValueError, RecursionError):
        return []


class _JSONObject(dict[str, Any]):
    """A JSON object, with the keys its text repeats (the hook sees them before a dict drops them)."""

    repeated: frozenset[str] = frozenset()

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> _JSONObject:
        built = cls(pairs)
        if len(built) < len(pairs):  # a key came twice
            seen: set[str] = set()
            repeated: set[str] = set()
            for key, _ in pairs:
                (repeated if key in seen else seen).add(key)
            built.repeated = frozenset(repeated)
        return built


def _json_repeats(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_repeats(item, f"{path}[{i}]")
    elif isinstance(value, _JSONObject):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key in value.repeated:
                yield here
            yield from _json_repeats(item, here)


def quoted_scalars(document: Any, validated: Any, path: str = "") -> Iterator[str]:
    """``PATH: a number written in quotes ('20'): read as 20 (...)`` for each number or true/false the
    policy writes as text that validation read as one (pydantic's lax mode: a YAML author's habit of
    quoting, a Helm ``| quote``). Walks the document beside the validated spec's dump (by alias)."""
    if isinstance(document, dict) and isinstance(validated, dict):
        for key, value in document.items():
            if key in validated:
                here = f"{path}.{key}" if path else str(key)
                yield from quoted_scalars(value, validated[key], here)
    elif isinstance(document, list) and isinstance(validated, list) and len(document) == len(validated):
        for i, (value, read) in enumerate(zip(document, validated, strict=True)):
            yield from quoted_scalars(value, read, f"{path}[{i}]")
    elif isinstance(document, list) and isinstance(validated, set | frozenset):  # ``fallback_on``: a set
        for i, value in enumerate(document):
            read = next((n for n in validated if isinstance(value, str) and _reads_as(value, n)), None)
            yield from quoted_scalars(value, read, f"{path}[{i}]") if read is not None else ()
    elif isinstance(document, str) and isinstance(validated, bool):
        yield f"{path}: true or false written in quotes ({document!r}): read as {str(validated).lower()}{_UNQUOTE}"
    elif isinstance(document, str) and isinstance(validated, int | float) and _reads_as(document, validated):
        number = int(validated) if isinstance(validated, float) and validated.is_integer() else validated
        yield f"{path}: a number written in quotes ({document!r}): read as {number}{_UNQUOTE}"


_UNQUOTE = " (write it without quotes)"


def _reads_as(text: str, number: object) -> bool:
    """Whether the text is that number written out (not a value a validator made a number of)."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        return False
    try:
        return float(text.strip().replace("_", "")) == number
    except ValueError:
        return False


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.75) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known`` to a mistyped ``name``, else nothing. Names
    (models, providers) need to be closer than fields (``evn`` is ``env``; ``gpt-5x`` is not ``gpt-4o``)."""
    import difflib  # only here: a policy without a mistake never loads it

    close = difflib.get_close_matches(name, [k for k in known if k != name], n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


class KnownFields:
    """The fields the policy's schema allows at a place, the schema built on first use (only a policy
    with an unknown field needs it) and once for all of its errors."""

    def __init__(self) -> None:
        self._schema: dict[str, Any] | None = None

    def at(self, loc: tuple[Any, ...]) -> set[str]:
        """The fields of the block at ``loc`` (pydantic's error location: union branch labels in it are
        passed over)."""
        if self._schema is None:
            from .schema import policy_json_schema

            self._schema = json.loads(policy_json_schema())
        definitions = self._schema["$defs"]
        nodes = _expand([self._schema], definitions)
        for part in loc:
            if isinstance(part, int):
                stepped = [node["items"] for node in nodes if isinstance(node.get("items"), dict)]
            else:
                stepped = [
                    node["properties"][part] if part in node.get("properties", {}) else node["additionalProperties"]
                    for node in nodes
                    if part in node.get("properties", {}) or isinstance(node.get("additionalProperties"), dict)
                ]
            nodes = _expand(stepped, definitions) if stepped else nodes  # a branch label: stay
        return {name for node in nodes for name in node.get("properties", {})}


def _expand(nodes: list[dict[str, Any]], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes with every ``$ref`` resolved and every ``anyOf``/``oneOf``/``allOf`` branch listed."""
    out: list[dict[str, Any]] = []
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if "$ref" in node:
            pending.append(definitions[node["$ref"].rsplit("/", 1)[1]])
            continue
        out.append(node)
        for key in ("anyOf", "oneOf", "allOf"):
            pending.extend(branch for branch in node.get(key, ()) if isinstance(branch, dict))
    return out


_UNKNOWN_NAME = re.compile(r": unknown (model|provider) '([^']*)'$")


def with_names_meant(errors: list[str], document: dict[str, Any]) -> list[str]:
    """Each ``unknown model 'X'`` / ``unknown provider 'X'`` error with the closest name the policy
    defines, when one is close."""
    names = {
        "model": _keys(document.get("models")),
        "provider": _keys(document.get("providers")),
    }
    hinted = []
    for error in errors:
        match = _UNKNOWN_NAME.search(error)
        hinted.append(error + did_you_mean(match.group(2), names[match.group(1)]) if match else error)
    return hinted


def _keys(block: Any) -> list[str]:
    return [str(key) for key in block] if isinstance(block, dict) else []


_EXPANSION = re.compile(r"\$\{?[A-Z_][A-Z0-9_]*\}?")
_NOT_EXPANDED = (
    " (the policy does not expand ${...}: a key comes from api_key: {env: NAME}, other values are written as is)"
)


def unexpanded(value: Any) -> str:
    """A note for a string holding ``${VAR}``: the policy does not expand environment variables."""
    if isinstance(value, str) and _EXPANSION.search(value):
        return _NOT_EXPANDED
    return ""

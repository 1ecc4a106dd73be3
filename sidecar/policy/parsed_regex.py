r"""The standard library's own parser of regular expressions (``re._parser``), read for the policy's checks.

``sre`` is that parser: ``sre.parse(pattern, flags)`` gives the tree ``re.compile`` compiles, a list of
``(opcode, argument)`` items. ``CharacterSets`` says which characters of a sample one character item
of the tree matches (``a``, ``[^a-c\d]``, ``.``, case-insensitive or not), as bits, so two items are
compared with one ``&``: the sample is ASCII, Latin-1, a few characters of other scripts, and every
character and range end the pattern names (so two ranges that meet always share a sampled character).
``show`` writes a tree back as text, for error messages (as the parser reads it: ``(a|a)`` is
``a(?:|)`` there).

``re._parser`` is private. It has kept its shape from 3.11 to 3.13, and
tests/policy/test_backtracking.py pins the names read here; if a future Python removes or reshapes it,
importing this module fails and the sidecar does not start with a policy on that Python (the check
of ``backtracking`` is never silently skipped): port this module to what replaced it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from typing import Any

sre: Any = import_module("re._parser")
SAMPLE = "".join(map(chr, range(256))) + "\u0660\u0966\u2028\u3000\u4e2d\u0436\u03b1\u017f\u212a\u0130\U0001f600"


_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    sre.CATEGORY_DIGIT: str.isdecimal,
    sre.CATEGORY_SPACE: str.isspace,
    sre.CATEGORY_WORD: lambda char: char.isalnum() or char == "_",
}
_NEGATED = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
}


def _in_category(category: Any, char: str, flags: int) -> bool:
    if category in _NEGATED:
        return not _in_category(_NEGATED[category], char, flags)
    test = _CATEGORIES.get(category)
    if test is None:
        return True  # a category this module does not know: assume it matches
    return bool(test(char)) and (char.isascii() or not flags & (re.ASCII | re.LOCALE))


def _in_set(items: Any, char: str, flags: int) -> bool:
    code = ord(char)
    negated = False
    for kind, value in items:
        if kind is sre.NEGATE:
            negated = True
        elif (
            (kind is sre.LITERAL and value == code)
            or (kind is sre.RANGE and value[0] <= code <= value[1])
            or (kind is sre.CATEGORY and _in_category(value, char, flags))
        ):
            return not negated
    return negated


def _one(matches: Any, char: str, flags: int) -> bool:
    op, av = matches
    if op is sre.LITERAL:
        return bool(ord(char) == av)
    if op is sre.NOT_LITERAL:
        return bool(ord(char) != av)
    if op is sre.IN:
        return _in_set(av, char, flags)
    return char != "\n" or bool(flags & re.DOTALL)  # ANY


def _matches(matches: Any, char: str, flags: int) -> bool:
    if not flags & re.IGNORECASE:
        return _one(matches, char, flags)
    return any(_one(matches, c, flags) for c in {char, char.lower()[:1], char.upper()[:1]})


class CharacterSets:
    """Per state, the characters of the sample it matches, as bits; worked out on first use (only the
    states of a loop are compared)."""

    def __init__(self, sets: list[tuple[Any, int]], named: set[str]) -> None:
        chars = set(SAMPLE)
        for char in named:
            chars.update(char, char.lower()[:1], char.upper()[:1])
        self.sample = sorted(chars)
        self.bit = {char: 1 << i for i, char in enumerate(self.sample)}
        self.sets = sets
        self.known: dict[int, int] = {}
        self.by_text: dict[str, int] = {}

    def __getitem__(self, state: int) -> int:
        mask = self.known.get(state)
        if mask is None:
            mask = self.known[state] = self._of(*self.sets[state])
        return mask

    def _of(self, matches: Any, flags: int) -> int:
        if matches[0] == "union":
            mask = 0
            for state in matches[1]:
                mask |= self[state]
            return mask
        if matches[0] is sre.LITERAL and not flags & re.IGNORECASE:
            return self.bit[chr(matches[1])]
        key = f"{matches!r}/{flags}"
        if key not in self.by_text:
            self.by_text[key] = sum(1 << i for i, char in enumerate(self.sample) if _matches(matches, char, flags))
        return self.by_text[key]


_AT = {
    sre.AT_BEGINNING: "^",
    sre.AT_BEGINNING_STRING: "\\A",
    sre.AT_END: "$",
    sre.AT_END_STRING: "\\Z",
    sre.AT_BOUNDARY: "\\b",
    sre.AT_NON_BOUNDARY: "\\B",
}
_CLASS = {
    sre.CATEGORY_DIGIT: "\\d",
    sre.CATEGORY_NOT_DIGIT: "\\D",
    sre.CATEGORY_SPACE: "\\s",
    sre.CATEGORY_NOT_SPACE: "\\S",
    sre.CATEGORY_WORD: "\\w",
    sre.CATEGORY_NOT_WORD: "\\W",
}


def _char(code: int) -> str:
    char = chr(code)
    return char if char.isalnum() or char in " _-,:;'\"/@#%&=<>!~`" else re.escape(char)


def _show_set(items: Any) -> str:
    if len(items) == 1 and items[0][0] is sre.CATEGORY:
        return _CLASS.get(items[0][1], "?")
    text = []
    for kind, value in items:
        if kind is sre.NEGATE:
            text.append("^")
        elif kind is sre.LITERAL:
            text.append(_char(value))
        elif kind is sre.RANGE:
            text.append(f"{_char(value[0])}-{_char(value[1])}")
        else:
            text.append(_CLASS.get(value, "?"))
    return "[" + "".join(text) + "]"


def _quantifier(op: Any, least: int, most: int) -> str:
    if most == sre.MAXREPEAT:
        text = {0: "*", 1: "+"}.get(least, f"{{{least},}}")
    else:
        text = "?" if (least, most) == (0, 1) else f"{{{least}}}" if least == most else f"{{{least},{most}}}"
    return text + {sre.MIN_REPEAT: "?", sre.POSSESSIVE_REPEAT: "+"}.get(op, "")


def show(items: Any) -> str:
    """A parsed pattern written back as text (for error messages)."""
    if len(items) > 1:  # an alternation beside other items is a group of its own
        return "".join(f"(?:{show([item])})" if item[0] is sre.BRANCH else show([item]) for item in items)
    return "".join(_show_item(op, av) for op, av in items)


def _show_item(op: Any, av: Any) -> str:
    if op is sre.LITERAL:
        return _char(av)
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is sre.ANY:
        return "."
    if op is sre.IN:
        return _show_set(av)
    if op is sre.AT:
        return _AT.get(av, "")
    if op is sre.SUBPATTERN:
        return ("(" if av[0] else "(?:") + show(av[3]) + ")"
    if op is sre.BRANCH:
        return "|".join(show(branch) for branch in av[1])
    if op is sre.ATOMIC_GROUP:
        return f"(?>{show(av)})"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        body = show(av[2])
        single = len(av[2]) == 1 and (av[2][0][0] in (sre.SUBPATTERN, sre.ATOMIC_GROUP) or len(body) == 1)
        return (body if single or (body.startswith("\\") and len(body) == 2) else f"(?:{body})") + _quantifier(
            op, av[0], av[1]
        )
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        kind = ("=" if op is sre.ASSERT else "!") if av[0] > 0 else ("<=" if op is sre.ASSERT else "<!")
        return f"(?{kind}{show(av[1])})"
    if op is sre.GROUPREF:
        return f"\\{av}"
    return "..."

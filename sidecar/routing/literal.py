r"""The literal texts every match of a regular expression starts with, found at policy load.

``leading_literals(pattern)`` reads each top-level alternative of the pattern's source up to its first
construct that is not a plain character (a class, group, anchor, escape sequence such as ``\d``, or
the character before a quantifier that allows zero): ``#travel-\d+`` gives ``("#travel-",)``,
``\?[^?]{2,}\?`` gives ``("?",)``, ``def \w+|=>`` gives ``("def ", "=>")``. A text that contains
none of them cannot match, so a rule's regex is rejected with substring tests, without a search (a
search costs a method call and the engine's set-up and scan; on the short texts most requests carry
that is most of a rule's cost). It is conservative: an alternative without a literal, or a pattern
compiled with ``IGNORECASE`` or ``VERBOSE``, gives ``()`` (always searched).

``AnyPattern`` answers whether any of several patterns finds something (a ``rule_index.RuleIndex`` gate),
testing the literals first.
"""

from __future__ import annotations

import re

_SPECIAL = frozenset(".^$*+?{}[]()|\\")
_MAY_REPEAT_ZERO = frozenset("?*{")


def leading_literals(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Texts one of which every match of ``pattern`` starts with: the leading literal of each top-level
    alternative; ``()`` when an alternative has none (see the module docstring)."""
    if pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return ()
    literals = tuple(_leading(alternative) for alternative in _alternatives(pattern.pattern))
    return () if not all(literals) else literals


def _alternatives(source: str) -> list[str]:
    """``source`` split at its top-level ``|`` (not inside a group or a character class; a ``]`` first
    in a class is one of its characters, as ``re`` reads it)."""
    parts: list[str] = []
    depth, in_class, class_first, start, i = 0, False, 0, 0, 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]" or i == class_first
        elif char == "[":
            in_class = True
            class_first = i + 2 if source[i + 1 : i + 2] == "^" else i + 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


def _leading(source: str) -> str:
    literal: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            escaped = source[i + 1 : i + 2]
            if not escaped or escaped.isalnum() or escaped == "_":
                break  # \d, \b, \n, \1, ...: not one known character
            char, width = escaped, 2
        elif char in _SPECIAL:
            break
        else:
            width = 1
        following = source[i + width : i + width + 1]
        if following and following in _MAY_REPEAT_ZERO:
            break  # "ab?": the b may be absent
        literal.append(char)
        i += width
    return "".join(literal)


_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def leads_with_digit(pattern: re.Pattern[str]) -> bool:
    r"""Whether every match of ``pattern`` starts with a digit: its source (after global inline flags
    such as ``(?i)``, which do not change what a digit is) is ``\d`` then anything, with no top-level
    alternation. ``\d`` is any Unicode decimal digit unless the pattern is compiled with ``ASCII``."""
    source = pattern.pattern
    while (flags := _GLOBAL_FLAGS.match(source)) is not None:
        source = source[flags.end() :]
    if pattern.flags & re.VERBOSE or not source.startswith("\\d"):
        return False
    following = source[2:3]
    return following not in _MAY_REPEAT_ZERO and len(_alternatives(source)) == 1


DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 120 for byte in range(256))
"""A ``bytes.translate`` table: each ASCII digit to ``0``, every other byte to ``x``. ASCII data holds a
digit when ``48 in data.translate(DIGITS_AS_ZERO)``: a third fewer instructions than comparing its
length with the length of it with the digits deleted (one ``len`` call less, and an int's membership
test instead of a delete table's argument)."""


def has_ascii_digit_or_is_not_ascii(text: str) -> bool:
    """False only for an ASCII text without a digit (which no ``leads_with_digit`` pattern can match);
    a text with other characters may hold another script's digits, so it is True."""
    if not text.isascii():
        return True
    return 48 in text.encode("ascii").translate(DIGITS_AS_ZERO)


def may_match(literals: tuple[str, ...], text: str) -> bool:
    """False when ``text`` holds none of a pattern's ``leading_literals`` (it cannot match); True for
    a pattern without literals."""
    for literal in literals:
        if literal in text:
            return True
    return not literals


PatternKey = tuple[str, int]
"""A pattern's source and flags: what tells two compiled patterns apart."""


class AnyPattern:
    """Whether any of several patterns finds something in a text, searching only those whose leading
    literal the text contains: patterns with one literal are grouped by its first character, so a
    text without ``#`` rejects every ``#<name>-\\d+`` pattern with one test; a pattern with several
    (an alternation) is searched when one of them is in the text; a pattern without is searched
    always."""

    __slots__ = ("alternatives", "by_first", "plain")

    def __init__(self, patterns: tuple[re.Pattern[str], ...]) -> None:
        groups: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        alternatives: list[tuple[tuple[str, ...], re.Pattern[str]]] = []
        plain: list[re.Pattern[str]] = []
        for pattern in dict.fromkeys(patterns):
            literals = leading_literals(pattern)
            if len(literals) == 1:
                groups.setdefault(literals[0][0], []).append((literals[0], pattern))
            elif literals:
                alternatives.append((literals, pattern))
            else:
                plain.append(pattern)
        self.by_first = tuple((first, tuple(group)) for first, group in groups.items())
        self.alternatives = tuple(alternatives)
        self.plain = tuple((pattern, (pattern.pattern, pattern.flags)) for pattern in plain)

    def finds(self, text: str, searched: dict[tuple[PatternKey, str], bool] | None = None) -> bool:
        """Whether a pattern finds something in ``text``. ``searched`` remembers the searches of the
        patterns without a literal (they scan the whole text) for other gates over the same text."""
        for first, group in self.by_first:
            if first in text:
                for literal, pattern in group:
                    if literal in text and pattern.search(text) is not None:
                        return True
        for literals, pattern in self.alternatives:
            if may_match(literals, text) and pattern.search(text) is not None:
                return True
        for pattern, source in self.plain:
            if searched is None:
                if pattern.search(text) is not None:
                    return True
                continue
            key = (source, text)  # strings hash once (a Pattern's hash is computed over its code each time)
            found = searched.get(key)
            if found is None:
                found = searched[key] = pattern.search(text) is not None
            if found:
                return True
        return False

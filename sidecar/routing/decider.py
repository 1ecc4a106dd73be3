r"""The source of a policy's decision function (``classify.Classifier``), written once per policy load.

``write_decider(router, columns)`` returns Python source defining ``decide(features, headers)`` and
the names it reads (compiled patterns' ``search``, rules' ``matches``, keyword sets, bounds: every
value that comes from the policy is bound as a name, never written into the source, except the
literals of regexes, written with ``repr``). The function, in order:

1. reads the two windows (``system_text``, ``last_user_text``) once;
2. per window a keyword rule reads: whether the window holds a word of one of those rules (an ASCII
   window as bytes against the keywords as bytes, one ``isdisjoint``), and only then its word set
   (``W_<window>``, else None);
3. per window a digit-led pattern reads (``literal.leads_with_digit``): whether it may hold a digit
   (``D_<window>``: False only for an ASCII text without one; when the window's keywords hold no
   digit, read from the words' own ``translate``, which writes every digit as ``0``);
   per window with a word set, whether it may hold one of the ASCII punctuation marks its regexes'
   leading literals start with (``F<n>_<window>``, ``_marks``: the words' ``translate`` writes the classes'
   marks as form feeds and the levels' as vertical tabs, whitespace to ``bytes.split`` as the space it
   writes for other punctuation, so the words are the same): the usual request's literal tests of
   ``#``, ``?``, ``'``... become one byte test per index;
4. the task: the trusted header's class (``task_header: trust``), else the class rules in file order;
   the complexity: the level rules, highest level first. Each index is one ``if``/``elif`` chain per
   rule; when the index's cheap tests say no keyword and no regex of it can match (no word of its
   keywords in the windows, none of its patterns' leading literals, no digit for a digit-led
   pattern: the usual request), a shorter chain of its other rules (features, and the rules the
   generated code does not inline) is tried instead;
5. the cell's ``Decision`` (``CELLS``, made on first use), or the learned model's (``complete``) when a
   label is undecided and the policy has one.

A rule's test: feature checks inline (``features.last_user_chars < B0``); a regex-only rule, its (pattern, window)
searches each after its literal test (``'#travel-' in last_user and P3(last_user) is not None``), a
search shared by several rules made once (``M<n>``); a keyword rule, its trigger words against the
window's word set, then ``Rule.matches``; any other rule (features and a regex, non-ASCII keywords)
``Rule.matches`` on a ``TextView`` made once per request.
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .features import RequestFeatures
from .literal import DIGITS_AS_ZERO, leading_literals, leads_with_digit
from .rules import FeatureCheck, Rule
from .spec import TextField
from .textview import ASCII_WORDS_LOWERED, split_words

DIGIT_BYTES = frozenset(b"0123456789")
ASCII_WORDS_LOWERED_DIGITS_AS_ZERO = ASCII_WORDS_LOWERED.translate(
    bytes(48 if 48 <= b <= 57 else b for b in range(256))
)
"""``textview.ASCII_WORDS_LOWERED`` with every ASCII digit as ``0``: the words of a window and whether it
holds a digit (``48 in``) from one ``translate``."""

FORM_FEED, VERTICAL_TAB = 12, 11
_MARKABLE = frozenset(string.punctuation) - {"_"}
"""The characters whose bytes ``ASCII_WORDS_LOWERED`` writes as a space: a form feed instead splits the same."""

if TYPE_CHECKING:
    import re

    from .matrix import Router
    from .rule_index import RuleIndex

TASK_HEADER = "x-sidecar-task"
_NULLABLE = frozenset(name for name, kind in RequestFeatures.__annotations__.items() if "None" in str(kind))
_WINDOWS = ("system", "last_user")  # ``spec.TextField``: each a local of the function
_SYMBOL: dict[Callable[[Any, Any], bool], str] = {
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
    operator.eq: "==",
}


def _kind(rule: Rule) -> str:
    if rule.keywords is None and rule.regexes is None:
        return "features"
    if rule.keywords is not None and rule.keywords.triggers is not None:
        return "keywords"
    if rule.keywords is None and rule.regexes is not None and not rule.checks:
        return "regex"
    return "other"


class _Writer:
    """The source's lines and the names they read."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {
            "LOWERED": ASCII_WORDS_LOWERED,
            "DIGITS_AS_ZERO": DIGITS_AS_ZERO,
            "LOWERED_DIGITS_AS_ZERO": ASCII_WORDS_LOWERED_DIGITS_AS_ZERO,
            "split_words": split_words,
        }
        self._counts: dict[str, int] = {}
        self.memo: dict[tuple[str, int, str], str] = {}  # (source, flags, window) -> its memo local
        # (index: 0 the classes, 1 the levels; window) -> the local saying whether the window may hold one
        # of the marks (``_marks``) that index's probes start with, and those marks
        self.folded: dict[tuple[int, str], tuple[str, str]] = {}

    def bind(self, prefix: str, value: Any) -> str:
        number = self._counts.get(prefix, 0)
        self._counts[prefix] = number + 1
        name = f"{prefix}{number}"
        self.names[name] = value
        return name


def write_decider(router: Router, columns: int) -> tuple[str, dict[str, Any]]:
    """The decision function's source and the names it reads (``CELLS``, ``cell``, ``complete`` and
    ``TextView`` are the classifier's to add)."""
    writer = _Writer()
    indexes = (router.task_rules, router.level_rules)
    rules = [rule for index in indexes for _, rule in index.entries]
    keyword_windows = _keyword_windows(writer, rules)
    digit_windows = {
        window
        for rule in rules
        if _kind(rule) == "regex"
        for window, pattern in _terms(rule)
        if not leading_literals(pattern) and leads_with_digit(pattern)
    }
    searched: dict[tuple[str, int, str], int] = {}
    for rule in rules:
        if _kind(rule) == "regex":
            for window, pattern in _terms(rule):
                key = (pattern.pattern, pattern.flags, window)
                searched[key] = searched.get(key, 0) + 1
    lines = ["def decide(features, headers):"]
    lines += [f"    {window} = features.{window}_text" for window in _WINDOWS]
    lines.append("    view = None")
    for window in _WINDOWS:
        keywords = keyword_windows.get(window)
        digits = window in digit_windows
        digit_free = keywords is not None and not any(
            byte in DIGIT_BYTES for word in writer.names[keywords[0]] for byte in word
        )
        marks = _marks(writer, indexes, window) if keywords is not None else {}
        lines += _window_lines(writer, window, keywords, marks, digits, digit_free)
    for key, uses in searched.items():
        if uses > 1:
            writer.memo[key] = local = f"M{len(writer.memo)}"
            lines.append(f"    {local} = None")
    has_model = router.model is not None
    task_rows = len(router.task_rules.entries)
    lines.append("    # the task: classes in file order")
    if router.trust_header:
        writer.names["HEADER_ROWS"] = {name: task_rows + 1 + i for i, name in enumerate(router.class_by_name)}
        lines += [
            f"    named = headers.get({TASK_HEADER!r})",
            "    row = -1 if named is None else HEADER_ROWS.get(named, -1)",
            "    if row < 0:",
        ]
        lines += _index_lines(writer, 0, router.task_rules, "row", None if has_model else task_rows, "        ")
    else:
        lines += _index_lines(writer, 0, router.task_rules, "row", None if has_model else task_rows, "    ")
    lines.append("    # the complexity: levels, highest first")
    levels = len(router.level_rules.entries)
    lines += _index_lines(writer, 1, router.level_rules, "column", None if has_model else levels, "    ")
    if has_model:
        lines += [
            "    if row < 0 or column < 0:  # the learned model decides what no rule did",
            "        return complete(features, row, column, view)",
        ]
    lines += [
        f"    key = row * {columns} + column",
        "    decision = CELLS[key]",
        "    if decision is None:",
        "        decision = cell(key)",
        "    return decision",
    ]
    return "\n".join(lines) + "\n", writer.names


def _window_lines(
    writer: _Writer,
    window: str,
    keywords: tuple[str, str] | None,
    marks: dict[str, tuple[int, str]],
    digits: bool,
    digit_free: bool,
) -> list[str]:
    """A window's word set when a keyword rule's word is in it (``W_<window>``, else None) and whether it
    may hold a digit (``D_<window>``), an ASCII window encoded once for both. ``digit_free``: no ASCII
    keyword of the window holds a digit, so the words may have their digits as ``0`` (a word with a
    digit matches no keyword either way) and the digit test reads the same bytes, with no second
    ``translate``. ``marks``: per local (``F<n>_<window>``), a byte and the punctuation its index's regex
    literals start with (``_marks``), which the words' table writes as that byte (a form feed or a
    vertical tab: whitespace to ``bytes.split``, as the space it writes for other punctuation, so the
    same words), so that one test says whether the window may hold one of them (False only for an
    ASCII window holding neither a mark nor that byte)."""
    if keywords is None and not digits:
        return []
    lines = [f"    if {window}.isascii():", f'        _data = {window}.encode("ascii")']
    if keywords is not None:
        ascii_words, words = keywords
        table = ASCII_WORDS_LOWERED_DIGITS_AS_ZERO if digits and digit_free else ASCII_WORDS_LOWERED
        if marks:
            marked = {ord(char): byte for byte, chars in marks.values() for char in chars}
            table = bytes(marked.get(byte, table[byte]) for byte in range(256))
        name = writer.bind("WT", table) if marks else "LOWERED_DIGITS_AS_ZERO" if digits and digit_free else "LOWERED"
        lines += [
            f"        _lowered = _data.translate({name})",
            f"        W_{window} = None",
            f"        if not {ascii_words}.isdisjoint(_lowered.split()):",
            f"            W_{window} = frozenset(split_words({window}.lower()))",
        ]
        lines += [f"        {local} = {byte} in _lowered  # one of {chars!r}" for local, (byte, chars) in marks.items()]
    if digits:
        if keywords is not None and digit_free:
            lines.append(f"        D_{window} = 48 in _lowered  # an ASCII digit (each a 0 in the words)")
        else:
            lines.append(f"        D_{window} = 48 in _data.translate(DIGITS_AS_ZERO)  # an ASCII digit")
    lines.append("    else:")
    if keywords is not None:
        lines += [
            f"        _words = split_words({window}.lower())",
            f"        W_{window} = frozenset(_words) if not {words}.isdisjoint(_words) else None",
        ]
        lines += [f"        {local} = True  # not read as bytes" for local in marks]
    if digits:
        lines.append(f"        D_{window} = True  # another script's digits")
    return lines


def _marks(writer: _Writer, indexes: Sequence[RuleIndex], window: str) -> dict[str, tuple[int, str]]:
    """The marks of ``window`` (a window whose words are made by a ``translate``): per index, the ASCII
    punctuation (not ``_``, a word's character) that the leading literals of its regex rules over the
    window start with (``#`` of ``#travel-``, ``?``), each index's written as its own byte (a form feed,
    a vertical tab) when the two share none, else both as a form feed; per local, its byte and marks
    (and ``writer.folded`` says each index's local)."""
    found = [
        {
            literal[0]
            for _, rule in index.entries
            if _kind(rule) == "regex"
            for term_window, pattern in _terms(rule)
            if term_window == window
            for literal in leading_literals(pattern)
            if literal[0] in _MARKABLE
        }
        for index in indexes
    ]
    shared = not found[0].isdisjoint(found[1])
    marks: dict[str, tuple[int, str]] = {}
    for number, chars in enumerate(found):
        if not chars:
            continue
        byte = FORM_FEED if shared or number == 0 else VERTICAL_TAB
        local = f"F{0 if shared else number}_{window}"
        written = "".join(sorted(found[0] | found[1] if shared else chars))
        marks[local] = (byte, written)
        writer.folded[number, window] = (local, written)
    return marks


def _terms(rule: Rule) -> list[tuple[str, re.Pattern[str]]]:
    """A regex rule's (window, pattern) searches, in ``RegexSet.first``'s order."""
    assert rule.regexes is not None
    return [(window, pattern) for window in rule.regexes.fields for pattern in rule.regexes.patterns]


def _keyword_windows(writer: _Writer, rules: Sequence[Rule]) -> dict[str, tuple[str, str]]:
    """Per window a keyword rule reads, the names of its keywords' words as bytes and as text."""
    words: dict[str, set[str]] = {}
    for rule in rules:
        if _kind(rule) == "keywords":
            assert rule.keywords is not None and rule.keywords.triggers is not None
            for window in rule.keywords.fields:
                words.setdefault(window, set()).update(rule.keywords.triggers)
    return {
        window: (
            writer.bind("AV", frozenset(word.encode("ascii") for word in found if word.isascii())),
            writer.bind("V", frozenset(found)),
        )
        for window, found in sorted(words.items())
    }


def _index_lines(
    writer: _Writer, number: int, index: RuleIndex, result: str, default: int | None, indent: str
) -> list[str]:
    """The ``if``/``elif`` chains setting ``result`` to the first matching rule's position (``default``,
    or -1 when None, when none matches): every rule when a keyword or a regex of the index may match,
    else the others."""
    everything = [(i, rule) for i, (_, rule) in enumerate(index.entries)]
    words: list[TextField] = []  # the windows of its keyword rules
    literals: dict[str, list[str]] = {}  # per window, the leading literals of its regex rules' patterns
    digits: list[str] = []  # the windows of its digit-led patterns
    for _, rule in everything:
        kind = _kind(rule)
        if kind == "keywords":
            assert rule.keywords is not None
            words += rule.keywords.fields
        elif kind == "regex":
            for window, pattern in _terms(rule):
                found = leading_literals(pattern)
                if found:
                    literals.setdefault(window, []).extend(found)
                elif leads_with_digit(pattern):
                    digits.append(window)
                else:  # a pattern searched always: no shorter chain
                    return _chain(writer, everything, result, default, indent)
    if not words and not literals and not digits:
        return _chain(writer, everything, result, default, indent)
    probes = [f"W_{window} is not None" for window in dict.fromkeys(words)]
    for window, texts in literals.items():
        local, marks = writer.folded.get((number, window), ("", ""))
        marked = [f"{literal!r} in {window}" for literal in _probes(texts) if literal[0] in marks]
        probes += [f"{literal!r} in {window}" for literal in _probes(texts) if literal[0] not in marks]
        if marked:  # looked for only when the window may hold one of their first characters
            probes.append(f"({local} and ({' or '.join(marked)}))")
    probes += [f"D_{window}" for window in dict.fromkeys(digits)]
    others = [(i, rule) for i, rule in everything if _kind(rule) in ("features", "other")]
    lines = [f"{indent}if {' or '.join(probes)}:  # a keyword or a regex may match"]
    lines += _chain(writer, everything, result, default, indent + "    ")
    lines.append(f"{indent}else:")
    lines += _chain(writer, others, result, default, indent + "    ")
    return lines


def _probes(literals: Sequence[str]) -> list[str]:
    """The texts to look for in a window that hold one of ``literals`` when it does: literals that
    share their first character with another are looked for by that character (one test for twenty
    ``#<class>-`` literals)."""
    distinct = list(dict.fromkeys(literals))
    sharing = {literal[0] for literal in distinct if sum(other[0] == literal[0] for other in distinct) > 1}
    return list(dict.fromkeys(literal[0] if literal[0] in sharing else literal for literal in distinct))


def _chain(
    writer: _Writer, rules: Sequence[tuple[int, Rule]], result: str, default: int | None, indent: str
) -> list[str]:
    lines: list[str] = []
    for position, rule in rules:
        test = _test(writer, rule)
        keyword = "if" if not lines else "elif"
        lines += [f"{indent}{keyword} {test}:  # {rule.path}", f"{indent}    {result} = {position}"]
    fallback = -1 if default is None else default
    if not lines:
        return [f"{indent}{result} = {fallback}"]
    lines += [f"{indent}else:", f"{indent}    {result} = {fallback}"]
    return lines


def _test(writer: _Writer, rule: Rule) -> str:
    kind = _kind(rule)
    if kind == "features":
        return " and ".join(_check(writer, check) for check in rule.checks) or "True"
    if kind == "regex":
        return " or ".join(_search(writer, window, pattern) for window, pattern in _terms(rule))
    matches = writer.bind("R", rule.matches)
    call = f"{matches}((view := view or TextView(features)))"
    if kind == "keywords":
        assert rule.keywords is not None
        triggers = writer.bind("T", rule.keywords.triggers)
        guard = " or ".join(
            f"(W_{window} is not None and not {triggers}.isdisjoint(W_{window}))" for window in rule.keywords.fields
        )
        return f"({guard}) and {call}"
    return call


def _check(writer: _Writer, check: FeatureCheck) -> str:
    value = f"features.{check.name}"
    nullable = check.name in _NULLABLE
    if check.flag:
        if check.value:
            return value  # truthy (None is not)
        return f"((_a := {value}) is not None and not _a)" if nullable else f"not {value}"
    bound = writer.bind("B", check.value)
    symbol = _SYMBOL[check.compare]
    if nullable:
        return f"((_a := {value}) is not None and _a {symbol} {bound})"
    return f"{value} {symbol} {bound}"


def _search(writer: _Writer, window: str, pattern: re.Pattern[str]) -> str:
    search = writer.bind("P", pattern.search)
    literals = leading_literals(pattern)
    term = f"{search}({window}) is not None"
    if literals:
        term = f"({' or '.join(f'{literal!r} in {window}' for literal in literals)}) and {term}"
    elif leads_with_digit(pattern):
        term = f"D_{window} and {term}"
    memo = writer.memo.get((pattern.pattern, pattern.flags, window))
    if memo is None:
        return f"({term})"
    return f"({memo} if {memo} is not None else ({memo} := {term}))"

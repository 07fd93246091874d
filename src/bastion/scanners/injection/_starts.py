"""Candidate match positions for the rules of :mod:`.rules`, shared within one call.

A rule is tried only at positions where a match of it can begin, instead of at every
position (``search``). Looking for each of a rule's ``starts`` with ``str.find``
costs one pass over the text per string, and a rule set has well over a hundred of
them; the helpers here keep that cost down without changing which match is found:

* :class:`StartFinder` remembers the positions of each string for the rest of one
  :meth:`.RuleSet.match` call (rules share many starts, such as ``you `` or ``igno``);
* a rule whose every match begins with ``\\b`` (:func:`opens_with`) can only match
  where one of its starts sits at a word boundary. :class:`BoundaryIndex` finds all
  such positions of all starts of a view in one regex pass, for every rule at once;
* a rule whose every match begins at the start of the text or with a newline
  (``(?:^|\\n)``) is tried at those positions only;
* starts that all open with a non-word character (``<|im_start|>``, ``[INST]``) are
  looked for by that character, which is rare and found with ``memchr``.

``pattern.match(text, pos)`` sees the text before ``pos`` (``\\b``, lookbehind, ``^``
matches only at the real start), so trying a superset of the positions where a match
can begin, in ascending order, finds the match ``search`` finds (:func:`leftmost`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

__all__ = [
    "INDEX_MIN_STARTS",
    "BoundaryIndex",
    "Opening",
    "StartFinder",
    "leftmost",
    "opens_with",
    "probe_strings",
]

# A boundary index pays for itself (one regex pass instead of a ``find`` pass per
# string) when a view's boundary rules have at least this many distinct starts.
INDEX_MIN_STARTS = 32

# What every match of a pattern begins with, as far as positions go.
Opening = Literal["any", "boundary", "line"]

_WORD_CHAR_RE = re.compile(r"\w")
# ASCII characters a skeleton is made of: letters, digits (``isalnum``) and the space.
_SKELETON_ASCII = bytes(c for c in range(128) if chr(c).isalnum() or c == 0x20)


def opens_with(items: Any, constants: Any) -> Opening:
    """``"boundary"`` when every match of the parsed pattern ``items`` begins with a
    ``\\b``, ``"line"`` when it begins at the text's start (``^``, ``\\A``) or with a
    newline, else ``"any"``. Leading lookarounds are passed over (they consume nothing).
    Callers reject ``re.ASCII``, ``re.LOCALE`` and ``re.MULTILINE``; groups that set or
    clear flags give ``"any"``."""
    for op, av in items:
        if op is constants.ASSERT or op is constants.ASSERT_NOT:
            continue
        if op is constants.AT:
            if av is constants.AT_BOUNDARY:
                return "boundary"
            if av is constants.AT_BEGINNING or av is constants.AT_BEGINNING_STRING:
                return "line"
            return "any"
        if op is constants.LITERAL:
            return "line" if av == 0x0A else "any"
        if op is constants.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            return "any" if add_flags or del_flags else opens_with(sub, constants)
        if op is constants.BRANCH:
            kinds = {opens_with(alt, constants) for alt in av[1]}
            return kinds.pop() if len(kinds) == 1 else "any"
        return "any"
    return "any"


def probe_strings(starts: tuple[str, ...], opening: Opening) -> tuple[str, ...]:
    """Strings such that every match begins where one occurs (or, for ``"line"``, at
    position 0): the starts, or their first characters when all of those are non-word
    characters, or the newline."""
    if opening == "line":
        return ("\n",)
    if starts and not any(_WORD_CHAR_RE.match(s) for s in starts):
        return tuple(sorted({s[0] for s in starts}))
    return starts


def _trie(strings: list[str]) -> str:
    """An alternation matching the same strings as ``a|b|...``, factored by common
    prefix (the regex engine then tests one character per branch instead of each
    string in turn). ``strings`` is sorted and holds no empty string."""
    branches: dict[str, list[str]] = {}
    for string in strings:
        branches.setdefault(string[0], []).append(string[1:])
    alternatives = []
    for char, rests in branches.items():
        tails = [rest for rest in rests if rest]
        tail = _trie(tails) if tails else ""
        if tail and len(tails) < len(rests):  # ``char`` alone is one of the strings
            tail = f"(?:{tail})?"
        alternatives.append(re.escape(char) + tail)
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


class BoundaryIndex:
    """Where ``\\b`` holds and one of a set of starts begins, found in one regex pass.

    Every start begins with a word character (see :meth:`build`), so such a position
    is the text's start or follows a non-word character: the pass looks for a non-word
    character followed by a start, a pattern that opens with a character class, which
    the regex engine skips ahead to in C. Where the text holds only ASCII letters,
    digits and spaces (a skeleton), that character is a space, a literal: faster still.

    At each position the trie captures the longest start found there; the other starts
    there are its prefixes, so a rule is given the positions of every captured string
    that begins with one of its starts (:meth:`keys`)."""

    __slots__ = ("_after_other", "_after_space", "_head", "strings")

    def __init__(self, strings: tuple[str, ...]) -> None:
        trie = _trie(list(strings))
        self.strings = strings
        self._head = re.compile(f"(?=({trie}))")
        self._after_space = re.compile(f" (?=({trie}))")
        self._after_other = re.compile(rf"\W(?=({trie}))")

    @classmethod
    def build(cls, starts: Iterable[str]) -> BoundaryIndex | None:
        """The index of ``starts``, or None when there are none or one does not begin
        with a word character (then the pass above could miss positions)."""
        strings = tuple(sorted(set(starts)))
        if not strings or not all(_WORD_CHAR_RE.match(s) for s in strings):
            return None
        return cls(strings)

    def keys(self, starts: tuple[str, ...]) -> tuple[str, ...]:
        """The strings of the index that begin with one of ``starts``."""
        return tuple(s for s in self.strings if s.startswith(starts))

    def table(self, text: str) -> dict[str, list[int]]:
        """Each captured start, mapped to the (ascending) positions it was found at."""
        if text.isascii() and not text.encode("ascii").translate(None, _SKELETON_ASCII):
            pattern = self._after_space  # every non-word character is a space
        else:
            pattern = self._after_other
        table: dict[str, list[int]] = {}
        head = self._head.match(text)
        if head is not None:
            table[head.group(1)] = [0]
        for hit in pattern.finditer(text):
            key = hit.group(1)
            positions = table.get(key)
            if positions is None:
                table[key] = [hit.end()]
            else:
                positions.append(hit.end())
        return table


class StartFinder:
    """Candidate positions in one view's text; answers are kept for the call."""

    __slots__ = ("_index", "_occurrences", "_table", "_text")

    def __init__(self, text: str, index: BoundaryIndex | None) -> None:
        self._text = text
        self._index = index
        self._occurrences: dict[str, list[int]] = {}
        self._table: dict[str, list[int]] | None = None

    @property
    def indexed(self) -> bool:
        """Whether :meth:`indexed_candidates` can be used (cheap once the index ran)."""
        return self._index is not None

    def indexed_candidates(self, keys: tuple[str, ...]) -> list[int]:
        """Ascending positions where ``\\b`` holds and one of ``keys`` (from
        :meth:`BoundaryIndex.keys`) was captured."""
        table = self._table
        if table is None:
            assert self._index is not None
            table = self._table = self._index.table(self._text)
        return _merged([table[k] for k in keys if k in table])

    def candidates(self, probes: tuple[str, ...], line: bool) -> list[int]:
        """Ascending positions where one of ``probes`` occurs (and, with ``line``,
        position 0); may repeat a position."""
        found = [self._find_all(s) for s in probes]
        if line:
            found.append([0])
        return _merged(found)

    def _find_all(self, string: str) -> list[int]:
        positions = self._occurrences.get(string)
        if positions is None:
            positions = self._occurrences[string] = []
            find = self._text.find
            at = find(string)
            while at >= 0:
                positions.append(at)
                at = find(string, at + 1)
        return positions


def _merged(lists: list[list[int]]) -> list[int]:
    """The ascending lists ``lists`` as one ascending list."""
    if len(lists) == 1:
        return lists[0]
    return sorted([at for positions in lists for at in positions])


def leftmost(pattern: re.Pattern[str], positions: list[int], text: str) -> re.Match[str] | None:
    """The first match of ``pattern`` at one of ``positions`` (ascending): the match
    ``search`` finds when every match begins at one of them."""
    match = pattern.match
    for at in positions:
        hit = match(text, at)
        if hit is not None:
            return hit
    return None

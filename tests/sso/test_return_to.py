"""After sign-in the browser lands only on a path of the gateway (no open redirect)."""

from __future__ import annotations

import pytest

from bastion.sso.service import safe_return_to


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/admin/me", "/admin/me"),
        ("/console?tab=audit#x", "/console?tab=audit#x"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/" + "a" * 600, "/"),
    ],
)
def test_only_local_paths_are_kept(value: str | None, expected: str) -> None:
    assert safe_return_to(value) == expected

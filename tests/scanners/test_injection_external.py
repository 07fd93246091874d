"""The external classifier slot: checksum first, then a clear message for a missing extra."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from bastion.scanners import Decision, ScanContext, Stage
from bastion.scanners.injection import PromptInjectionScanner
from bastion.scanners.injection.external import ExternalModelError, load_external

from .injection_helpers import ConstantClassifier

USER = ScanContext(stage=Stage.INPUT, role="user")


@pytest.fixture
def model_files(tmp_path: Path) -> tuple[Path, str]:
    model = tmp_path / "injection.onnx"
    model.write_bytes(b"not really onnx")
    (tmp_path / "tokenizer.json").write_text("{}")
    return model, hashlib.sha256(model.read_bytes()).hexdigest()


def test_checksum_mismatch_refuses_to_load(model_files: tuple[Path, str]) -> None:
    """A file whose SHA-256 differs from the policy's is never loaded."""
    model, _ = model_files
    spec = {"path": str(model), "sha256": "0" * 64}
    with pytest.raises(ExternalModelError, match="SHA-256") as info:
        load_external("prompt_injection", spec)
    assert "refusing to load" in str(info.value)


def test_missing_extra_names_the_install_command(
    model_files: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a good checksum but no onnxruntime, the error says which extra to install."""
    model, digest = model_files
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExternalModelError, match=r"pip install 'bastion-gateway\[onnx\]'"):
        load_external("prompt_injection", {"path": str(model), "sha256": digest})


def test_scanner_option_builds_through_the_same_checks(model_files: tuple[Path, str]) -> None:
    """The scanner's ``external`` option fails at build time on a bad checksum."""
    model, _ = model_files
    with pytest.raises(ExternalModelError):
        PromptInjectionScanner(
            {"external": {"path": str(model), "sha256": "f" * 64}},
            classifier=ConstantClassifier(0.0),
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("model.onnx", "must be a table"),
        ({"sha256": "0" * 64}, "external.path"),
        ({"path": "m.onnx", "sha256": "xyz"}, "external.sha256"),
        ({"path": "m.onnx", "sha256": "0" * 64, "threshold": 2}, "external.threshold"),
        ({"path": "m.onnx", "sha256": "0" * 64, "url": "x"}, "external.url"),
        ({"path": "/nonexistent/m.onnx", "sha256": "0" * 64}, "does not exist"),
    ],
)
def test_bad_external_tables_say_what_to_fix(spec: object, message: str) -> None:
    """Each invalid table names the field."""
    with pytest.raises(ExternalModelError, match=message):
        load_external("prompt_injection", spec)


def test_injected_external_classifier_blocks_on_its_own_threshold() -> None:
    """An external classifier above its threshold blocks with injection.external."""
    scanner = PromptInjectionScanner(
        {}, classifier=ConstantClassifier(0.0), external=ConstantClassifier(0.9)
    )
    result = scanner.scan("an ordinary sentence", USER)
    assert result.decision is Decision.BLOCK
    assert result.reason == "injection.external"
    assert [f.type for f in result.findings] == ["injection:external"]

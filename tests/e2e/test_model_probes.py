"""Scheduled behaviour probes in a running gateway: the scripted upstream is a naive
model that obeys the probe's injection and ignores the format, so the gateway raises
model-drift alerts for it in the deployment's chain on its own."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from bastion.secrets import DEPLOYMENT
from bastion.store.schema import AuditRecord
from tests.e2e.conftest import Gateway


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"model_probe_seconds": 0.5}


def test_the_gateway_probes_its_models_and_alerts_on_drift(gateway: Gateway) -> None:
    query = select(AuditRecord.body).where(AuditRecord.tenant_id == DEPLOYMENT)
    deadline = time.monotonic() + 30
    alerts: set[tuple[str, str]] = set()
    while time.monotonic() < deadline and len(alerts) < 4:
        with gateway.engine.connect() as conn:
            bodies = [json.loads(b) for b in conn.execute(query).scalars()]
        alerts = {
            (b["extra"]["model"], b["extra"]["check"])
            for b in bodies
            if b["outcome"] == "alert_model_drift"
        }
        time.sleep(0.1)
    assert alerts == {
        ("gpt-test", "injection"),
        ("gpt-test", "format"),
        ("claude-test", "injection"),
        ("claude-test", "format"),
    }
    assert gateway.verify().ok

"""Property-based fuzzing of the live API from its own OpenAPI document (schemathesis).

Every generated request, valid or not, must get a documented status with a
conforming body, and never a server error. Each operation gets a bounded number of
examples so the test stays a few seconds long. (schemathesis drives hypothesis
directly here: its pytest plugin does not run under pytest 9 yet.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bastion.gateway.admin import ADMIN_ROUTES
from tests.e2e.conftest import Gateway


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_api_conforms_and_never_fails(gateway: Gateway) -> None:
    """No 5xx, documented statuses and shapes, for generated valid and invalid input."""
    schema = schemathesis.openapi.from_url(gateway.base_url + "/openapi.json")
    # An owner's key reaches every admin route (a member's would see only 403s).
    owner = gateway.identity.create_key("acme", "owner@acme.test", datetime.now(UTC), role="owner")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/v1/chat/completions", "/v1/messages", "/v1/models"} <= paths
    assert {r.path for r in ADMIN_ROUTES} <= paths
    assert "/sso/{tenant}/oidc/callback" in paths and "/sso/{tenant}/saml/acs" in paths
    for operation in operations:
        key = owner.secret if operation.path.startswith("/admin") else gateway.key
        examples = 60 if operation.path.startswith("/v1") else 20
        fuzz(operation, {"Authorization": f"Bearer {key}"}, examples)


def fuzz(operation: Any, headers: dict[str, str], examples: int) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: schemathesis.Case) -> None:
        # positive_data_acceptance is left out on purpose: JSON Schema cannot say
        # "no unpaired surrogate escapes, no integers beyond 64 bits", which
        # Bastion refuses with 400 invalid_request rather than forward.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()

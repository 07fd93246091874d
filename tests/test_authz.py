"""RBAC: the permission table in docs/permissions.md is the code's, deny by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.authz import PERMISSIONS, ROLES, STEP_UP, Access, allowed, parse_access

DOC = Path(__file__).parents[1] / "docs" / "permissions.md"


def doc_table() -> tuple[list[str], dict[str, set[str]], set[str]]:
    table = DOC.read_text().split("## Admin API")[0]  # the permission table comes first
    lines = [line for line in table.splitlines() if line.startswith("| `")]
    header = next(line for line in DOC.read_text().splitlines() if line.startswith("| permission"))
    roles = [c.strip() for c in header.strip("|").split("|")][2:]
    grants: dict[str, set[str]] = {role: set() for role in roles}
    step_up: set[str] = set()
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        permission = cells[0].strip("`")
        if cells[1] == "yes":
            step_up.add(permission)
        for role, cell in zip(roles, cells[2:], strict=True):
            if cell == "✓":
                grants[role].add(permission)
    return roles, grants, step_up


def test_the_documented_table_is_the_code_table() -> None:
    roles, grants, step_up = doc_table()
    assert roles == list(ROLES)
    assert {role: frozenset(p) for role, p in grants.items()} == dict(ROLES)
    assert step_up == STEP_UP
    assert set().union(*grants.values()) == PERMISSIONS


@pytest.mark.parametrize("role", [*ROLES, "auditor", "root", ""])
@pytest.mark.parametrize("permission", [*sorted(PERMISSIONS), "everything", ""])
def test_deny_by_default(role: str, permission: str) -> None:
    expected = permission in ROLES.get("security_analyst" if role == "auditor" else role, ())
    assert allowed(role, permission) is expected


def test_model_access_per_role() -> None:
    access = parse_access({"roles": {"member": {"models": ["gpt-4o-mini", "claude-*"]}}})
    assert access.allows_model("member", "claude-3-haiku")
    assert not access.allows_model("member", "gpt-4o")
    assert access.allows_model("admin", "gpt-4o")  # not listed: the policy's models
    assert Access().allows_model("viewer", "anything")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"colour": 1}, "unknown option 'colour'"),
        ({"roles": {"god": {}}}, "unknown role 'god'"),
        ({"roles": {"member": {"models": "gpt"}}}, "must be a list"),
        ({"roles": {"member": {"tools": []}}}, "the only option is 'models'"),
        ({"roles": ["member"]}, "'roles' must be a table"),
    ],
)
def test_bad_access_tables_name_the_problem(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_access(table)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[sessions]\nidle_minutes = 0\n", "idle_minutes"),
        ('[sso.oidc]\nissuer = "http://idp.example"\n', "issuer"),
        ("[sso.ldap]\nhost = 1\n", "unknown table 'ldap'"),
        ('[access.roles.member]\nmodels = "x"\n', "must be a list"),
        ('[rate_limits]\nrequests_per_user = "lots"\n', "requests_per_user"),
    ],
)
def test_bastion_scan_checks_every_identity_table(tmp_path: Path, toml: str, message: str) -> None:
    """`bastion scan --policy FILE` refuses a policy whose identity tables the gateway
    would refuse (it answers such a tenant policy_unavailable)."""
    from typer.testing import CliRunner

    from bastion.cli import build_app

    path = tmp_path / "p.toml"
    path.write_text(toml)
    result = CliRunner().invoke(build_app(), ["scan", "--policy", str(path)], input="")
    assert result.exit_code == 2 and message in result.output

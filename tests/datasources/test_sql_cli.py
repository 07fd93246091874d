"""`bastion sql check`, run for real: a policy file, or a data source in the store seen
as one user; decisions per line, clear errors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources.sources import DataSources
from bastion.identity import IdentityService
from tests.cli_helpers import bastion

POLICY = """
kind = "sqlite"
role = "member"
user_id = "u-1"
[params]
region = "north"
[config]
row_cap = 50
[config.tables.orders]
columns = ["id", "region", "amount", "email"]
row_filter = "region = :region"
masked = ["email"]
"""
LINES = [
    {"id": 1, "sql": "SELECT id, amount FROM orders WHERE amount > 10 OR 1=1"},
    {"id": 2, "sql": "DELETE FROM orders"},
    {"id": 3, "sql": "SELECT * FROM sqlite_master"},
    {"id": 4, "sql": "SELECT 1; DROP TABLE orders"},
]


def decisions(stdout: str) -> list[tuple[object, str, str]]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    return [(r["id"], r["decision"], r["reason"]) for r in rows]


def test_a_policy_file_decides_each_line(tmp_path: Path) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(POLICY)
    stdin = "\n".join(json.dumps(line) for line in LINES) + "\nnot json\n[1]\n"
    result = bastion("sql", "check", "--policy", str(path), data_dir=tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert decisions(result.stdout) == [
        (1, "allow", "ok"),
        (2, "refuse", "not_select"),
        (3, "refuse", "catalog_access"),
        (4, "refuse", "multiple_statements"),
        (None, "error", "invalid_json"),
        (None, "error", "expected {id, sql}"),
    ]
    allowed = json.loads(result.stdout.splitlines()[0])
    assert "'north'" in allowed["sql"] and "LIMIT 50" in allowed["sql"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind = 'oracle'\n", "kind must be"),
        ("kind = 'sqlite'\ncolour = 1\n", "unknown key 'colour'"),
        ("kind = 'sqlite'\n[config]\nrow_cap = 0\n", "row_cap"),
        ("kind = \n", "cannot read it as TOML"),
    ],
)
def test_a_bad_policy_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(text)
    result = bastion("sql", "check", "--policy", str(path), data_dir=tmp_path, stdin="")
    assert result.returncode == 2 and message in result.stderr


def test_a_stored_source_is_checked_as_the_user_sees_it(
    tmp_path: Path, engine: Engine, app_db_url: str
) -> None:
    """--source/--user: that user's view of the source (here, their role's row filter);
    a user who may not query it, or an unknown source, is refused with exit code 2."""
    kek = bytes(range(40, 72))
    (tmp_path / "kek").write_text(base64.b64encode(kek).decode())
    now = datetime.now(UTC)
    identity = IdentityService(engine)
    tenant_id, _ = identity.ensure_tenant("default", now)
    owner = identity.ensure_user("default", "ana@corp.test", "member", now)
    identity.ensure_user("default", "eve@corp.test", "member", now)
    store = DataSources(engine, Keyring(engine, LocalKeyProvider(kek), lambda: now), lambda: now)
    store.connect(
        tenant_id,
        owner,
        "sales",
        "postgres",
        "postgresql+psycopg://reader:pw@db.internal/sales",
        {"tables": {"orders": {"row_filter": "owner = :user_id"}}},
    )
    env = {"BASTION_DATABASE_URL": app_db_url}
    stdin = json.dumps({"id": "q", "sql": "SELECT * FROM orders"}) + "\n"  # noqa: S608
    args = ("sql", "check", "--source", "sales", "--user")
    mine = bastion(*args, "ana@corp.test", data_dir=tmp_path, stdin=stdin, env=env)
    assert mine.returncode == 0, mine.stderr
    row = json.loads(mine.stdout)
    assert row["decision"] == "allow" and f"'{owner}'" in row["sql"]
    theirs = bastion(*args, "eve@corp.test", data_dir=tmp_path, stdin=stdin, env=env)
    assert theirs.returncode == 2 and "no data source 'sales'" in theirs.stderr
    assert "pw@" not in mine.stdout + mine.stderr + theirs.stderr

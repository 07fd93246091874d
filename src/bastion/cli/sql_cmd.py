"""``bastion sql check``: run SQL through the query guard, so policies can be tested in CI.

Reads one ``{"id", "sql"}`` object a line from stdin and writes one ``{"id",
"decision", "reason", "sql", "tables"}`` line per input: ``decision`` is ``allow``
(``sql`` is the rewritten statement the gateway would run) or ``refuse`` (``sql`` is
empty, ``reason`` the code). A line that is not such an object gets ``decision``
``error``, and the rest still run. The caller is either a data source in the store
(``--source NAME --user EMAIL [--tenant T]``: that user's view of it), or a policy
file (``--policy FILE``, no database)::

    kind = "postgres"            # postgres | mysql | sqlite
    role = "member"              # the caller's role
    user_id = "u-1"              # bound as :user_id
    [params]                     # the caller's attributes the row filters name
    region = "EMEA"
    [config]                     # a data source's guard config (see datasources.sources)
    row_cap = 1000
    [config.tables.orders]
    columns = ["id", "region", "amount", "email"]
    row_filter = "region = :region"
    masked = ["email"]
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import typer

from bastion.cli.common import die, now, open_engine, settings_or_exit
from bastion.datasources import GuardPolicy, check
from bastion.datasources._source_config import SourceError, parse_config, rules_for

__all__ = ["sql_app"]


def _file_policy(path: Path) -> GuardPolicy:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        die(f"{path}: {type(exc).__name__}: cannot read it as TOML")
    unknown = sorted(set(data) - {"kind", "role", "user_id", "params", "config"})
    if unknown:
        die(f"{path}: unknown key {unknown[0]!r:.40} (kind, role, user_id, params, config)")
    kind, role, user_id = data.get("kind"), data.get("role", "member"), data.get("user_id", "")
    params = data.get("params", {})
    if kind not in ("postgres", "mysql", "sqlite"):
        die(f"{path}: kind must be postgres, mysql or sqlite")
    if not isinstance(role, str) or not isinstance(user_id, str) or not isinstance(params, dict):
        die(f"{path}: role and user_id must be strings, params a table")
    try:
        config = parse_config(kind, data.get("config", {}))
        bound = {**params, "user_id": user_id}
        return GuardPolicy(kind, rules_for(config, user_id, role), bound, config.row_cap)
    except (SourceError, ValueError, TypeError) as exc:
        die(f"{path}: {exc}")


def _source_policy(tenant: str, source: str, user: str, params: dict[str, str]) -> GuardPolicy:
    from bastion.crypto.select import keyring_for
    from bastion.datasources.sources import DataSources, guard_policy_for
    from bastion.identity import IdentityService
    from bastion.identity.directory import Directory

    settings = settings_or_exit()
    engine = open_engine(settings)
    keyring = keyring_for(settings, engine)
    if keyring is None:
        die("data sources need the key-encryption key (BASTION_KEK_FILE)")
    try:
        tenant_id = IdentityService(engine).tenant_id(tenant)
        person = next((u for u in Directory(engine).users(tenant_id) if u.email == user), None)
        if person is None:
            die(f"no user {user!r:.80} in tenant {tenant!r:.80}")
        store = DataSources(engine, keyring, now)
        found = next(
            (s for s in store.visible(tenant_id, person.id, person.role) if s.name == source),
            None,
        )
        if found is None:
            die(f"no data source {source!r:.80} that {user!r:.80} may query")
        opened = store.get_for(tenant_id, found.id, person.id, person.role)
        return guard_policy_for(opened, person.id, person.role, params)
    except (SourceError, ValueError) as exc:
        die(str(exc))
    finally:
        engine.dispose()


def _params(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not eq or not name:
            die(f"--param needs NAME=VALUE, got {item!r:.40}")
        out[name] = value
    return out


def _line(raw: str, policy: GuardPolicy) -> dict[str, Any]:
    try:
        item = json.loads(raw)
    except ValueError:
        return {"id": None, "decision": "error", "reason": "invalid_json"}
    if not isinstance(item, dict) or not isinstance(item.get("sql"), str):
        ident = item.get("id") if isinstance(item, dict) else None
        return {"id": ident, "decision": "error", "reason": "expected {id, sql}"}
    result = check(item["sql"], policy)
    return {
        "id": item.get("id"),
        "decision": "allow" if result.allowed else "refuse",
        "reason": result.reason,
        "sql": result.sql,
        "tables": list(result.tables),
    }


def sql_app() -> typer.Typer:
    app = typer.Typer(help="The query guard on model-written SQL.", no_args_is_help=True)

    @app.command("check")
    def check_cmd(
        policy: Path | None = typer.Option(None, help="A guard policy TOML file (no database)."),
        source: str | None = typer.Option(None, help="A data source's name in the store."),
        user: str | None = typer.Option(None, help="The user (email) whose view to check."),
        tenant: str = typer.Option("default", help="The tenant of --source and --user."),
        param: list[str] = typer.Option([], help="NAME=VALUE: a caller attribute (repeat)."),
    ) -> None:
        """Check JSON Lines of SQL from stdin; one decision line per input."""
        if (policy is None) == (source is None):
            die("give --policy FILE, or --source NAME with --user EMAIL")
        if policy is not None:
            chosen = _file_policy(policy)
        else:
            if user is None:
                die("--source needs --user EMAIL")
            assert source is not None
            chosen = _source_policy(tenant, source, user, _params(param))
        out = sys.stdout
        for raw in sys.stdin:
            if raw.strip():
                out.write(json.dumps(_line(raw, chosen)) + "\n")
        out.flush()

    return app

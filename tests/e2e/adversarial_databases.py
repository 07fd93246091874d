"""The databases the hostile statements of :mod:`tests.e2e.test_adversarial_sql` run
against: created and dropped per engine (PostgreSQL or MariaDB), loaded with the broker
demo plus what alice must never see, and fingerprinted (tables, contents, the server's
roles and databases) so that the module can show nothing changed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, text

from bastion import demo_data
from tests.conftest import PG_ADMIN_URL

__all__ = ["create_database", "database_state", "drop_database", "load"]

MYSQL_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/"
ALICE, BOB, NOBODY = "alice@acme.test", "bob@acme.test", "carol@acme.test"
OWNERS = {"CA": ALICE, "NY": BOB}  # every other state's customers: NOBODY's


def create_database(kind: str, name: str) -> tuple[str, Engine]:
    """A new, empty database: its URL (for a source) and an owner's engine on it."""
    if kind == "postgres":
        admin_url, url = PG_ADMIN_URL, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        create = f'CREATE DATABASE "{name}"'
    else:
        admin_url, url = MYSQL_ADMIN_URL, MYSQL_ADMIN_URL + name
        create = f"CREATE DATABASE `{name}`"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(create))
    admin.dispose()
    return url, create_engine(url)


def drop_database(kind: str, name: str) -> None:
    admin_url = PG_ADMIN_URL if kind == "postgres" else MYSQL_ADMIN_URL
    drop = (
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        if kind == "postgres"
        else f"DROP DATABASE IF EXISTS `{name}`"
    )
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(drop))
    admin.dispose()


def load(data: Engine, globex: Engine, tag: str) -> list[str]:
    """The broker demo plus owners, SSNs, a secrets table, and globex's ledger;
    returns every value alice must never see."""
    demo_data.load(data, "broker", now=datetime(2026, 12, 2, tzinfo=UTC))
    forbidden = [BOB, NOBODY]
    with data.begin() as conn:
        conn.execute(text("ALTER TABLE sbCustomer ADD COLUMN owner_email VARCHAR(64)"))
        conn.execute(text("ALTER TABLE sbCustomer ADD COLUMN sbCustSsn VARCHAR(64)"))
        customers = conn.execute(
            text(
                "SELECT sbCustId, sbCustName, sbCustEmail, sbCustPhone, sbCustAddress1, "
                "sbCustCity, sbCustState FROM sbCustomer"
            )
        ).all()
        alice_cities = {row[5] for row in customers if row[6] == "CA"}
        for cid, name, email, phone, address, city, state in customers:
            ssn = f"SSN-{tag}-{cid}"
            conn.execute(
                text("UPDATE sbCustomer SET owner_email = :o, sbCustSsn = :s WHERE sbCustId = :i"),
                {"o": OWNERS.get(state, NOBODY), "s": ssn, "i": cid},
            )
            forbidden += [email, phone, address, ssn]
            if state != "CA":
                forbidden += [cid, name] + ([city] if city not in alice_cities else [])
        conn.execute(text("CREATE TABLE bastion_secrets (id INT, token VARCHAR(64))"))
        for n in range(3):
            token = f"SECRET-TOKEN-{tag}-{n}"
            conn.execute(text("INSERT INTO bastion_secrets VALUES (:n, :t)"), {"n": n, "t": token})
            forbidden.append(token)
        forbidden += conn.execute(text("SELECT sbTxId FROM sbTransaction")).scalars().all()
    with globex.begin() as conn:
        conn.execute(
            text("CREATE TABLE globex_ledger (id INT, owner_email VARCHAR(64), secret VARCHAR(64))")
        )
        for n in range(3):
            secret = f"GLOBEX-CANARY-{tag}-{n}"
            conn.execute(
                text("INSERT INTO globex_ledger VALUES (:n, 'user@globex.test', :s)"),
                {"n": n, "s": secret},
            )
            forbidden.append(secret)
    return forbidden


def database_state(kind: str, data: Engine, globex: Engine) -> dict[str, object]:
    """Tables, row counts and contents of both databases, and the server's roles."""
    state: dict[str, object] = {}
    for label, engine in (("data", data), ("globex", globex)):
        with engine.connect() as conn:
            if kind == "postgres":
                tables = conn.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                        "ORDER BY 1"
                    )
                ).scalars()
            else:
                tables = conn.execute(text("SHOW FULL TABLES")).scalars()
            names = sorted(tables)
            state[f"{label}.tables"] = names
            for name in names:
                table = name.rsplit(".", 1)[-1]
                rows = conn.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                state[f"{label}.{table}"] = (len(rows), digest)
    with data.connect() as conn:
        if kind == "postgres":
            state["roles"] = sorted(conn.execute(text("SELECT rolname FROM pg_roles")).scalars())
            state["databases"] = sorted(
                conn.execute(text("SELECT datname FROM pg_database")).scalars()
            )
        else:
            users = conn.execute(text("SELECT CONCAT(User, '@', Host) FROM mysql.user"))
            state["roles"] = sorted(users.scalars())
            state["databases"] = sorted(conn.execute(text("SHOW DATABASES")).scalars())
    # Only the names the hostile statements try to create: other test modules' scratch
    # databases and roles come and go on the same servers meanwhile.
    for listed in ("roles", "databases"):
        state[listed] = [n for n in state[listed] if str(n).split("@")[0] in _ATTACK_NAMES]
    return state


# Every role, user or database a hostile statement in adversarial_cases tries to create.
_ATTACK_NAMES = frozenset({"bastion_evil", "bastion_pwned", "evil", "pwned"})

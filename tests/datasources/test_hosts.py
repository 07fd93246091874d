"""The network allow-list of data-source hosts (SSRF): deny by default, every resolved
address checked, numeric tricks read as the address they are, the connection pinned."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bastion.datasources._hosts import SETTING, HostNotAllowed, HostPolicy
from bastion.datasources.executor import Executor, QueryFailed
from bastion.datasources.sources import ConnectionUrl, Source, SourceConfig
from bastion.settings import Settings
from tests.conftest import PG_ADMIN_URL, need_service


class FakeDns:
    """A resolver the test controls: name -> addresses; unknown names do not resolve."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int | None) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


DNS = FakeDns(
    {
        "db.corp.internal": ["10.20.1.5"],
        "a.b.corp.internal": ["10.20.1.6"],
        "corp.internal": ["10.20.1.7"],
        "metadata.corp.internal": ["169.254.169.254"],
        "mixed.corp.internal": ["10.20.1.5", "169.254.169.254"],
        "split.example": ["10.20.1.5", "192.168.1.1"],
        "v6.corp.internal": ["fd00::5"],
        "v6ll.corp.internal": ["fe80::1%eth0"],
        "mapped.corp.internal": ["::ffff:169.254.169.254"],
        "zero.corp.internal": ["0.0.0.0"],
        "inside.example": ["10.20.3.3"],
    }
)


def policy(*entries: str) -> HostPolicy:
    return HostPolicy(entries, resolve=DNS)


def refused(p: HostPolicy, host: str) -> str:
    with pytest.raises(HostNotAllowed) as caught:
        p.check(host, 5432)
    return str(caught.value)


def test_an_empty_list_allows_no_network_source_and_names_the_setting() -> None:
    """Deny by default: nothing listed, nothing reachable, not even loopback."""
    empty = policy()
    assert not empty.enabled
    for host in ("127.0.0.1", "localhost", "db.corp.internal"):
        message = refused(empty, host)
        assert "BASTION_DATA_SOURCES_ALLOWED_HOSTS" in message
    assert "BASTION_DATA_SOURCES_ALLOWED_HOSTS" in SETTING


@pytest.mark.parametrize(
    ("entries", "host", "expected"),
    [
        (["db.corp.internal"], "db.corp.internal", ["10.20.1.5"]),
        (["DB.Corp.Internal"], "db.CORP.internal.", ["10.20.1.5"]),  # case, trailing dot
        (["*.corp.internal"], "db.corp.internal", ["10.20.1.5"]),
        (["*.corp.internal"], "a.b.corp.internal", ["10.20.1.6"]),
        (["10.20.0.0/16"], "db.corp.internal", ["10.20.1.5"]),  # an unlisted name, in range
        (["10.20.1.5"], "10.20.1.5", ["10.20.1.5"]),
        (["fd00::/8"], "v6.corp.internal", ["fd00::5"]),
        (["fd00::/8"], "[fd00::5]", ["fd00::5"]),
        (["::1"], "::1", ["::1"]),
        (["127.0.0.1"], "::ffff:127.0.0.1", ["127.0.0.1"]),  # IPv4-mapped reads as IPv4
        (["169.254.169.254"], "169.254.169.254", ["169.254.169.254"]),  # explicit: allowed
        (["*.corp.internal", "169.254.0.0/16"], "metadata.corp.internal", ["169.254.169.254"]),
    ],
)
def test_allowed(entries: list[str], host: str, expected: list[str]) -> None:
    assert policy(*entries).check(host, 5432) == expected


@pytest.mark.parametrize(
    ("entries", "host"),
    [
        (["db.corp.internal"], "db2.corp.internal"),  # exact means exact
        (["db.corp.internal"], "db.corp.internal.evil.test"),
        (["*.corp.internal"], "corp.internal"),  # a wildcard needs a label before it
        (["*.corp.internal"], "evilcorp.internal"),
        (["10.20.0.0/16"], "10.21.0.1"),
        (["10.20.0.0/16"], "split.example"),  # one address in range, one not
        (["127.0.0.1"], "169.254.169.254"),
        (["127.0.0.1"], "10.0.0.1"),
        (["*.corp.internal"], "metadata.corp.internal"),  # a listed name, link-local address
        (["*.corp.internal"], "mixed.corp.internal"),  # one allowed, one forbidden address
        (["*.corp.internal"], "v6ll.corp.internal"),  # fe80::/10, with a zone id
        (["*.corp.internal"], "mapped.corp.internal"),  # ::ffff:169.254.169.254
        (["*.corp.internal"], "zero.corp.internal"),  # 0.0.0.0 reaches the gateway itself
        (["fd00::/8"], "fe80::1"),
        (["fd00::/8"], "fe80::1%eth0"),
        (["127.0.0.1"], "nowhere.corp.internal"),  # does not resolve
        (["*.corp.internal"], "nowhere.corp.internal"),
        (["127.0.0.1"], ""),
        (["127.0.0.1"], "/var/run/postgresql"),  # a libpq socket directory
        (["127.0.0.1"], "127.0.0.1 evil"),  # inet_aton would accept trailing text
        (["127.0.0.1"], "127.0.0.1\n"),
        (["127.0.0.1"], "local host"),
    ],
)
def test_refused(entries: list[str], host: str) -> None:
    message = refused(policy(*entries), host)
    assert "://" not in message and "@" not in message


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001"])
def test_legacy_numeric_forms_read_as_the_address_they_make(host: str) -> None:
    """Decimal, hex and octal IPv4 (what getaddrinfo and libpq accept) are refused
    unless the address they normalise to is allowed, and then pinned to it."""
    assert policy("127.0.0.1").check(host, 5432) == ["127.0.0.1"]
    refused(policy("10.0.0.0/8"), host)
    refused(policy("localhost"), host)  # a name entry never allows a numeric host


@pytest.mark.parametrize("host", ["2852039166", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376"])
def test_the_metadata_address_in_disguise_is_refused(host: str) -> None:
    message = refused(policy("127.0.0.1", "*.corp.internal"), host)
    assert "not allowed" in message


def test_an_unlisted_name_is_not_even_looked_up_when_no_network_could_allow_it() -> None:
    dns = FakeDns({"db.corp.internal": ["10.20.1.5"]})
    with pytest.raises(HostNotAllowed):
        HostPolicy(["db.other.internal"], resolve=dns).check("db.corp.internal", 5432)
    assert dns.asked == []


def test_localhost_both_ways() -> None:
    """The real resolver: ``localhost`` may answer 127.0.0.1 and ::1. Listing the name
    allows every (loopback) answer; listing 127.0.0.1 alone allows it only when
    127.0.0.1 is its only answer; listing both addresses allows it either way."""
    answers = {info[4][0] for info in socket.getaddrinfo("localhost", 5432)}
    assert HostPolicy(["localhost"]).check("localhost", 5432)
    if answers <= {"127.0.0.1"}:
        assert HostPolicy(["127.0.0.1"]).check("localhost", 5432) == ["127.0.0.1"]
    else:
        with pytest.raises(HostNotAllowed):
            HostPolicy(["127.0.0.1"]).check("localhost", 5432)
    assert set(HostPolicy(["127.0.0.1", "::1"]).check("localhost", 5432)) == {
        a.split("%")[0] for a in answers
    }
    with pytest.raises(HostNotAllowed):
        HostPolicy(["10.0.0.0/8"]).check("localhost", 5432)


@pytest.mark.parametrize(
    "entry", ["10.0.0.1/8", "*.", "*.com.", "db corp", "0x7f.1", "2130706433", "*.1.2", "a/b"]
)
def test_bad_entries_fail_at_start_naming_the_entry(entry: str) -> None:
    with pytest.raises(ValueError, match="data_sources_allowed_hosts"):
        HostPolicy([entry])
    with pytest.raises(ValueError, match="data_sources_allowed_hosts"):
        Settings(data_sources_allowed_hosts=[entry])


def test_the_setting_reads_json_or_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "BASTION_DATA_SOURCES_ALLOWED_HOSTS", "127.0.0.1, *.corp.internal,10.0.0.0/8"
    )
    assert Settings().data_sources_allowed_hosts == ["127.0.0.1", "*.corp.internal", "10.0.0.0/8"]
    monkeypatch.setenv("BASTION_DATA_SOURCES_ALLOWED_HOSTS", '["::1", "db.corp.internal"]')
    assert Settings().data_sources_allowed_hosts == ["::1", "db.corp.internal"]
    monkeypatch.delenv("BASTION_DATA_SOURCES_ALLOWED_HOSTS")
    assert Settings().data_sources_allowed_hosts == []


def test_repr_holds_no_entries() -> None:
    assert repr(policy("db.corp.internal", "10.0.0.0/8")) == "HostPolicy(entries=2)"


# --- the executor: checked at every query, pinned to the checked address ---------------

CONFIG = SourceConfig.model_validate({"tables": {"t": {"columns": ["a"]}}})


@pytest.fixture
def pg_database(pg_available: bool) -> Iterator[str]:
    """A scratch PostgreSQL database with t(a); its URL's host is replaced by the tests."""
    need_service("PostgreSQL", pg_available)
    name = f"bastion_hosts_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    filler = create_engine(url)
    with filler.begin() as conn:
        conn.execute(text("CREATE TABLE t (a INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    filler.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_the_connection_is_pinned_to_the_checked_address(pg_database: str) -> None:
    """``db.bastion.invalid`` resolves only in the policy's resolver: the query still
    runs, so psycopg connected to the checked address (hostaddr), not to the name."""
    dns = FakeDns({"db.bastion.invalid": ["127.0.0.1"]})
    url = pg_database.replace("@127.0.0.1:", "@db.bastion.invalid:")
    source = Source("s", "t", "u", "n", "postgres", CONFIG, ConnectionUrl(url))
    executor = Executor(hosts=HostPolicy(["127.0.0.1"], resolve=dns))
    try:
        assert executor.run(source, "SELECT a FROM t", timeout_ms=5000, row_cap=5).rows == ((1,),)
        assert dns.asked == ["db.bastion.invalid"]
        # Rebinding: the name now answers the metadata address; the next query is refused
        # before any connection, although a pooled one to 127.0.0.1 exists.
        dns.answers["db.bastion.invalid"] = ["169.254.169.254"]
        with pytest.raises(QueryFailed) as caught:
            executor.run(source, "SELECT a FROM t", timeout_ms=5000, row_cap=5)
        assert caught.value.code == "host_not_allowed"
        assert url not in str(caught.value) and "db.bastion.invalid" not in str(caught.value)
    finally:
        executor.close()


@pytest.mark.postgres
def test_a_changed_answer_gets_a_new_pool_pinned_to_it(pg_database: str) -> None:
    dns = FakeDns({"db.bastion.invalid": ["127.0.0.1"]})
    url = pg_database.replace("@127.0.0.1:", "@db.bastion.invalid:")
    source = Source("s", "t", "u", "n", "postgres", CONFIG, ConnectionUrl(url))
    executor = Executor(hosts=HostPolicy(["127.0.0.1", "::1"], resolve=dns))
    try:
        executor.run(source, "SELECT a FROM t", timeout_ms=5000, row_cap=5)
        dns.answers["db.bastion.invalid"] = ["127.0.0.2"]  # loopback, but not allowed
        with pytest.raises(QueryFailed):
            executor.run(source, "SELECT a FROM t", timeout_ms=5000, row_cap=5)
    finally:
        executor.close()


def test_mysql_connects_to_the_checked_address() -> None:
    """pymysql is handed the address, not the name (which no real resolver knows)."""
    import pymysql

    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=2).close()
    except pymysql.Error:
        need_service("MariaDB", False)
    dns = FakeDns({"db.bastion.invalid": ["127.0.0.1"]})
    url = "mysql+pymysql://root@db.bastion.invalid:3306/information_schema"
    config = SourceConfig.model_validate({"tables": {"CHARACTER_SETS": {}}})
    source = Source("m", "t", "u", "n", "mysql", config, ConnectionUrl(url))
    executor = Executor(hosts=HostPolicy(["127.0.0.1"], resolve=dns))
    try:
        result = executor.run(source, "SELECT 1", timeout_ms=5000, row_cap=1)
        assert result.rows == ((1,),)
        assert dns.asked == ["db.bastion.invalid"]
    finally:
        executor.close()


def test_the_executor_refuses_network_sources_by_default(tmp_path: Path) -> None:
    """An Executor built without a policy reaches no network host; SQLite is unaffected."""
    executor = Executor()
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a INTEGER)")
    try:
        for kind, url in (
            ("postgres", "postgresql+psycopg://x:pw@127.0.0.1:5432/db"),
            ("mysql", "mysql+pymysql://x:pw@127.0.0.1:3306/db"),
        ):
            source = Source("s" + kind, "t", "u", "n", kind, CONFIG, ConnectionUrl(url))  # type: ignore[arg-type]
            with pytest.raises(QueryFailed) as caught:
                executor.run(source, "SELECT 1", timeout_ms=1000, row_cap=1)
            assert caught.value.code == "host_not_allowed"
            assert "pw" not in str(caught.value)
        lite = Source("l", "t", "u", "n", "sqlite", CONFIG, ConnectionUrl(f"sqlite:///{path}"))
        assert executor.run(lite, "SELECT a FROM t", timeout_ms=1000, row_cap=1).rows == ()
    finally:
        executor.close()

"""`bastion serve` as a real process: TLS 1.3 only, HSTS, and --dev."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import bastion
from tests.ports import free_port
from tests.tls_helpers import make_cert


def start(data_dir: Path, port: int, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    full |= {"BASTION_DATA_DIR": str(data_dir), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "bastion", "serve", "--port", str(port), *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_port(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("serve did not listen")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    assert bastion("init", data_dir=tmp_path).returncode == 0
    ca, cert, key = make_cert(tmp_path)
    port = free_port()
    proc = start(
        tmp_path,
        port,
        env={"BASTION_TLS_CERT_FILE": str(cert), "BASTION_TLS_KEY_FILE": str(key)},
    )
    try:
        wait_port(port, proc)
        yield port, ca
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_tls13_accepted_with_hsts(tls_server: tuple[int, Path]) -> None:
    """A verified TLS 1.3 client gets through, and responses carry HSTS."""
    port, ca = tls_server
    context = ssl.create_default_context(cafile=str(ca))
    response = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context)
    assert response.status_code == 200
    assert "max-age=" in response.headers["strict-transport-security"]
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"


def test_tls12_refused_by_default(tls_server: tuple[int, Path]) -> None:
    """A client that offers at most TLS 1.2 cannot connect."""
    port, ca = tls_server
    context = ssl.create_default_context(cafile=str(ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", port)) as raw:
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_dev_flag_allows_unsafe_setup_with_warning(tmp_path: Path) -> None:
    """--dev starts despite the problems and prints each as a warning."""
    assert bastion("init", data_dir=tmp_path).returncode == 0
    (tmp_path / "kek").unlink()
    port = free_port()
    proc = start(tmp_path, port, "--dev", env={})
    try:
        wait_port(port, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "WARNING (--dev): no key-encryption key" in err


def test_tls12_by_explicit_opt_in(tmp_path: Path) -> None:
    """BASTION_TLS_ALLOW_TLS12=true admits a TLS 1.2 client (AEAD ciphers only)."""
    assert bastion("init", data_dir=tmp_path).returncode == 0
    ca, cert, key = make_cert(tmp_path)
    port = free_port()
    env = {
        "BASTION_TLS_CERT_FILE": str(cert),
        "BASTION_TLS_KEY_FILE": str(key),
        "BASTION_TLS_ALLOW_TLS12": "true",
    }
    proc = start(tmp_path, port, env=env)
    try:
        wait_port(port, proc)
        context = ssl.create_default_context(cafile=str(ca))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() == "TLSv1.2"
            cipher = tls.cipher()
            assert cipher is not None
            assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

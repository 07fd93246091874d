"""A real rsyslogd per test: imtcp on a free 127.0.0.1 port (plain or TLS through
rsyslog-gnutls), writing every raw message to a file; plus a throwaway CA and server
certificate (:func:`tests.tls_helpers.make_cert`)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port
from tests.tls_helpers import make_cert

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def rsyslog_available() -> bool:
    """rsyslogd is installed, with the GnuTLS network stream driver."""
    if not Path(RSYSLOGD).exists():
        return False
    candidates = [*Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so")]
    candidates += [Path("/usr/lib/rsyslog/lmnsd_gtls.so"), Path("/usr/lib64/rsyslog/lmnsd_gtls.so")]
    return any(path.exists() for path in candidates)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A fresh CA and a server certificate for 127.0.0.1 and localhost, in
    ``directory`` (which is created)."""
    directory.mkdir(parents=True, exist_ok=True)
    return TlsFiles(*make_cert(directory))


class Rsyslog:
    """rsyslogd in the foreground (``-n``) with its own config, work directory and pid
    file under ``directory``; every message received lands as one line in ``output``."""

    def __init__(self, directory: Path, *, tls: TlsFiles | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.output = directory / "received.log"
        self.config = directory / "rsyslog.conf"
        self.pidfile = directory / "rsyslogd.pid"
        self.stderr = directory / "rsyslogd.stderr"
        work = directory / "work"
        work.mkdir(exist_ok=True)
        driver = ""
        stream = ""
        if tls is not None:
            driver = (
                f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{tls.ca}"'
                f' defaultNetstreamDriverCertFile="{tls.cert}"'
                f' defaultNetstreamDriverKeyFile="{tls.key}"'
            )
            stream = ' streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"'
        self.config.write_text(
            f'global(workDirectory="{work}" maxMessageSize="64k"{driver})\n'
            f'module(load="imtcp"{stream})\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
            'template(name="raw" type="string" string="%rawmsg%\\n")\n'
            f'action(type="omfile" file="{self.output}" template="raw")\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stderr.open("ab") as err:
            self.process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.pidfile)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {self.stderr.read_text()}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not listen on {self.port}: {self.stderr.read_text()}")

    def stop(self) -> None:
        """SIGTERM (rsyslogd's graceful shutdown), SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def lines(self) -> list[str]:
        if not self.output.exists():
            return []
        return self.output.read_text(encoding="utf-8").splitlines()

    def wait_for_lines(self, count: int) -> list[str]:
        """The received lines once there are at least ``count`` (bounded wait)."""
        for _ in range(400):
            lines = self.lines()
            if len(lines) >= count:
                return lines
            time.sleep(0.05)
        return self.lines()

"""A free loopback port for a test server, outside the kernel's ephemeral range.

A port found by binding to 0 comes from the ephemeral range (32768-60999 on Linux),
which every outgoing connection of the run draws from too: between the probe and the
server's own bind, a client socket of this worker, or of the other xdist worker, could
take it ("address already in use"). Ports here come from 20000-31999 instead, which
outgoing connections never use, split between the xdist workers so that two workers
never pick the same one; a port is handed out only if it binds now.
"""

from __future__ import annotations

import os
import random
import socket

__all__ = ["free_port"]

_LOW, _HIGH = 20000, 32000  # below net.ipv4.ip_local_port_range's default floor


def _slice() -> range:
    """This worker's share of the range (all of it outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    width = (_HIGH - _LOW) // max(count, 1)
    start = _LOW + (index % max(count, 1)) * width
    return range(start, start + width)


def _binds(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port nobody is bound to (tried at random in this worker's slice)."""
    ports = _slice()
    for _ in range(200):
        port = random.choice(ports)
        if _binds(port):
            return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")

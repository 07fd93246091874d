"""Which database hosts a network data source may reach: deny by default (SSRF).

The deployment lists them in ``data_sources_allowed_hosts``; an empty list means no
PostgreSQL or MySQL source at all. An entry is one of:

* a hostname, matched exactly and case-insensitively (``db.example.internal``), or a
  suffix wildcard (``*.example.internal`` matches ``a.example.internal`` and
  ``a.b.example.internal``, not ``example.internal`` itself);
* an IP address (``127.0.0.1``, ``::1``) or a network (``10.20.0.0/16``).

:meth:`HostPolicy.check` resolves a host and returns its addresses only when every
one is allowed: an address inside a listed network, or any address of a listed name
except the hard-denied ones (link-local ``169.254.0.0/16`` and ``fe80::/10``, cloud
metadata included, and the unspecified ``0.0.0.0/8`` and ``::``), which only a
listed network that contains them allows. A name resolving to one allowed and one
forbidden address is refused. Numeric hosts in legacy forms (``2130706433``,
``0x7f.1``, ``0177.0.0.1``) are read as the address ``inet_aton`` makes of them, so
they pass only when that address is allowed; anything else that is neither a plain
hostname nor an IP literal is refused. The caller connects to a returned address
(not to the name again), so a second DNS answer cannot swap it.

Errors (:class:`HostNotAllowed`) may name the host and the setting, never a URL. The
same policy guards other outbound connections under their own setting (agent actions:
``actions_allowed_hosts``), passed as ``setting=`` so messages name the right one.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence

__all__ = ["SETTING", "HostNotAllowed", "HostPolicy", "Resolver"]

SETTING = "data_sources_allowed_hosts (BASTION_DATA_SOURCES_ALLOWED_HOSTS)"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int | None], Sequence[str]]

_HARD_DENY: tuple[Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::/128"),
)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# A last label of digits or 0x-hex makes a name that resolvers read as an address.
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_MAX_HOST = 253


class HostNotAllowed(Exception):
    """The host may not be connected to; the message names the host and the setting."""


def getaddrinfo_resolver(host: str, port: int | None) -> list[str]:
    """The addresses ``host`` resolves to (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class HostPolicy:
    """The allow-list of ``entries``; ValueError (naming the entry) for a bad one.

    ``setting`` is the setting the entries come from, named in the messages."""

    def __init__(
        self,
        entries: Iterable[str] = (),
        *,
        resolve: Resolver = getaddrinfo_resolver,
        setting: str = SETTING,
    ) -> None:
        # The setting the entries come from, named in every message (another allow-list,
        # such as the actions' hosts, reuses this class under its own setting).
        self._setting = setting
        names: set[str] = set()
        suffixes: set[str] = set()
        networks: list[Network] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if entry.startswith("*."):
                if not _is_hostname(entry[2:]) or "." not in entry[2:]:
                    raise ValueError(
                        f"{self._setting}: {raw!r:.80} is not a valid *.domain wildcard"
                    )
                suffixes.add(entry[1:])
                continue
            try:
                networks.append(_canonical(ipaddress.ip_network(entry.strip("[]"), strict=True)))
                continue
            except ValueError:
                pass
            if not _is_hostname(entry):
                raise ValueError(
                    f"{self._setting}: {raw!r:.80} is not a hostname, IP address or network "
                    "(networks need their host bits zero, e.g. 10.20.0.0/16)"
                )
            names.add(entry)
        self._names = frozenset(names)
        self._suffixes = tuple(sorted(suffixes))
        self._networks = tuple(networks)
        self._resolve = resolve

    def __repr__(self) -> str:
        entries = len(self._names) + len(self._suffixes) + len(self._networks)
        return f"HostPolicy(entries={entries})"

    @property
    def enabled(self) -> bool:
        """False when nothing is listed: no network source may connect."""
        return bool(self._names or self._suffixes or self._networks)

    def check(self, host: str, port: int | None = None) -> list[str]:
        """The addresses to connect to for ``host``; HostNotAllowed unless all are allowed."""
        if not self.enabled:
            if self._setting == SETTING:
                raise HostNotAllowed(
                    f"network data sources are disabled: list the database hosts users may "
                    f"connect to in {SETTING}"
                )
            raise HostNotAllowed(f"no host is allowed: list the hosts in {self._setting}")
        shown = f"{host!r:.80}"
        literal = _literal(host)
        if literal is not None:
            if not self._in_networks(literal):
                raise HostNotAllowed(f"host {shown} is not allowed by {self._setting}")
            return [str(literal)]
        name = host.lower().rstrip(".")
        if len(name) > _MAX_HOST or not _is_hostname(name):
            raise HostNotAllowed(f"host {shown} is not a hostname or IP address")
        named = self._name_allowed(name)
        if not named and not self._networks:  # no lookup for a name nothing could allow
            raise HostNotAllowed(f"host {shown} is not allowed by {self._setting}")
        try:
            resolved = [_canonical_address(a) for a in self._resolve(name, port)]
        except (OSError, UnicodeError, ValueError):
            raise HostNotAllowed(f"host {shown} does not resolve") from None
        if not resolved:
            raise HostNotAllowed(f"host {shown} does not resolve")
        for address in resolved:
            if self._in_networks(address):
                continue
            if named and not any(address in net for net in _HARD_DENY):
                continue
            raise HostNotAllowed(
                f"host {shown} resolves to an address not allowed by {self._setting}"
            )
        return list(dict.fromkeys(str(a) for a in resolved))

    def _name_allowed(self, name: str) -> bool:
        return name in self._names or any(name.endswith(s) for s in self._suffixes)

    def _in_networks(self, address: Address) -> bool:
        return any(address in network for network in self._networks)


def _is_hostname(name: str) -> bool:
    if not _HOSTNAME.match(name):
        return False
    return not _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1])


def _literal(host: str) -> Address | None:
    """``host`` as an address when it is one: an IP literal (brackets allowed), or a
    legacy IPv4 form (decimal, octal, hex, fewer than four parts) read as inet_aton
    reads it. None for anything else."""
    text = host
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:  # an IPv6 zone id: a link-local scope, never a database host
        raise HostNotAllowed(f"host {host!r:.80} is not a hostname or IP address")
    try:
        return _canonical_address(text)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", text) and not _is_hostname(text.lower()):
        try:
            packed = socket.inet_aton(text)
        except OSError:
            raise HostNotAllowed(f"host {host!r:.80} is not a hostname or IP address") from None
        return ipaddress.IPv4Address(packed)
    return None


def _canonical_address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        mapped = network.network_address.ipv4_mapped
        prefix = max(network.prefixlen - 96, 0)
        return ipaddress.ip_network(f"{mapped}/{prefix}", strict=False)
    return network

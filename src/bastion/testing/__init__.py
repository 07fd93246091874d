"""Test doubles shipped with Bastion: a scripted stand-in upstream and a throw-away PKI.

Nothing here is used by production code. Names are imported lazily so that
``python -m bastion.testing.scripted_upstream`` does not import its own module twice.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.testing.certs import TestPKI
    from bastion.testing.scripted_upstream import RecordedRequest, ScriptedUpstream

__all__ = ["RecordedRequest", "ScriptedUpstream", "TestPKI"]

_HOMES = MappingProxyType(
    {
        "RecordedRequest": "bastion.testing.scripted_upstream",
        "ScriptedUpstream": "bastion.testing.scripted_upstream",
        "TestPKI": "bastion.testing.certs",
    }
)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bastion.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)

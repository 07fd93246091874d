"""Data sources the model may query, through the query guard (issue 7).

:func:`check` takes one model-written SQL statement and a :class:`GuardPolicy` and
returns a :class:`GuardResult`: a refusal with a stable reason code, or the statement
rewritten so that it reads only allow-listed tables and columns, only the caller's
rows, masked where classified, and at most ``row_cap`` rows.
"""

from __future__ import annotations

from bastion.datasources._guard_policy import GuardPolicy, TableRule
from bastion.datasources.guard import GuardResult, check

__all__ = ["GuardPolicy", "GuardResult", "TableRule", "check"]

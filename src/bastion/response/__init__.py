"""Incident response: playbooks that contain, collect evidence and remediate (issue 9).

Run a playbook with :func:`run_playbook` on a :class:`Subject` (from an alert, an audit
record, or by hand) and the :class:`ResponseServices` it acts through; every step is
recorded in the incident's timeline (:class:`IncidentStore`) and in the tenant's audit
chain. :class:`Isolations` answers, on the request path, whether a session, key or
conversation is isolated. Security decisions here are deterministic code: no model is
asked anything, and no prompt, response, secret or key reaches a log, error or repr.
"""

from bastion.response.isolation import ActiveIsolation, Isolation, IsolationKind, Isolations
from bastion.response.playbooks import (
    PLAYBOOKS,
    IncidentReport,
    Playbook,
    Step,
    close_incident,
    release_isolation,
    run_playbook,
)
from bastion.response.rules import TenantPolicyEditor
from bastion.response.services import AuditAppend, PolicyEditor, ResponseServices
from bastion.response.store import (
    Incident,
    IncidentError,
    IncidentNotFound,
    IncidentStep,
    IncidentStore,
)
from bastion.response.subject import Subject

__all__ = [
    "PLAYBOOKS",
    "ActiveIsolation",
    "AuditAppend",
    "Incident",
    "IncidentError",
    "IncidentNotFound",
    "IncidentReport",
    "IncidentStep",
    "IncidentStore",
    "Isolation",
    "IsolationKind",
    "Isolations",
    "Playbook",
    "PolicyEditor",
    "ResponseServices",
    "Step",
    "Subject",
    "TenantPolicyEditor",
    "close_incident",
    "release_isolation",
    "run_playbook",
]

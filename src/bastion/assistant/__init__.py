"""The data assistant (issue 7): questions answered from the caller's own data.

:class:`AssistantService` runs the loop (the model asks for tools, the gateway runs
them as the caller, scans the results, and returns the answer with every query that
ran); :class:`ToolBox` runs one tool call; :class:`Conversations` is the per-user,
sealed conversation memory.
"""

from __future__ import annotations

from bastion.assistant.memory import ConversationError, ConversationNotFound, Conversations, Turn
from bastion.assistant.service import AssistantAnswer, AssistantService
from bastion.assistant.tools import TOOL_SPECS, CallerRef, ToolBox, ToolOutcome

__all__ = [
    "TOOL_SPECS",
    "AssistantAnswer",
    "AssistantService",
    "CallerRef",
    "ConversationError",
    "ConversationNotFound",
    "Conversations",
    "ToolBox",
    "ToolOutcome",
    "Turn",
]

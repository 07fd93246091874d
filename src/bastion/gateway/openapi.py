"""OpenAPI for routes that parse their own bodies: request schemas and error shapes.

The chat routes read and validate the body themselves (for speed and for error
messages in the API's own shape), so FastAPI cannot infer their schemas; this module
supplies them, with ``$defs`` moved into ``components/schemas`` so every ``$ref``
resolves, and documents every error status the routes can answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = [
    "ERROR_STATUSES",
    "error_responses",
    "operation_extra",
    "schema_components",
    "without_validation_errors",
]

_REF = "#/components/schemas/{model}"

ERROR_STATUSES = {
    "400": "Invalid request, or blocked by policy (code request_blocked)",
    "401": "Missing or invalid API key",
    "403": "The key's role lacks the permission",
    "404": "Unknown route, or model not allowed",
    "413": "Body over the size limit",
    "429": "A rate limit is spent (code rate_limit_exceeded; type requests or tokens); "
    "the Retry-After header gives the seconds to wait",
    "500": "Policy unavailable or internal error",
    "502": "Upstream error",
    "503": "The audit record could not be written, the conversation's DLP vault "
    "is unavailable (code vault_unavailable), or the rate-limit counters cannot be "
    "reached (code rate_limit_unavailable)",
    "504": "Upstream timeout",
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": ["string", "null"]},
            },
            "required": ["message", "type", "code"],
        },
        "type": {"type": "string"},
    },
    "required": ["error"],
}


def error_responses(statuses: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses`` for error statuses (status -> description), each with the
    OpenAI-style error body."""
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        for status, description in statuses.items()
    }


def without_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents 422 for every route with parameters; Bastion answers invalid
    input with 400 ``invalid_request`` instead, so drop 422 (and make sure 400 is there)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", error_responses({"400": "Invalid request"})["400"])
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def operation_extra(model: type[BaseModel] | None, *, stream: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for one operation: its request body and every response."""
    responses: dict[str, Any] = {
        "200": {
            "description": "The answer (JSON), or server-sent events when stream is true",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                **({"text/event-stream": {"schema": {"type": "string"}}} if stream else {}),
            },
        }
    }
    for status, description in ERROR_STATUSES.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
    extra: dict[str, Any] = {"responses": responses}
    if model is not None:
        extra["parameters"] = [
            {
                "name": "X-Bastion-Conversation",
                "in": "header",
                "required": False,
                "description": "A conversation id (1-128 letters, digits, '.', '_', ':', "
                "'-'): the placeholders personal data was replaced by stay the same, "
                "and are restored, across this caller's turns of the conversation.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
            }
        ]
        extra["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}
            },
        }
    return extra


def schema_components(models: list[type[BaseModel]]) -> dict[str, Any]:
    """``components/schemas`` entries for ``models`` and every model they use."""
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components

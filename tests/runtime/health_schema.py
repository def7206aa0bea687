"""The health+json document's fields (draft-inadarei-api-health-check-06), as a JSON Schema.

Every field the draft defines, and no other (``additionalProperties: false``), so a document
that validates uses only the draft's vocabulary.
"""

from __future__ import annotations

from typing import Any

STATUS = {"enum": ["pass", "warn", "fail"]}
# RFC 3339 date-time in UTC, as the draft's examples write it.
TIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
}

CHECK_OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {
        "componentId": {"type": "string"},
        "componentType": {"type": "string"},
        "observedValue": {},
        "observedUnit": {"type": "string"},
        "status": STATUS,
        "affectedEndpoints": {"type": "array", "items": {"type": "string"}},
        "time": TIME,
        "output": {"type": "string"},
        "links": {"type": "object"},
    },
}

DOCUMENT: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {
        "status": STATUS,
        "version": {"type": "string"},
        "releaseId": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "output": {"type": "string"},
        "checks": {
            "type": "object",
            # "componentName:measurementName", neither holding a colon.
            "patternProperties": {"^[^:]+:[^:]+$": {"type": "array", "items": CHECK_OBJECT}},
            "additionalProperties": False,
        },
        "links": {"type": "object"},
        "serviceId": {"type": "string"},
        "description": {"type": "string"},
    },
}


def validate(document: Any) -> None:
    """Raise jsonschema.ValidationError unless ``document`` is a valid health+json document."""
    import jsonschema

    jsonschema.validate(document, DOCUMENT)

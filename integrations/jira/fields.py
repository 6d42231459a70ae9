"""Resolve configured field references (id or display name) and shape values for Jira's REST API."""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from integrations.tracker.port import FieldValue


class JiraField(BaseModel):
    """One entry of GET /rest/api/2/field, reduced to what value shaping needs."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    custom: bool = False
    schema_type: str | None = None
    schema_items: str | None = None


class FieldLookupError(ValueError):
    """A configured field reference matches no field, or more than one."""


def parse_fields(raw: Sequence[Mapping[str, Any]]) -> list[JiraField]:
    """Turn the /field response into JiraField models."""
    parsed: list[JiraField] = []
    for item in raw:
        schema = item.get("schema") or {}
        parsed.append(
            JiraField(
                id=str(item["id"]),
                name=str(item.get("name", item["id"])),
                custom=bool(item.get("custom", False)),
                schema_type=schema.get("type"),
                schema_items=schema.get("items"),
            )
        )
    return parsed


def resolve_field(reference: str, fields: Sequence[JiraField]) -> JiraField:
    """Find a field by exact id first, then by display name (case-insensitive, must be unique)."""
    for field in fields:
        if field.id == reference:
            return field
    if re.fullmatch(r"customfield_\d+", reference):
        raise FieldLookupError(f"no field with id {reference!r}")
    named = [f for f in fields if f.name.casefold() == reference.casefold()]
    if not named:
        raise FieldLookupError(f"no field named {reference!r}")
    if len(named) > 1:
        ids = ", ".join(f.id for f in named)
        raise FieldLookupError(f"field name {reference!r} is ambiguous ({ids}); use the id")
    return named[0]


def _item(kind: str | None, value: FieldValue) -> Any:
    if kind == "option":
        return {"value": str(value)}
    if kind in ("version", "component", "priority"):
        return {"name": str(value)}
    if kind == "number":
        return value if isinstance(value, int | float) else float(value)
    if kind in ("user", "group"):
        raise FieldLookupError("user/group fields are not supported (no personal data in defects)")
    return str(value)


def shape_value(field: JiraField, value: FieldValue) -> Any:
    """The JSON value Jira expects for this field's schema type."""
    if field.schema_type == "array":
        return [_item(field.schema_items, value)]
    return _item(field.schema_type, value)

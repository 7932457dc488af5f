"""What every body of the API shares: request and response bases, the field types
and the patterns the server checks too."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

__all__ = [
    "FINAL_STATUSES",
    "MAX_TAGS",
    "NOT_BLANK",
    "NO_NUL",
    "QUEUE_NAME_PATTERN",
    "Description",
    "JsonDatetime",
    "JsonUUID",
    "Omittable",
    "Priority",
    "QueueName",
    "Request",
    "Response",
    "SettableStatus",
    "Status",
    "Tag",
    "Tags",
    "Title",
]

_T = TypeVar("_T")


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


def _without_null(schema: dict[str, Any]) -> None:
    """The field's JSON schema without the ``null`` alternative and ``default: null``."""
    schema.pop("default", None)
    alternatives = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if len(alternatives) == 1:
        schema.update(alternatives[0])
    elif alternatives:
        schema["anyOf"] = alternatives


#: A field of a partial update that may be left out but not sent as ``null`` (a field
#: that cannot be empty): ``None`` in Python means "not given".
Omittable = Annotated[
    _T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_without_null)
]

Priority = Literal["low", "medium", "high", "critical"]
#: Statuses a person may set on a task; the queue engine owns the others.
SettableStatus = Literal["pending", "in_progress", "completed", "cancelled"]
Status = Literal[
    "pending", "scheduled", "in_progress", "retrying", "completed", "dead", "cancelled"
]
#: Statuses after which a task never changes again.
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "dead", "cancelled"})
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
QueueName = Annotated[str, StringConstraints(pattern=QUEUE_NAME_PATTERN)]


def _dedupe_tags(tags: list[str]) -> list[str]:
    """Keep the first spelling of each tag, comparing case-insensitively."""
    seen: set[str] = set()
    unique: list[str] = []
    for tag in tags:
        folded = tag.casefold()
        if folded not in seen:
            seen.add(folded)
            unique.append(tag)
    return unique


MAX_TAGS = 10


def _not_blank(value: object) -> object:
    """Says why before the pattern would (same rule, a clearer message)."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be blank")
    return value


#: Some character that is not white space (``str.strip`` also removes \x1c-\x1f, which
#: the JSON Schema ``\s`` does not cover). Lengths are checked before the value is
#: trimmed, so what the document allows is exactly what is accepted.
#: PostgreSQL text cannot hold U+0000, so no text field takes it.
NOT_BLANK = r"^[^\x00]*[^\s\x00\x1c-\x1f][^\x00]*$"
NO_NUL = r"^[^\x00]*$"
Title = Annotated[
    str,
    StringConstraints(max_length=200, pattern=NOT_BLANK),
    BeforeValidator(_not_blank),
    AfterValidator(str.strip),
]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
Tag = Annotated[str, StringConstraints(max_length=50, pattern=NOT_BLANK), AfterValidator(str.strip)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_dedupe_tags)]


class Request(BaseModel):
    """A request body: unknown fields are refused, and JSON types are not coerced (``"5"``
    is no number, ``1`` no boolean), as the server does: the body must match the
    document's schema, not merely be convertible to it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """JSON Schema's ``integer`` includes ``1.0``, which strict mode would refuse."""
        if not isinstance(data, dict):
            return data
        integers = _integer_fields(cls)
        return {
            name: int(value)
            if name in integers and isinstance(value, float) and value.is_integer()
            else value
            for name, value in data.items()
        }


def _integer_fields(model: type[BaseModel]) -> frozenset[str]:
    def bare(annotation: Any) -> Any:
        return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation

    return frozenset(
        name
        for name, field in model.model_fields.items()
        if field.annotation is int
        or {bare(arg) for arg in get_args(field.annotation)} == {int, type(None)}
    )


def _json_text(value: object) -> object:
    """A date-time or id arrives as a JSON string (or, from Python, as the object)."""
    if isinstance(value, int | float | bool):
        raise ValueError("must be a string")
    return value


#: Read from JSON strings (strict mode would want Python objects; lax mode would also
#: take a number as a Unix time).
JsonUUID = Annotated[uuid.UUID, Strict(False), BeforeValidator(_json_text)]
JsonDatetime = Annotated[AwareDatetime, Strict(False), BeforeValidator(_json_text)]


class Response(BaseModel):
    """A response body: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

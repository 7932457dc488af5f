"""The RFC 9457 problem body every error answer of every service carries."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    ConfigDict,
    Field,
)

from taskplane_client.models.base import Response

__all__ = [
    "Problem",
    "ValidationIssue",
]


class ValidationIssue(Response):
    """One reason a request was refused: where (``loc``) and why."""

    loc: list[str]
    msg: str
    type: str


class Problem(Response):
    """RFC 9457 problem details: the body of every error answer of every service.

    Members beyond these are extensions of a particular problem type (``errors`` of a
    validation error, ``checks`` of a failed readiness check, ...).
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    instance: str | None = Field(None, description="The path of the request")
    errors: list[ValidationIssue] | None = Field(None, description="Validation errors")

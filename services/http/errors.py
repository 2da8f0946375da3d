"""Client errors as HTTP 400 bodies that name the field and the problem."""

from __future__ import annotations

from bentoml.exceptions import InvalidArgument, NotFound

from features.errors import ButlerError, InvalidParameterError, UnknownEntityError


def bad_request(field: str, problem: str) -> InvalidArgument:
    """A 400 whose body is ``{"error": "<field>: <problem>"}``."""
    return InvalidArgument(f"{field}: {problem}")


def client_error(exc: ButlerError, field: str = "request") -> InvalidArgument | NotFound:
    """The HTTP error of a Butler error a client caused (unknown entity, bad parameter)."""
    if isinstance(exc, UnknownEntityError):
        return NotFound(f"{field}: {exc}")
    if isinstance(exc, InvalidParameterError):
        return InvalidArgument(f"{field}: {exc}")
    return InvalidArgument(f"{field}: {exc}")


def check_batch(items: list, field: str, limit: int) -> None:
    """Reject an empty batch or one over ``limit`` items (400)."""
    if not items:
        raise bad_request(field, "the batch is empty; send at least one item")
    if len(items) > limit:
        raise bad_request(
            field, f"{len(items)} items is over the limit of {limit} per request; split it"
        )

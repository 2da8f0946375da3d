"""Client errors: HTTP 400 bodies that name the field and the problem, request bodies that
may hold only the fields an endpoint takes, and client errors logged without their input.

* :func:`bad_request`, :func:`client_error` and :func:`check_batch` raise the 4xx of a
  request a service cannot answer.
* :class:`KnownFieldsOnly` and :func:`forbid_unknown_fields`: a field an endpoint does not
  take (``horizen``, ``sku``, ``limt``) is a 400 naming it, the closest known field and the
  fields the endpoint takes, rather than being ignored.
* :func:`quiet_client_errors`: BentoML logs every failed request at ERROR with its
  traceback, and a pydantic error's text carries the values sent (``input_value='1302…'``):
  a client error is logged as one INFO line of field locations and error types instead.
"""

from __future__ import annotations

import difflib
import logging
import re
import typing
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from bentoml.exceptions import BentoMLException, InvalidArgument, NotFound
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from features.errors import ButlerError, InvalidParameterError, UnknownEntityError

if TYPE_CHECKING:
    from pydantic import ValidatorFunctionWrapHandler

_S = TypeVar("_S")


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


# -- unknown fields ------------------------------------------------------------------------------


class KnownFieldsOnly(BaseModel):
    """A request model that refuses fields it does not declare (``extra="forbid"``), each
    refused field named with the closest declared one and the list of declared fields:
    ``unknown field `horizen` (did you mean `horizon`?); the fields are skus, warehouses,
    horizon`` at ``loc`` ``["horizen"]`` (error type ``unknown_field``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _name_unknown_fields(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, dict):
            _refuse_booleans_as_numbers(cls, data)
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(_own_extra(error) for error in errors):
                raise
            details = [
                _unknown_field(str(e["loc"][0]), list(cls.model_fields), e["input"])
                if _own_extra(e)
                else _as_is(e)
                for e in errors
            ]
            raise ValidationError.from_exception_data(exc.title, details) from None


def _refuse_booleans_as_numbers(model: type[BaseModel], data: dict) -> None:
    """JSON ``true`` for a number field: pydantic reads it as 1 (``{"horizon": true}`` was a
    one-week forecast); a 400 naming the field instead."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("number_type", "must be a number, not true or false"),
            loc=(name,),
            input=value,
        )
        for name, value in data.items()
        if isinstance(value, bool)
        and name in model.model_fields
        and _numeric(model.model_fields[name].annotation)
    ]
    if details:
        raise ValidationError.from_exception_data(model.__name__, details)


def _numeric(annotation: Any) -> bool:
    """An ``int`` or ``float`` field, optional or not (``bool`` is not one)."""
    kinds = typing.get_args(annotation) or (annotation,)
    return any(k in (int, float) for k in kinds)


def _own_extra(error: Any) -> bool:
    """A field this model does not declare (one nested deeper is its own model's)."""
    return error["type"] == "extra_forbidden" and len(error["loc"]) == 1


def _unknown_field(name: str, known: list[str], value: Any) -> InitErrorDetails:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    takes = f"the fields are {', '.join(known)}" if known else "it takes no fields"
    message = f"unknown field `{name}`{hint}; {takes}"
    return InitErrorDetails(
        type=PydanticCustomError("unknown_field", message),
        loc=(name,),
        input=value,
    )


def _as_is(error: Any) -> InitErrorDetails:
    """An error passed on with its type, location and message."""
    # without a context, pydantic leaves the message as it is (braces and all)
    return InitErrorDetails(
        type=PydanticCustomError(error["type"], error["msg"]),
        loc=error["loc"],
        input=error["input"],
    )


def forbid_unknown_fields(service: _S) -> _S:
    """Make every endpoint of a BentoML service refuse body fields it does not take (400).

    BentoML builds an endpoint's request model from its parameters and ignores any other
    field, so a misspelt one (``{"horizen": 2}``) was answered with its default. Each
    endpoint's model is replaced by a :class:`KnownFieldsOnly` subclass of it (same name,
    fields and OpenAPI schema, plus ``additionalProperties: false``). Apply it above
    ``@bentoml.service``.

    Examples:
        >>> @forbid_unknown_fields
        ... @bentoml.service
        ... class Forecasting: ...
    """
    for method in service.apis.values():  # type: ignore[attr-defined]
        spec = method.input_spec
        if getattr(spec, "__root_input__", False) or issubclass(spec, KnownFieldsOnly):
            continue  # a body that is one value has no fields to misspell
        method.input_spec = type(
            spec.__name__,
            (spec, KnownFieldsOnly),
            {"__module__": spec.__module__, "model_config": ConfigDict(extra="forbid")},
        )
    return service


# -- logging -------------------------------------------------------------------------------------

#: The logger BentoML 1.4 writes every failed request to (``log_exception``), at ERROR with
#: the traceback.
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"
_FIELD = re.compile(r"^[A-Za-z_][\w.\[\]]{0,63}(?=: )")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class ClientErrorLogFilter(logging.Filter):
    """Turns the log record of a client error (a pydantic validation error or a 4xx) into one
    INFO line without a traceback or any value sent: the endpoint, the status, and the
    fields with what was wrong (``record.mobile: unknown_field``). Server errors pass as
    they are, with their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        summary = _client_error_summary(exc)
        if summary is None:
            return True
        status, problems = summary
        where = record.getMessage().removeprefix("Exception on ")
        record.msg, record.args = "client error %d on %s: %s", (status, where, problems)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def _client_error_summary(exc: BaseException | None) -> tuple[int, str] | None:
    """``(status, "<field>: <problem type>; …")`` of a client error; None for others."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(_loc_part(part) for part in e['loc']) or 'body'}: {e['type']}"
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        more = f"; {len(problems) - 10} more" if len(problems) > 10 else ""
        return HTTPStatus.BAD_REQUEST, "; ".join(problems[:10]) + more
    if isinstance(exc, BentoMLException) and 400 <= exc.error_code < 500:
        # our messages are "<field>: <problem>"; the problem may quote what was sent
        field = _FIELD.match(str(exc))
        return exc.error_code, f"{field.group() if field else 'request'}: {type(exc).__name__}"
    return None


def _loc_part(part: str | int) -> str:
    """A part of an error's location as logged: a field name or a list index; a key that
    does not look like a field name is data the client sent (``{"13027517394": …}``)."""
    if isinstance(part, int) or _NAME.fullmatch(part):
        return str(part)
    return "<key>"


def quiet_client_errors() -> None:
    """Log client errors (4xx) of this process's BentoML server as one INFO line without the
    values sent (:class:`ClientErrorLogFilter`); server errors keep their traceback.

    Run by the services' start-up hook (:func:`services.http.prepare_to_serve`); adding it
    again changes nothing.
    """
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    if not any(isinstance(f, ClientErrorLogFilter) for f in logger.filters):
        logger.addFilter(ClientErrorLogFilter())

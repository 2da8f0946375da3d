"""How client errors are logged: one INFO line without the values sent; 5xx keep their trace."""

from __future__ import annotations

import logging
import sys

import pytest
from bentoml.exceptions import BentoMLException, InvalidArgument, NotFound
from pydantic import ValidationError

import services.http
from services.http.errors import (
    BENTOML_REQUEST_LOGGER,
    ClientErrorLogFilter,
    quiet_client_errors,
)
from services.http.identity_service import MemberRecord

PHONE = "13027517394"


def record_of(exc: BaseException) -> logging.LogRecord:
    """The record BentoML's ``log_exception`` writes for a request that raised ``exc``."""
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        BENTOML_REQUEST_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]",
        ("/match_member", "POST"), exc_info,
    )  # fmt: skip


def formatted(record: logging.LogRecord) -> str:
    assert ClientErrorLogFilter().filter(record)
    return logging.Formatter("%(levelname)s %(message)s").format(record)


def validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        MemberRecord.model_validate({"record_id": "r1", "mobile": PHONE, "phone": 1})
    assert PHONE in str(raised.value)  # what BentoML's traceback would have written
    return raised.value


def test_a_validation_error_is_one_info_line_of_fields_and_types():
    record = record_of(validation_error())
    line = formatted(record)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert line == (
        "INFO client error 400 on /match_member [POST]: phone: string_type; mobile: unknown_field"
    )
    assert PHONE not in line and "\n" not in line


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (InvalidArgument(f"record: r1 has phone {PHONE}"), "400 on /match_member [POST]: record"),
        (
            NotFound("account: tmall:u1 is not a known account"),
            "404 on /match_member [POST]: account",
        ),
        (
            BentoMLException(f"{PHONE} is bad", error_code=422),
            "422 on /match_member [POST]: request",
        ),
    ],
)
def test_a_4xx_is_logged_by_its_field_without_its_message(exc, line):
    text = formatted(record_of(exc))
    assert text.startswith(f"INFO client error {line}: ") and PHONE not in text
    assert type(exc).__name__ in text and "Traceback" not in text


@pytest.mark.parametrize(
    "exc", [RuntimeError("boom"), BentoMLException("store down", error_code=503)]
)
def test_a_server_error_keeps_its_level_and_traceback(exc):
    record = record_of(exc)
    text = formatted(record)
    assert record.levelno == logging.ERROR
    assert text.startswith("ERROR Exception on /match_member [POST]\nTraceback")


@pytest.fixture
def request_logger():
    """BentoML's request logger, with the filters it had restored after the test."""
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    before = list(logger.filters)
    yield logger
    logger.filters[:] = before


def test_quieting_twice_adds_one_filter(request_logger):
    quiet_client_errors()
    quiet_client_errors()
    assert sum(isinstance(f, ClientErrorLogFilter) for f in request_logger.filters) == 1


def test_a_served_service_quiets_its_client_errors_at_start_up(request_logger, monkeypatch):
    request_logger.filters[:] = []
    # the hook's other work patches BentoML and freezes the heap: not in the test process
    monkeypatch.setattr(services.http, "release_request_timers", lambda: None)
    monkeypatch.setattr(services.http, "freeze_startup_heap", lambda: None)
    services.http.prepare_to_serve()
    assert any(isinstance(f, ClientErrorLogFilter) for f in request_logger.filters)


def test_a_key_that_is_not_a_field_name_is_not_logged():
    with pytest.raises(ValidationError) as raised:
        MemberRecord.model_validate({"record_id": "r1", PHONE: "x", "phone_2": "y"})
    line = formatted(record_of(raised.value))
    assert line.endswith(": <key>: unknown_field; phone_2: unknown_field") and PHONE not in line

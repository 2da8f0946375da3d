"""The HTTP middleware on a bare ASGI app: API key, request id, 4xx bodies, hidden 5xx."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.http.middleware import (
    MAX_ITEM_BYTES,
    MIN_BODY_BYTES,
    ButlerMiddleware,
    max_body_bytes,
)


def app_answering(status: int, body: bytes, *, boom: bool = False):
    async def app(scope, receive, send):
        if boom:
            raise RuntimeError("secret stack detail")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body[:3], "more_body": True})
        await send({"type": "http.response.body", "body": body[3:]})

    return app


def call(app, path="/forecast", headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": list(headers)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


AUTH = [(b"authorization", b"Bearer k1")]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Bearer nope")],
        [(b"authorization", b"Basic k1")],
        [(b"authorization", b"k1")],
    ],  # fmt: skip
)
def test_a_request_without_the_key_gets_401_before_any_work(headers):
    called = []

    async def app(scope, receive, send):
        called.append(scope)

    status, sent_headers, body = call(ButlerMiddleware(app, api_key="k1"), headers=headers)
    assert status == 401 and not called
    assert "Bearer" in json.loads(body)["error"] and sent_headers[b"www-authenticate"] == b"Bearer"


@pytest.mark.parametrize("path", ["/readyz", "/livez", "/metrics", "/docs.json"])
def test_health_metrics_and_the_openapi_document_need_no_key(path):
    status, _, body = call(ButlerMiddleware(app_answering(200, b"ok!!"), api_key="k1"), path)
    assert (status, body) == (200, b"ok!!")


def test_no_key_configured_refuses_everything_protected():
    status, _, _ = call(ButlerMiddleware(app_answering(200, b"{}"), api_key=""), headers=AUTH)
    assert status == 401


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BUTLER_API_KEY", "from-env")
    mw = ButlerMiddleware(app_answering(200, b"fine"))
    assert call(mw, headers=[(b"authorization", b"Bearer from-env")])[0] == 200
    assert call(mw, headers=AUTH)[0] == 401


def test_every_answer_carries_a_request_id_and_a_sane_client_id_is_kept():
    mw = ButlerMiddleware(app_answering(200, b'{"a": 1}'), api_key="k1")
    _, headers, body = call(mw, headers=AUTH)
    assert len(headers[b"x-request-id"]) == 32 and body == b'{"a": 1}'
    _, headers, _ = call(mw, headers=[*AUTH, (b"x-request-id", b"abc-123")])
    assert headers[b"x-request-id"] == b"abc-123"
    _, headers, _ = call(mw, headers=[*AUTH, (b"x-request-id", b"bad id; drop")])
    assert headers[b"x-request-id"] != b"bad id; drop"


def test_a_client_error_body_is_one_object_with_the_request_id():
    mw = ButlerMiddleware(app_answering(400, b'[{"error": "skus: unknown SKU \'X\'"}]'), "k1")
    status, headers, body = call(mw, headers=AUTH)
    answer = json.loads(body)
    assert status == 400 and answer["error"] == "skus: unknown SKU 'X'"
    assert answer["request_id"] == headers[b"x-request-id"].decode()
    assert int(headers[b"content-length"]) == len(body)


@pytest.mark.parametrize("boom", [False, True])
def test_an_internal_failure_shows_only_the_request_id(boom, caplog):
    mw = ButlerMiddleware(app_answering(500, b'{"error": "secret stack detail"}', boom=boom), "k1")
    status, headers, body = call(mw, headers=AUTH)
    answer = json.loads(body)
    assert status == 500 and "secret" not in body.decode()
    assert answer["request_id"] == headers[b"x-request-id"].decode()
    assert answer["request_id"] in caplog.text and "secret stack detail" in caplog.text


def test_a_busy_service_says_retry():
    status, _, body = call(ButlerMiddleware(app_answering(503, b'{"e": 1}'), "k1"), headers=AUTH)
    assert status == 503 and "retry" in json.loads(body)["error"]


def app_sending(content_type: bytes, chunks: list[bytes], *, fail_after: int | None = None):
    """An app answering 200 in ``chunks`` (BentoML's way: no length, an empty last chunk)."""

    async def app(scope, receive, send):
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(chunks):
            if i == fail_after:
                raise RuntimeError("secret stack detail")
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def sent_messages(app):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/classify", "method": "POST", "headers": AUTH}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_json_answer_in_chunks_is_sent_whole_with_its_length():
    sent = sent_messages(
        ButlerMiddleware(app_sending(b"application/json", [b'[{"a"', b": 1}]"]), "k1")
    )
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 200 and headers[b"content-length"] == b"10"
    assert body == {"type": "http.response.body", "body": b'[{"a": 1}]'}
    assert len(headers[b"x-request-id"]) == 32


def test_a_text_stream_passes_chunk_by_chunk():
    sent = sent_messages(ButlerMiddleware(app_sending(b"text/plain", [b"one ", b"two"]), "k1"))
    assert [m.get("body") for m in sent] == [None, b"one ", b"two", b""]
    assert b"content-length" not in dict(sent[0]["headers"])


def test_a_json_answer_failing_half_way_becomes_a_500_with_the_request_id(caplog):
    app = app_sending(b"application/json", [b'[{"a"', b": 1}]"], fail_after=1)
    start, body = sent_messages(ButlerMiddleware(app, "k1"))
    answer = json.loads(body["body"])
    assert start["status"] == 500 and "secret" not in body["body"].decode()
    assert answer["request_id"] in caplog.text


# -- the body size limit -------------------------------------------------------------------------


def app_reading_the_body(seen: list):
    """An app that reads the whole body (as BentoML does) and answers 200."""

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def call_with_body(app, chunks: list[bytes], *, length: int | None):
    """Send ``chunks`` as the body, with ``Content-Length: length`` (None: chunked)."""
    sent, pending = [], list(chunks)

    async def receive():
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    headers = [*AUTH, (b"content-type", b"application/json")]
    if length is None:
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        headers.append((b"content-length", str(length).encode()))
    scope = {"type": "http", "path": "/classify", "method": "POST", "headers": headers}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, pending


def test_the_body_limit_is_the_batch_limit_times_a_generous_item():
    assert max_body_bytes(1_000) == 1_000 * MAX_ITEM_BYTES == 32_768_000
    assert max_body_bytes(5_000) == 5 * max_body_bytes(1_000)
    assert max_body_bytes(1) == MIN_BODY_BYTES  # a question, a view's filters


def test_the_body_limit_follows_the_batch_setting(monkeypatch):
    monkeypatch.setenv("BUTLER_MAX_BATCH", "2000")
    assert ButlerMiddleware(app_answering(200, b"{}"), api_key="k1").max_body == 65_536_000


def test_a_declared_body_over_the_limit_gets_413_before_any_of_it_is_read():
    seen = []
    mw = ButlerMiddleware(app_reading_the_body(seen), api_key="k1", max_body=1_000)
    status, body, unread = call_with_body(mw, [b"x" * 600, b"x" * 600], length=1_200)
    answer = json.loads(body)
    assert status == 413 and seen == [] and len(unread) == 2
    assert answer["error"] == (
        "request body: 1,200 bytes is over the limit of 1,000 bytes per request; "
        "send fewer items per request"
    )
    assert len(answer["request_id"]) == 32


def test_a_chunked_body_is_counted_as_it_comes_and_refused_past_the_limit(caplog):
    seen = []
    mw = ButlerMiddleware(app_reading_the_body(seen), api_key="k1", max_body=1_000)
    status, body, unread = call_with_body(mw, [b"x" * 600] * 5, length=None)
    assert status == 413 and seen == [] and len(unread) == 3  # stopped past the limit
    assert "over the limit of 1,000 bytes" in json.loads(body)["error"]
    assert "refused: body over 1000 bytes" in caplog.text


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_up_to_the_limit_reaches_the_app_whole(declared):
    seen = []
    mw = ButlerMiddleware(app_reading_the_body(seen), api_key="k1", max_body=1_000)
    chunks = [b'{"a": "', b"x" * 991, b'"}']  # 1,000 bytes
    status, body, _ = call_with_body(mw, chunks, length=1_000 if declared else None)
    assert (status, body) == (200, b"{}") and seen == [b"".join(chunks)]


def test_a_request_without_the_key_gets_401_whatever_its_size():
    mw = ButlerMiddleware(app_reading_the_body([]), api_key="other", max_body=10)
    assert call_with_body(mw, [b"x" * 100], length=100)[0] == 401

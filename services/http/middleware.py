"""The ASGI middleware in front of every Butler endpoint: API key, request id, body size, no
bare 500s.

* **API key.** Every path but health, readiness, metrics and the OpenAPI document needs
  ``Authorization: Bearer <key>`` with the key of ``BUTLER_API_KEY``; anything else gets 401
  before the request reaches a service. A server started without a key refuses to serve
  (see :func:`services.http.gateway.check_ready_to_serve`).
* **Request id.** Each request gets an id (the client's ``X-Request-ID`` if it sent a sane
  one), returned in the ``X-Request-ID`` header and written to the log with any failure.
* **Body size.** A request body over :func:`max_body_bytes` (``BUTLER_MAX_BATCH`` ×
  :data:`MAX_ITEM_BYTES`: 32,768,000 bytes at the default batch limit of 1,000) gets 413
  naming the limit: at once from its ``Content-Length``, or once that many bytes of a body
  sent without one (chunked) have arrived. Nothing over the limit is passed on or parsed.
* **Internal failures.** An exception that escapes a service becomes a 500 whose JSON body
  carries the request id and nothing of the exception (which is logged with that id).
* **JSON answers whole.** A JSON answer is sent as one body with its length, not chunked.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger("butler.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths served without a key: health, readiness, metrics and the OpenAPI document.
OPEN_PATHS = frozenset(
    {"/readyz", "/livez", "/healthz", "/metrics", "/docs.json", "/docs", "/favicon.ico"}
)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: Bytes allowed per item of a batch (a member record, a conversation, a SKU id) in a
#: request body. The largest legitimate items are a member record with every field at its
#: 200 characters (about 12 KB as UTF-8 Chinese, 23 KB with JSON's ``\u4e2d``-style escapes) and
#: a conversation (the real chat pools' largest is under 6 KB as JSON); 32 KiB leaves room.
MAX_ITEM_BYTES = 32 * 1024
#: The body limit however small the batch limit: a question of 4,000 characters, a view's
#: filters.
MIN_BODY_BYTES = 1024 * 1024


def max_body_bytes(max_batch: int) -> int:
    """The largest request body accepted, in bytes: ``max_batch`` items of
    :data:`MAX_ITEM_BYTES` (32,768,000 at the default ``BUTLER_MAX_BATCH`` of 1,000), at least
    :data:`MIN_BODY_BYTES`."""
    return max(max_batch * MAX_ITEM_BYTES, MIN_BODY_BYTES)


async def _json(send: Send, status: int, body: dict, headers: list) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ButlerMiddleware:
    """API key check, request id, body size limit and a request-id-bearing 500 for
    unexpected failures.

    Args:
        app: the wrapped ASGI app.
        api_key: the key clients must send; by default ``BUTLER_API_KEY``, read when the
            server builds its app (not at import). No key refuses every protected request.
        max_body: the largest request body in bytes; by default :func:`max_body_bytes` of
            ``BUTLER_MAX_BATCH``.
    """

    def __init__(self, app: App, api_key: str | None = None, max_body: int | None = None) -> None:
        if api_key is None or max_body is None:
            from features.settings import Settings

            settings = Settings()
            if api_key is None:
                secret = settings.api_key
                api_key = secret.get_secret_value() if secret is not None else None
            if max_body is None:
                max_body = max_body_bytes(settings.max_batch)
        self.app = app
        self._key = api_key.encode() if api_key else None
        self.max_body = max_body

    def _authorised(self, scope: Scope) -> bool:
        if self._key is None:
            return False
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _SANE_ID.match(sent) else uuid.uuid4().hex
        id_header = (b"x-request-id", request_id.encode())
        if scope["path"] not in OPEN_PATHS and not self._authorised(scope):
            await _json(
                send,
                401,
                {
                    "error": "authorization: send `Authorization: Bearer <key>` with the key "
                    "the server was started with (BUTLER_API_KEY)",
                    "request_id": request_id,
                },
                [id_header, (b"www-authenticate", b"Bearer")],
            )
            return
        length = _declared_length(scope)
        if length is None:  # chunked (or no body): read up to the limit before the app does
            receive, length = await _read_up_to(receive, self.max_body)
        if length > self.max_body:
            await _too_large(send, scope, length, self.max_body, request_id, id_header)
            return
        state: dict[str, Any] = {"started": False, "mode": "pass", "status": 200, "body": b""}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = status = message["status"]
                if status >= 400:  # rewritten once the body is complete, see below
                    state["mode"] = "server" if status >= 500 else "client"
                    return
                message["headers"] = headers = [*message.get("headers", []), id_header]
                if _json_of_unknown_length(headers):  # sent whole, see below
                    state["mode"], state["start"] = "whole", message
                    return
                await send(message)
                return
            if state["mode"] == "pass":
                await send(message)
                return
            state["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            if state["mode"] == "whole":
                start = state["start"]
                start["headers"].append((b"content-length", str(len(state["body"])).encode()))
                await send(start)
                await send({"type": "http.response.body", "body": state["body"]})
                state["mode"] = "sent"
                return
            if state["mode"] == "server":
                logger.error(
                    "request %s %s failed with %s (request id %s): %s",
                    scope.get("method"),
                    scope["path"],
                    state["status"],
                    request_id,
                    state["body"][:2000].decode("utf-8", "replace"),
                )
                await _internal_error(send, request_id, id_header, state["status"])
            else:
                await _json(
                    send, state["status"], _client_error_body(state["body"], request_id),
                    [id_header],
                )  # fmt: skip

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "request %s %s failed (request id %s)",
                scope.get("method"),
                scope["path"],
                request_id,
            )
            if not state["started"] or state["mode"] in ("server", "whole"):
                await _internal_error(send, request_id, id_header, 500)


def _declared_length(scope: Scope) -> int | None:
    """The body length the request declares (``Content-Length``); None when it is sent
    chunked or the header is unreadable (the server refuses those itself)."""
    length = None
    for name, value in scope.get("headers") or []:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = value
    if length is None:
        return None
    try:
        return int(length)
    except ValueError:
        return None


async def _read_up_to(receive: Receive, limit: int) -> tuple[Receive, int]:
    """Read a body of unknown length until it ends or passes ``limit`` bytes.

    Returns:
        A ``receive`` that hands the app what was read, then the rest as it comes; and the
        bytes read (over ``limit`` when the body is).
    """
    read: deque[Message] = deque()
    size = 0
    while size <= limit:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":  # the client went away
            break
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break

    async def replay() -> Message:
        return read.popleft() if read else await receive()

    return replay, size


async def _too_large(
    send: Send, scope: Scope, length: int, limit: int, request_id: str, id_header: tuple
) -> None:
    logger.warning(
        "request %s %s refused: body over %d bytes (request id %s)",
        scope.get("method"),
        scope["path"],
        limit,
        request_id,
    )
    size = f"{length:,} bytes" if _declared_length(scope) is not None else "the body"
    error = (
        f"request body: {size} is over the limit of {limit:,} bytes per request; "
        "send fewer items per request"
    )
    headers = [id_header, (b"connection", b"close")]
    await _json(send, 413, {"error": error, "request_id": request_id}, headers)


def _json_of_unknown_length(headers: list[tuple[bytes, bytes]]) -> bool:
    """A JSON answer without a length: BentoML sends one as a chunked body (its start, the
    JSON, an empty last chunk). Such an answer is held and sent whole, with its length: one
    write of a plain body instead of three ASGI messages through every middleware above this
    one and a chunked encoding. Other answers (a text stream) pass as they come."""
    names = {name.lower(): value for name, value in headers}
    return (
        names.get(b"content-type", b"").startswith(b"application/json")
        and b"content-length" not in names
        and b"transfer-encoding" not in names
    )


def _client_error_body(raw: bytes, request_id: str) -> dict:
    """One JSON object ``{"error", "request_id", …}`` whatever shape the 4xx body had
    (BentoML 1.4 wraps a raised error's body in a list)."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {"error": raw.decode("utf-8", "replace")}
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        body = {"error": body}
    return body | {"request_id": request_id}


async def _internal_error(send: Send, request_id: str, id_header: tuple, status: int) -> None:
    message = (
        "the service is busy or its store is in use; retry shortly"
        if status == 503
        else "internal error; quote the request id to support"
    )
    await _json(send, status, {"error": message, "request_id": request_id}, [id_header])

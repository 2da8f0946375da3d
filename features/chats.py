"""Conversations in one shape, whatever they came from: the store, a JSONL file, a request.

The chat risk classifier reads conversations as :class:`Conversation` — a session id, the
platform and shop when known, and the messages in order, each with its role. The same
functions turn them into the classifier's text (:func:`chat_text`) at training and at
serving time.

The JSONL contract of ``butler risk classify`` is one conversation per line::

    {"session_id": "S1", "platform": "jd", "messages": [{"role": "buyer", "text": "…", "ts": "…"}]}

``session_id`` is stripped and may not be blank (a number is read as its digits);
``platform``, when given, names one of Butler's sales channels, by code or name
(``Taobao`` → ``tmall``). A message's ``role`` may be written as chat tools export it
(买家, 客服, customer, SELLER; system and bot messages are agent-side context), its ``text``
may be null (an image: no words) or a number, and a ``ts`` Butler cannot read is taken as
not given (:class:`ChatMessage`). Keys the contract does not name are ignored, at every
level: platform exports carry extra ones (the HTTP service refuses them instead, with a
strict subclass of these models).

A file line is scored where a request would be refused, and the line is told how
(:func:`parse_conversation_line`): a platform that is none of the channels is read as not
given, a conversation over :data:`MAX_MESSAGES` keeps its last messages, a message over
:data:`MAX_MESSAGE_CHARS` its two ends, and messages written as plain strings get guessed
roles. A line that is not JSON, or breaks the contract, is reported with its line number
and the field at fault; the other lines are still read. A file that is a JSON array or
pretty-printed JSON is refused once (:func:`check_jsonl_layout`). Text is data: nothing in a
message changes what Butler does with it.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError

from features.errors import UnreadableFileError
from features.schema.vocab import ChatRole, Platform, channel_named
from features.store import Store
from features.text import counted, to_simplified, visible_text

#: Longest message text accepted, in characters (a chat message, not a document).
MAX_MESSAGE_CHARS = 5_000
#: Most messages accepted in one conversation.
MAX_MESSAGES = 500
#: Longest session id (or shop id) accepted, in characters: platforms' ids are a few dozen.
MAX_ID_CHARS = 200


#: How chat tools and exports name the two sides, lower-cased. A system notice ("会话开始",
#: "买家已申请退款") or the shop's auto-reply bot is neither side; it is read as agent-side
#: context: never as the buyer's words (which are what is scored), and kept in place, so a
#: message's index still counts every message of the line.
ROLE_SPELLINGS: dict[str, ChatRole] = {
    **dict.fromkeys(("buyer", "用户", "买家", "顾客", "客户", "customer", "user"), ChatRole.BUYER),
    **dict.fromkeys(("agent", "客服", "客服人员", "商家", "卖家", "seller", "staff", "service"),
                    ChatRole.AGENT),
    **dict.fromkeys(("system", "系统", "机器人", "bot"), ChatRole.AGENT),
}  # fmt: skip

#: Time formats read besides ISO 8601 and Unix seconds (which pydantic reads itself).
_TS_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M:%S",
               "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")  # fmt: skip


class ChatMessage(BaseModel):
    """One message of a conversation.

    ``role`` is ``buyer`` or ``agent``, or a name chat tools use for either side, in any
    case (:data:`ROLE_SPELLINGS`: 买家, 用户, customer → buyer; 客服, 商家, seller → agent);
    a system or bot message (system, 系统, 机器人, bot) is read as the agent's side. Any
    other role is refused, naming the two. ``text`` null (an image message) is empty text,
    and a number is read as its digits. ``ts`` is not used for scoring: a time in no format
    Butler reads ("", "soon") is read as not given (None) rather than refusing the message.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: ChatRole = Field(description="buyer or agent (买家/客服, customer/seller … too).")
    text: str = Field(max_length=MAX_MESSAGE_CHARS, description="The message as written.")
    ts: dt.datetime | None = Field(default=None, description="When it was sent.")

    @field_validator("role", mode="before")
    @classmethod
    def _role_as_chat_tools_write_it(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        role = ROLE_SPELLINGS.get(value.strip().lower())
        if role is None:
            raise PydanticCustomError(
                "unknown_role",
                "unknown role {role}; use buyer or agent (买家/用户/customer or "
                "客服/商家/seller are read too)",
                {"role": repr(value[:40])},
            )
        return role

    @field_validator("text", mode="before")
    @classmethod
    def _text_of_a_message_without_words(cls, value: object) -> object:
        if value is None:  # an image or a sticker: the message is kept, without words
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("ts", mode="wrap")
    @classmethod
    def _ts_or_none(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            pass
        if isinstance(value, str):
            for form in _TS_FORMATS:
                try:
                    return dt.datetime.strptime(value.strip(), form)
                except ValueError:
                    continue
        return None


def _channels() -> list[str]:
    return [p.value for p in Platform.channels()]


class Conversation(BaseModel):
    """One customer-service session, its messages in the order they were sent."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: str = Field(
        description="The platform's session id (surrounding spaces are dropped; not blank).",
        max_length=MAX_ID_CHARS,
        json_schema_extra={"minLength": 1},
    )
    platform: str | None = Field(
        default=None,
        description=(
            f"The sales channel, one of {', '.join(_channels())}, or its name (Taobao, "
            "京东; case and surrounding spaces do not matter); null when not known."
        ),
    )
    shop_id: str | None = Field(
        default=None, max_length=MAX_ID_CHARS, description="Shop the buyer wrote to."
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)

    @field_validator("session_id", "shop_id", mode="before")
    @classmethod
    def _number_id_as_text(cls, value: object) -> object:
        """An id a spreadsheet or a JSON writer left as a number (12345) is its digits."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("session_id")
    @classmethod
    def _session_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError(
                "blank_session_id",
                "must not be empty or blank; give the conversation's session id",
            )
        return value.strip()

    @field_validator("platform")
    @classmethod
    def _known_channel(cls, value: str | None) -> str | None:
        """The channel's code; a blank one counts as not given, like null."""
        if value is None or not value.strip():
            return None
        channel = channel_named(value)
        if channel is None:
            raise PydanticCustomError(
                "unknown_platform",
                "unknown platform {platform}; use one of {known}, or leave it out (null) "
                "when the channel is not known",
                {"platform": repr(value[:40]), "known": ", ".join(_channels())},
            )
        return channel.value

    def buyer_turns(self) -> list[tuple[int, str]]:
        """``(message index, text)`` of each buyer message with any visible text."""
        return [
            (i, m.text)
            for i, m in enumerate(self.messages)
            if m.role is ChatRole.BUYER and visible_text(m.text).strip()
        ]


# -- the classifier's text --------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\[(?:ORDERID_\d+|[^\[\]\s]{1,6}x)\]", re.IGNORECASE)
#: What a chat tool writes in place of a message that is not text (an image, a sticker, a
#: voice note, a product card): a token, like the anonymisation placeholders, never words.
_MEDIA_PLACEHOLDER = re.compile(r"\[(?:图片|表情|语音|视频|文件|链接|商品卡片|订单链接)\]")
#: An HTML tag, as web chat exports keep them (``<br>``, ``<br/>``, ``<div class="…">``): a
#: letter must follow ``<``, so "价格<100" and "<3" stay text.
_TAG = re.compile(r"</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>", re.IGNORECASE)
#: Rounds of unescaping: an export escaped twice writes ``&amp;nbsp;`` for ``&nbsp;``.
_UNWRAP_ROUNDS = 4
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{6,}")  # order ids, phone and account numbers; keeps 12315, 110
_SPACE = re.compile(r"\s+")


def _as_shown(text: str) -> str:
    """``text`` as the chat window shows it: entities decoded, tags and characters that show
    nothing gone, full-width forms as ASCII (NFKC).

    A tag goes without a trace: Chinese has no spaces between words, so ``律<br/>师`` is 律师.
    Repeated until nothing changes, so that the result is stable (``&amp;lt;br&amp;gt;``).
    """
    shown = unicodedata.normalize("NFKC", visible_text(text))
    if "&" not in shown and "<" not in shown:  # most messages: nothing to decode or drop
        return shown
    for _ in range(_UNWRAP_ROUNDS):
        shown = html.unescape(text)
        shown = _TAG.sub("", unicodedata.normalize("NFKC", visible_text(shown)))
        if shown == text:
            break
        text = shown
    return text


def chat_text(text: str) -> str:
    r"""A message as the classifier reads it.

    Characters that show nothing go (zero-width spaces, a soft hyphen, a BOM:
    :func:`~features.text.visible_text`), so "投\u200b诉" reads as "投诉"; HTML entities are
    decoded (``&nbsp;`` is a space, ``&amp;`` is &) and HTML tags dropped, so
    "律<br/>师" reads as "律师"; full-width forms become ASCII (NFKC), traditional
    characters simplified, Latin letters lower-case; anonymisation placeholders
    (``[数字x]``, ``[ORDERID_1]``), the placeholders chat tools write for a message that is
    not text (``[图片]``, ``[表情]``, ``[语音]``, ``[视频]``, ``[文件]``, ``[链接]``,
    ``[商品卡片]``, ``[订单链接]``), links and numbers of six or more digits become ``#``,
    so an order number never counts as a word.

    Shared by training and serving: a change here changes what a trained model reads.

    Examples:
        >>> chat_text("我要打１２３１５投訴！訂單[ORDERID_10001352] 20180312001")
        '我要打12315投诉!订单# #'
        >>> chat_text("[图片]再不退款我就找律<br/>师起诉&nbsp;")
        '#再不退款我就找律师起诉'
    """
    for _ in range(_UNWRAP_ROUNDS):
        read = _as_shown(text)
        read = _URL.sub("#", _MEDIA_PLACEHOLDER.sub("#", _PLACEHOLDER.sub("#", read)))
        read = _LONG_NUMBER.sub("#", to_simplified(read).lower())
        read = _SPACE.sub(" ", read).strip()
        # a "#" put in may complete an entity or a placeholder ("&[图片]35;" → "&#35;",
        # "[[图片]x]" → "[#x]"): read the result again, so that chat_text of its own output
        # changes nothing
        if read == text or ("&" not in read and "[" not in read):
            return read
        text = read
    return text


# -- speaker roles for sources that have none ---------------------------------------------------

_AGENT_MARK = re.compile(
    r"亲|您|客官|小妹|妹子|#e-s|为您|帮您|请问还有|还有什么可以|稍等|抱歉|不便|感谢您|"
    r"这边(?:为|帮|给)|(?:哦|呢|呀)[~～]|请您|核实|已为|专员"
)


def guess_roles(utterances: Iterable[str]) -> list[ChatRole]:
    """Who wrote each utterance of a transcript without speaker labels (e.g. JDDC windows).

    Agents address the buyer as 亲/您, apologise and offer help; a buyer rarely does. An
    utterance with none of those marks is taken as the buyer's, so a risk is never hidden
    by being taken for the agent's words.
    """
    return [
        ChatRole.AGENT if _AGENT_MARK.search(chat_text(u)) else ChatRole.BUYER for u in utterances
    ]


# -- reading conversations -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A JSONL line that was not read, and why."""

    line: int
    reason: str


#: How to open a JSONL file of conversations: a line that is not UTF-8 is then reported by
#: :func:`parse_conversation_line` with its number, and the other lines are read.
JSONL_ERRORS = "surrogateescape"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    return f"{where}: {err['msg']}"


@dataclass(frozen=True, slots=True)
class LineNote:
    """A JSONL line that was read, but not entirely as written, and how."""

    line: int
    note: str


@dataclass(frozen=True, slots=True)
class ReadLine:
    """What :func:`parse_conversation_line` made of one line."""

    #: the conversation, or the problem that stops the line being one
    item: Conversation | LineProblem
    #: the line's JSON object as written ({} when it is not one)
    payload: dict
    #: how the conversation differs from the line as written (shortened, roles guessed, …)
    notes: tuple[str, ...] = ()
    #: index, among the line's messages, of the conversation's first message: a message index
    #: of the conversation plus this is the index in the line
    first_message: int = 0


_MESSAGE_SHAPE = '{"role": "buyer"|"agent", "text": "…", "ts": "…"}'

#: what chat tools call a message's fields, where a file does not say ``role``/``text``/``ts``
_MESSAGE_KEYS = {
    "role": ("from", "sender", "speaker", "sender_type"),
    "text": ("content", "message", "msg", "body"),
    "ts": ("time", "timestamp", "sent_at", "created_at"),
}


def _with_contract_keys(messages: list[dict]) -> tuple[list[dict], list[str]]:
    """The messages with the keys chat tools use instead of ``role``, ``text`` and ``ts``
    (``from``, ``content``, …) read as those, and which were read so."""
    renamed: dict[str, str] = {}
    out = []
    for message in messages:
        for key, others in _MESSAGE_KEYS.items():
            if key not in message:
                other = next((k for k in others if k in message), None)
                if other is not None:
                    message = message | {key: message[other]}
                    renamed.setdefault(other, key)
        out.append(message)
    return out, [f"`{other}` as `{key}`" for other, key in renamed.items()]


def _fit_file_line(payload: dict) -> tuple[dict, list[str], int] | str:
    """The line's object as the file contract reads it, how that differs from what was
    written, and the index of the first message kept; or why the messages cannot be read.

    A file is scored even where an HTTP request would be refused: a conversation of more than
    :data:`MAX_MESSAGES` messages keeps its last ones (a risk escalates late); a message over
    :data:`MAX_MESSAGE_CHARS` characters keeps its first and last halves; a platform that is
    none of Butler's channels is read as not given (it is only carried through: the output
    line keeps it as written); a message's fields named as chat tools name them (``from``,
    ``content``, ``time``, …: :data:`_MESSAGE_KEYS`) are read as ``role``, ``text`` and
    ``ts``; messages written as plain strings get roles guessed from
    their wording (:func:`guess_roles`, which takes an utterance without the agents' marks
    for the buyer's, so a risk is never hidden as the agent's words).
    """
    notes: list[str] = []
    messages = payload["messages"]
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        roles = guess_roles(messages)
        messages = [{"role": r, "text": t} for r, t in zip(roles, messages, strict=True)]
        notes.append(
            "messages are plain strings: roles guessed from the wording (亲/您/稍等… → agent, "
            f"else buyer); write each message as {_MESSAGE_SHAPE} for exact roles"
        )
    elif isinstance(messages, list):
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                return (
                    f"messages.{i}: a message is an object {_MESSAGE_SHAPE}; got "
                    f"{type(message).__name__} {json.dumps(message, ensure_ascii=False)[:40]}"
                )
        messages, renamed = _with_contract_keys(messages)
        if renamed:
            notes.append(f"read {', '.join(renamed)}; the contract's message is {_MESSAGE_SHAPE}")
    first = 0
    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        first = len(messages) - MAX_MESSAGES
        notes.append(
            f"shortened: kept the last {MAX_MESSAGES:,} of {len(messages):,} messages (a risk "
            f"escalates late), so messages 0–{first - 1:,} were not read; evidence indices "
            "still count the line's messages"
        )
        messages = messages[first:]
    if isinstance(messages, list):
        half = MAX_MESSAGE_CHARS // 2
        cut = [
            i
            for i, m in enumerate(messages)
            if isinstance(m.get("text"), str) and len(m["text"]) > MAX_MESSAGE_CHARS
        ]
        if cut:
            messages = [
                m | {"text": m["text"][:half] + m["text"][-half:]} if i in cut else m
                for i, m in enumerate(messages)
            ]
            shown = ", ".join(str(first + i) for i in cut[:10]) + (" …" if len(cut) > 10 else "")
            notes.append(
                f"shortened: message(s) {shown} over {MAX_MESSAGE_CHARS:,} characters, read as "
                f"their first and last {half:,}"
            )
    fitted = payload | {"messages": messages}
    platform = payload.get("platform")
    if isinstance(platform, str) and platform.strip() and channel_named(platform) is None:
        fitted["platform"] = None
        notes.append(
            f"platform {platform[:40]!r} is none of Butler's channels "
            f"({', '.join(_channels())}): scored without one; the output keeps it as written"
        )
    return fitted, notes, first


def parse_conversation_line(number: int, line: str) -> ReadLine:
    """One JSONL line as a conversation (with its JSON object), or the problem with it.

    Read files with ``errors="surrogateescape"`` (:data:`JSONL_ERRORS`): a line in another
    encoding (a GBK export pasted in) then becomes that line's problem instead of an error
    that stops the whole file. A line is read even over the limits an HTTP request is held
    to, and the notes say how (:func:`_fit_file_line`).
    """
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        # surrogateescape keeps each byte UTF-8 cannot decode as U+DC80 … U+DCFF
        byte = ord(line[exc.start]) - 0xDC00
        reason = (
            f"not UTF-8 (byte 0x{byte:02X} at column {exc.start + 1}); re-save the file as "
            "UTF-8 (a GBK export converts with `iconv -f GBK -t UTF-8 in.jsonl > out.jsonl`)"
        )
        return ReadLine(LineProblem(number, reason), {})
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as exc:
        return ReadLine(
            LineProblem(number, f"not valid JSON ({exc.msg} at column {exc.colno})"), {}
        )
    if not isinstance(payload, dict):
        return ReadLine(LineProblem(number, "not a JSON object"), {})
    if not payload.get("messages"):
        return ReadLine(LineProblem(number, "messages: missing or empty"), payload)
    fitted = _fit_file_line(payload)
    if isinstance(fitted, str):
        return ReadLine(LineProblem(number, fitted), payload)
    read, notes, first = fitted
    try:
        conversation = Conversation.model_validate(read)
    except ValidationError as exc:
        return ReadLine(LineProblem(number, _first_error(exc)), payload)
    return ReadLine(conversation, payload, tuple(notes), first)


def parse_conversation_lines(
    lines: Iterable[str],
) -> Iterator[tuple[int, Conversation | LineProblem]]:
    """Each non-blank line as a conversation, or as the problem that stops it being one."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, parse_conversation_line(number, line).item


def read_conversations_jsonl(path: Path) -> tuple[list[Conversation], list[LineProblem]]:
    """The conversations of a JSONL file, and the lines that could not be read.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    conversations: list[Conversation] = []
    problems: list[LineProblem] = []
    with path.open(encoding="utf-8-sig", errors=JSONL_ERRORS) as handle:
        for _, item in parse_conversation_lines(handle):
            (problems if isinstance(item, LineProblem) else conversations).append(item)
    return conversations, problems


def check_jsonl_layout(path: Path) -> None:
    """Refuse, once and with the fix, a file that is JSON but not JSON Lines: a JSON array,
    or documents pretty-printed over many lines, would otherwise be one "not valid JSON"
    problem per physical line.

    Only a file whose first line is not a JSON object is read whole.

    Raises:
        UnreadableFileError: the file is one JSON array, or JSON documents spread over lines.
        FileNotFoundError: ``path`` does not exist.
    """
    with path.open(encoding="utf-8-sig", errors=JSONL_ERRORS) as handle:
        first = next((line for line in handle if line.strip()), None)
    if first is None:
        return
    try:
        if isinstance(json.loads(first), dict):
            return
    except json.JSONDecodeError:
        pass
    text = path.read_text(encoding="utf-8-sig", errors=JSONL_ERRORS)
    documents = _json_documents(text)
    if not documents:
        return  # not JSON as a whole either: each line's problem says more
    lines = sum(1 for line in text.splitlines() if line.strip())
    one_array = len(documents) == 1 and isinstance(documents[0], list)
    if not one_array and len(documents) == lines:
        return  # a JSON value per line, some not objects: each such line's problem says so
    target = path.with_suffix(".jsonl")
    if target.name == path.name:
        target = path.with_name(f"{path.stem}.lines.jsonl")
    if one_array:
        layout, fix = f"one JSON array of {len(documents[0]):,} items", f"jq -c '.[]' {path}"
    else:
        layout = f"{counted(len(documents), 'JSON document')} spread over {lines:,} lines"
        fix = f"jq -c . {path}"
    raise UnreadableFileError(
        f"{path} is {layout}, not JSON Lines: give one conversation per line, each a JSON "
        f"object on a single line. Convert it with `{fix} > {target}` and classify that."
    )


def _json_documents(text: str) -> list[object]:
    """The JSON values ``text`` holds one after another, or [] when it is not only those."""
    decoder = json.JSONDecoder()
    documents, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return documents
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return []
        documents.append(value)


def conversations_from_messages(messages: pd.DataFrame) -> list[Conversation]:
    """Conversations from unified chat-message rows (platform, session_id, seq, role, text, …)."""
    if messages.empty:
        return []
    frame = messages.sort_values(["platform", "session_id", "seq"], kind="stable")
    out = []
    for (platform, session), rows in frame.groupby(["platform", "session_id"], sort=False):
        shop = rows["shop_id"].iloc[0] if "shop_id" in rows else None
        stamps = rows["sent_at"] if "sent_at" in rows else [None] * len(rows)
        out.append(
            Conversation.model_construct(
                session_id=str(session),
                platform=str(platform),
                shop_id=None if shop is None or pd.isna(shop) else str(shop),
                messages=[
                    ChatMessage.model_construct(
                        role=ChatRole(role), text=str(text), ts=None if pd.isna(ts) else ts
                    )
                    for role, text, ts in zip(rows["role"], rows["text"], stamps, strict=True)
                ],
            )
        )
    return out


def store_chat_messages(store: Store, *, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Chat messages of the store, all of them or those of ``sessions`` (platform, session_id)."""
    query = (
        "SELECT m.platform, m.session_id, m.seq, m.shop_id, m.role, m.sent_at, m.text "
        "FROM chat_messages m"
    )
    if sessions is None:
        return store.sql(query + " ORDER BY 1, 2, 3").df()
    store.con.register("_wanted_sessions", sessions[["platform", "session_id"]])
    try:
        return store.sql(
            query + " JOIN _wanted_sessions w USING (platform, session_id) ORDER BY 1, 2, 3"
        ).df()
    finally:
        store.con.unregister("_wanted_sessions")


def store_conversations(store: Store) -> list[Conversation]:
    """Every conversation in the store (none when it holds no chats)."""
    return conversations_from_messages(store_chat_messages(store))

"""Conversations in one shape: the classifier's text, guessed roles and the JSONL contract."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.chats import (
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    ChatMessage,
    Conversation,
    LineProblem,
    chat_text,
    check_jsonl_layout,
    conversations_from_messages,
    guess_roles,
    parse_conversation_line,
    parse_conversation_lines,
    read_conversations_jsonl,
)
from features.errors import UnreadableFileError
from features.schema.vocab import ChatRole, Platform

# -- chat_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full-width forms → ASCII, then lower-case
        ("我要打１２３１５投訴！", "我要打12315投诉!"),
        ("訂單還沒到", "订单还没到"),  # traditional → simplified
        ("Hello World", "hello world"),
        ("订单[ORDERID_10001352]", "订单#"),
        ("订单[orderid_7]", "订单#"),  # placeholders match whatever the case
        ("我叫[姓名x],电话[数字x]", "我叫#,电话#"),
        ("[微笑]好的", "[微笑]好的"),  # an emoticon tag is not a placeholder
        ("单号20180312001", "单号#"),
        ("123456", "#"),
        ("12345", "12345"),  # five digits are kept
        ("打12315投诉", "打12315投诉"),
        ("我要报警110", "我要报警110"),
        ("电话13812345678", "电话#"),
        ("看 https://item.jd.com/1.html 这个", "看 # 这个"),
        ("  多个   空格\n换行\t ", "多个 空格 换行"),
        ("[图片]", "#"),  # what a chat tool writes for a message that is not text
        ("[语音][视频][文件][链接][商品卡片][订单链接]好", "######好"),
        ("我要去<br>12315投诉你们", "我要去12315投诉你们"),
        ('<div><span style="color:red">投诉</span></div>', "投诉"),
        ("律&nbsp;师 &amp; 媒体", "律 师 & 媒体"),
        ("&amp;lt;br&amp;gt;好", "好"),  # escaped twice
        ("价格<100元 <3 a<b", "价格<100元 <3 a<b"),  # not tags: no letter after <, no >
        ("&#x6295;&#35785;", "投诉"),
        ("＜ｂｒ＞好", "好"),  # a full-width tag is a tag once NFKC-normalised
    ],
)
def test_chat_text_normalises(raw, expected):
    assert chat_text(raw) == expected


_RISKY = ["再不退款我就找律师起诉", "我要去12315投诉你们"]


@pytest.mark.parametrize(
    "dressed",
    [
        "再不退款我就找律<br/>师起<br>诉",
        "<p>再不退款我就找律师起诉</p>",
        "再不退款我就找律师起诉<br>",
        "我要去12315投&#35785;你们",
        "我要去&lt;br&gt;12315投诉你们",
    ],
)
def test_html_in_a_message_reads_like_the_plain_sentence(dressed):
    assert chat_text(dressed) in {chat_text(r) for r in _RISKY}


def test_media_placeholders_read_like_the_other_placeholders():
    assert chat_text("[图片][图片]再不退款我就找律师起诉[表情]") == "##再不退款我就找律师起诉#"
    assert chat_text("[图片]") == chat_text("[ORDERID_1]") == "#"
    assert chat_text("[图片x]") == "#"  # the anonymisation placeholder it already was
    assert chat_text("&[图片]35;") == chat_text(chat_text("&[图片]35;"))


# every character that shows nothing, as features.text.INVISIBLE lists them
_INVISIBLE_CHARS = ["\u00ad", *map(chr, range(0x200B, 0x2010)), *map(chr, range(0x2060, 0x2065)),
                    "\ufeff"]  # fmt: skip


@pytest.mark.parametrize("char", _INVISIBLE_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_chat_text_drops_characters_that_show_nothing(char):
    assert chat_text(f"投{char}诉") == "投诉"
    assert chat_text(f"{char}我要打１２３１５{char}投訴{char}") == "我要打12315投诉"
    # dropped before numbers are masked: a zero-width space does not hide an order number
    assert chat_text(f"单号2018{char}0312001") == "单号#"


def test_chat_text_docstring_example():
    assert (
        chat_text("我要打１２３１５投訴！訂單[ORDERID_10001352] 20180312001")
        == "我要打12315投诉!订单# #"
    )


_CHAT_ALPHABET = st.sampled_from(
    list("親您訂單投訴退款假貨丢了我要[]xX_ORDEI数字 　ＡＢＣ１２３４５abcXYZ0123456789#@:/.w後臺")
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_CHAT_ALPHABET, max_size=40))
def test_chat_text_is_idempotent_and_leaves_no_long_numbers(raw):
    once = chat_text(raw)
    assert chat_text(once) == once
    assert not re.search(r"\d{6}", once)
    assert once == once.strip()
    assert once == once.lower()


_MARKUP = st.sampled_from(["<br>", "<br/>", "</div>", "<", ">", "&", ";", "&nbsp;", "&amp;",
                           "&lt;", "&gt;", "&#35;", "[图片]", "[表情]", "x", "[", "]"])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_CHAT_ALPHABET, _MARKUP), max_size=30))
def test_chat_text_of_markup_is_idempotent(pieces):
    once = chat_text("".join(pieces))
    assert chat_text(once) == once


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_CHAT_ALPHABET, st.text(st.sampled_from(_INVISIBLE_CHARS), max_size=3)),
                max_size=30))  # fmt: skip
def test_characters_that_show_nothing_never_change_chat_text(pieces):
    clean = "".join(char for char, _ in pieces)
    pasted = "".join(char + invisible for char, invisible in pieces)
    assert chat_text(pasted) == chat_text(clean)


# -- guess_roles ------------------------------------------------------------------------------


def test_guess_roles_marks_agent_style_utterances():
    utterances = [
        "亲,这边帮您查一下",
        "请您稍等",
        "稍等一下哦",
        "抱歉给您带来不便",
        "請您稍等",  # traditional: read after chat_text
        "我的快递到哪了",
        "东西坏了怎么办",
        "12315",
        "",
    ]
    assert guess_roles(utterances) == [
        ChatRole.AGENT,
        ChatRole.AGENT,
        ChatRole.AGENT,
        ChatRole.AGENT,
        ChatRole.AGENT,
        ChatRole.BUYER,
        ChatRole.BUYER,
        ChatRole.BUYER,
        ChatRole.BUYER,
    ]


def test_guess_roles_of_nothing_is_empty():
    assert guess_roles([]) == []


# -- Conversation.buyer_turns -----------------------------------------------------------------


def _message(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=ChatRole(role), text=text)


def test_buyer_turns_keep_indices_and_skip_agent_and_blank_messages():
    conversation = Conversation(
        session_id="S1",
        messages=[
            _message("agent", "亲,在的"),
            _message("buyer", "快递丢了"),
            _message("buyer", "   "),
            _message("agent", "稍等"),
            _message("buyer", ""),
            _message("buyer", "我要投诉"),
        ],
    )
    assert conversation.buyer_turns() == [(1, "快递丢了"), (5, "我要投诉")]


def test_a_buyer_message_of_characters_that_show_nothing_is_blank():
    conversation = Conversation(
        session_id="S1",
        messages=[_message("buyer", "\u200b\ufeff \u00ad"), _message("buyer", "投\u200b诉")],
    )
    # the text is kept as written; chat_text is what drops the characters
    assert conversation.buyer_turns() == [(1, "投\u200b诉")]


def test_buyer_turns_of_an_agent_only_conversation_is_empty():
    conversation = Conversation(session_id="S1", messages=[_message("agent", "您好")])
    assert conversation.buyer_turns() == []


# -- the JSONL contract -----------------------------------------------------------------------


def _line(session_id: str = "S1", messages: object = None, **extra) -> str:
    if messages is None:
        messages = [{"role": "buyer", "text": "在吗", "ts": "2024-11-11T10:00:00"}]
    return json.dumps({"session_id": session_id, "messages": messages, **extra}, ensure_ascii=False)


def _problems(lines: list[str]) -> dict[int, str]:
    return {
        n: item.reason
        for n, item in parse_conversation_lines(lines)
        if isinstance(item, LineProblem)
    }


def test_a_good_line_reads_every_field():
    line = _line(
        "S1",
        [
            {"role": "agent", "text": "亲,您好"},
            {"role": "buyer", "text": "快递丢了", "ts": "2024-11-11T10:00:00", "extra": 1},
        ],
        platform="jd",
        shop_id="butler旗舰店",
        ignored="x",
    )
    [(number, conversation)] = list(parse_conversation_lines([line]))
    assert number == 1
    assert isinstance(conversation, Conversation)
    assert conversation.session_id == "S1"
    assert conversation.platform == "jd"
    assert conversation.shop_id == "butler旗舰店"
    assert [m.role for m in conversation.messages] == [ChatRole.AGENT, ChatRole.BUYER]
    assert conversation.messages[0].ts is None
    assert conversation.messages[1].ts == dt.datetime(2024, 11, 11, 10, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"just a string"', "not a JSON object"),
        (json.dumps({"session_id": "S2"}), "messages: missing or empty"),
        (_line("S3", []), "messages: missing or empty"),
        (_line("S4", [{"role": "narrator", "text": "x"}]), "messages.0.role: unknown role"),
        (_line("S5", [{"role": "buyer", "text": "x"}, "我要投诉"]), "messages.1: a message is an"),
        (_line("S6", [{"role": "buyer", "text": "x"}, 7]), "messages.1: a message is an object"),
        (_line("", [{"role": "buyer", "text": "x"}]), "session_id"),
        (json.dumps({"messages": [{"role": "buyer", "text": "x"}]}), "session_id"),
        (_line("S7", [{"role": "buyer", "text": "ok"}, {"role": "buyer"}]), "messages.1.text"),
        (_line("S9", "abc"), "messages:"),
    ],
)
def test_each_broken_line_is_reported_with_the_field_at_fault(line, reason):
    [(number, item)] = list(parse_conversation_lines([line]))
    assert number == 1
    assert isinstance(item, LineProblem)
    assert item.line == 1
    assert item.reason.startswith(reason), item.reason


def _read(line: str) -> Conversation | LineProblem:
    [(_, item)] = list(parse_conversation_lines([line]))
    return item


@pytest.mark.parametrize(
    ("given", "role"),
    [("buyer", "buyer"), ("BUYER", "buyer"), (" Agent ", "agent"), ("用户", "buyer"),
     ("买家", "buyer"), ("顾客", "buyer"), ("客户", "buyer"), ("Customer", "buyer"),
     ("user", "buyer"), ("客服", "agent"), ("客服人员", "agent"), ("商家", "agent"),
     ("卖家", "agent"), ("seller", "agent"), ("STAFF", "agent"), ("service", "agent")],
)  # fmt: skip
def test_a_role_is_read_the_way_chat_tools_write_it(given, role):
    conversation = _read(_line(messages=[{"role": given, "text": "我要投诉"}]))
    assert isinstance(conversation, Conversation)
    assert conversation.messages[0].role == ChatRole(role)


@pytest.mark.parametrize("given", ["system", "系统", "机器人", "BOT"])
def test_a_system_or_bot_message_is_agent_side_context_kept_in_place(given):
    messages = [{"role": given, "text": "会话开始"}, {"role": "买家", "text": "我要投诉"}]
    conversation = _read(_line(messages=messages))
    assert [m.role for m in conversation.messages] == [ChatRole.AGENT, ChatRole.BUYER]
    # never the buyer's words, and the buyer's message keeps its index in the line
    assert conversation.buyer_turns() == [(1, "我要投诉")]


@pytest.mark.parametrize("given", ["narrator", "买卖家", "", 3])
def test_an_unknown_role_is_refused_naming_the_two(given):
    problem = _read(_line(messages=[{"role": given, "text": "x"}]))
    assert isinstance(problem, LineProblem)
    assert problem.reason.startswith("messages.0.role: ")
    if isinstance(given, str):
        assert problem.reason == (
            f"messages.0.role: unknown role {given!r}; use buyer or agent "
            "(买家/用户/customer or 客服/商家/seller are read too)"
        )


@pytest.mark.parametrize(
    ("given", "read"),
    [("2024-01-05T08:03:00", dt.datetime(2024, 1, 5, 8, 3)),
     ("2024-01-05 08:03", dt.datetime(2024, 1, 5, 8, 3)),
     ("2024/1/5 8:03", dt.datetime(2024, 1, 5, 8, 3)),
     ("2024/01/05 08:03:09", dt.datetime(2024, 1, 5, 8, 3, 9)),
     ("2024年1月5日 08:03", dt.datetime(2024, 1, 5, 8, 3)),
     (1704412980, dt.datetime(2024, 1, 5, 0, 3, tzinfo=dt.UTC)),
     ("", None), ("soon", None), ("2024-13-45", None), (None, None), (True, None),
     ([2024], None)],
)  # fmt: skip
def test_a_time_in_no_known_format_is_read_as_not_given(given, read):
    conversation = _read(_line(messages=[{"role": "buyer", "text": "我要投诉", "ts": given}]))
    assert isinstance(conversation, Conversation)
    assert conversation.messages[0].ts == read


def test_a_message_without_words_is_kept_and_a_number_is_its_digits():
    messages = [{"role": "buyer", "text": None}, {"role": "buyer", "text": 12315},
                {"role": "buyer", "text": "投诉"}]  # fmt: skip
    conversation = _read(_line(messages=messages))
    assert [m.text for m in conversation.messages] == ["", "12315", "投诉"]
    assert conversation.buyer_turns() == [(1, "12315"), (2, "投诉")]


@pytest.mark.parametrize("text", [True, {"text": "x"}, ["x"]])
def test_a_text_that_is_no_text_nor_number_is_refused(text):
    problem = _read(_line(messages=[{"role": "buyer", "text": text}]))
    assert isinstance(problem, LineProblem) and problem.reason.startswith("messages.0.text: ")


def test_a_numeric_session_or_shop_id_is_read_as_its_digits():
    conversation = _read(_line(12345, shop_id=678))
    assert (conversation.session_id, conversation.shop_id) == ("12345", "678")
    assert isinstance(_read(_line(True)), LineProblem)  # true is no id


@pytest.mark.parametrize(
    ("given", "code"),
    [("jd", "jd"), ("TMALL ", "tmall"), ("  Douyin", "douyin"), ("POS", "pos"), ("", None),
     ("   ", None), (None, None), ("Taobao", "tmall"), ("京东", "jd"), ("小红书", "xiaohongshu")],
)  # fmt: skip
def test_a_platform_is_read_by_its_code_or_name(given, code):
    conversation = _read(_line(platform=given))
    assert isinstance(conversation, Conversation) and conversation.platform == code


def test_every_sales_channel_is_a_platform_a_conversation_may_carry():
    for platform in Platform.channels():
        assert _read(_line(platform=platform.value.upper())).platform == platform.value


@pytest.mark.parametrize("given", ["amazon", "erp", "淘宝网", "jd.com", "抖音小店", "微信"])
def test_an_unknown_platform_in_a_file_is_read_as_none_and_said(given):
    # the platform is only carried through (the output keeps the line as written): it is no
    # reason to leave a conversation unscored; a conversation built in code, or sent over
    # HTTP, is still refused (test_the_checks_hold_for_conversations_built_in_code)
    read = parse_conversation_line(1, _line(platform=given))
    assert isinstance(read.item, Conversation) and read.item.platform is None
    assert read.payload["platform"] == given
    known = ", ".join(p.value for p in Platform.channels())
    assert read.notes == (
        f"platform {given!r} is none of Butler's channels ({known}): scored without one; "
        "the output keeps it as written",
    )


def test_a_platform_that_is_not_text_is_refused():
    problem = _read(_line(platform=7))
    assert isinstance(problem, LineProblem) and problem.reason.startswith("platform: ")


@pytest.mark.parametrize("given", ["", " ", "\t\n"])
def test_a_blank_session_id_is_refused_with_the_fix(given):
    problem = _read(_line(given))
    assert isinstance(problem, LineProblem)
    assert problem.reason == (
        "session_id: must not be empty or blank; give the conversation's session id"
    )


def test_an_oversized_session_or_shop_id_is_refused():
    problem = _read(_line("S" * 201))
    assert isinstance(problem, LineProblem)
    assert problem.reason.startswith("session_id: String should have at most 200 characters")
    assert isinstance(_read(_line("S" * 200)), Conversation)


def test_a_session_id_is_read_stripped():
    assert _read(_line(" S1\t")).session_id == "S1"


def test_the_checks_hold_for_conversations_built_in_code():
    message = _message("buyer", "在吗")
    assert Conversation(session_id=" S1 ", platform="JD", messages=[message]).platform == "jd"
    with pytest.raises(ValueError, match="unknown platform 'amazon'"):
        Conversation(session_id="S1", platform="amazon", messages=[message])
    with pytest.raises(ValueError, match="session_id"):
        Conversation(session_id="  ", messages=[message])


def test_keys_the_contract_does_not_name_are_ignored_at_every_level():
    # platform exports carry their own keys; the file reader keeps reading (the HTTP service
    # refuses them: tests/services/test_http_risk.py)
    line = _line(
        "S1",
        [{"role": "buyer", "text": "在吗", "txt": "x", "msg_id": 17, "sender_nick": "tb_1"}],
        platform="jd",
        export_batch="2024-11",
    )
    conversation = _read(line)
    assert isinstance(conversation, Conversation)
    assert conversation.messages[0].text == "在吗"
    assert conversation.model_dump(exclude_none=True) == {
        "session_id": "S1",
        "platform": "jd",
        "messages": [{"role": ChatRole.BUYER, "text": "在吗"}],
    }


def test_the_limits_themselves_are_accepted():
    text = _line("S1", [{"role": "buyer", "text": "x" * MAX_MESSAGE_CHARS}])
    many = _line("S2", [{"role": "buyer", "text": "x"}] * MAX_MESSAGES)
    items = [item for _, item in parse_conversation_lines([text, many])]
    assert [type(item) for item in items] == [Conversation, Conversation]
    assert len(items[1].messages) == MAX_MESSAGES


def test_a_conversation_over_the_message_limit_keeps_its_last_messages():
    messages = [{"role": "buyer", "text": f"m{i}"} for i in range(MAX_MESSAGES + 105)]
    read = parse_conversation_line(4, _line("S1", messages))
    assert isinstance(read.item, Conversation)
    assert len(read.item.messages) == MAX_MESSAGES
    assert read.item.messages[0].text == "m105" and read.item.messages[-1].text == "m604"
    assert read.first_message == 105  # conversation index + 105 = index in the line
    assert len(read.payload["messages"]) == MAX_MESSAGES + 105  # the line as written
    assert read.notes == (
        f"shortened: kept the last {MAX_MESSAGES} of 605 messages (a risk escalates late), so "
        "messages 0–104 were not read; evidence indices still count the line's messages",
    )


def test_a_message_over_the_character_limit_keeps_its_two_ends():
    half = MAX_MESSAGE_CHARS // 2
    long = "起" * half + "中" * 10 + "诉" * half
    messages = [{"role": "agent", "text": "您好"}, {"role": "buyer", "text": long}]
    read = parse_conversation_line(1, _line("S1", messages))
    assert isinstance(read.item, Conversation)
    assert read.item.messages[1].text == "起" * half + "诉" * half
    assert read.payload["messages"][1]["text"] == long
    assert read.first_message == 0
    assert read.notes == (
        f"shortened: message(s) 1 over {MAX_MESSAGE_CHARS:,} characters, read as their first "
        f"and last {half:,}",
    )


def test_the_two_limits_together_name_the_message_by_its_index_in_the_line():
    messages = [{"role": "buyer", "text": "好"}] * (MAX_MESSAGES + 3)
    messages[-1] = {"role": "buyer", "text": "x" * (MAX_MESSAGE_CHARS + 1)}
    read = parse_conversation_line(1, _line("S1", messages))
    assert read.first_message == 3
    assert f"message(s) {MAX_MESSAGES + 2} over" in read.notes[1]


def test_a_line_within_the_limits_has_no_notes():
    read = parse_conversation_line(1, _line("S1", platform="京东"))
    assert (read.notes, read.first_message) == ((), 0)


def test_messages_as_plain_strings_get_guessed_roles_and_a_note():
    read = parse_conversation_line(1, _line("S1", ["亲,请问有什么可以帮您", "我要去12315投诉你们"]))
    assert isinstance(read.item, Conversation)
    assert [m.role for m in read.item.messages] == [ChatRole.AGENT, ChatRole.BUYER]
    assert read.notes[0].startswith("messages are plain strings: roles guessed from the wording")
    assert '{"role": "buyer"|"agent", "text": "…", "ts": "…"}' in read.notes[0]


def test_message_fields_named_as_chat_tools_name_them_are_read_with_a_note():
    messages = [
        {"from": "客服", "content": "亲，在的", "time": "2026/11/20 10:00:00"},
        {"from": "customer", "content": "再不退款我就找律师起诉"},
        {"role": "buyer", "text": "快点", "content": "ignored: text is given"},
    ]
    read = parse_conversation_line(1, _line("S1", messages))
    assert isinstance(read.item, Conversation)
    got = [(m.role, m.text) for m in read.item.messages]
    assert got == [
        (ChatRole.AGENT, "亲，在的"),
        (ChatRole.BUYER, "再不退款我就找律师起诉"),
        (ChatRole.BUYER, "快点"),
    ]
    assert read.item.messages[0].ts == dt.datetime(2026, 11, 20, 10, 0)
    assert read.notes == (
        "read `from` as `role`, `content` as `text`, `time` as `ts`; the contract's message is "
        '{"role": "buyer"|"agent", "text": "…", "ts": "…"}',
    )


def _layout_error(tmp_path: Path, text: str, name: str = "chats.jsonl") -> str | None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    try:
        check_jsonl_layout(path)
    except UnreadableFileError as exc:
        return str(exc)
    return None


def test_a_pretty_printed_file_is_refused_once_with_the_fix(tmp_path):
    one = {"session_id": "S1", "messages": [{"role": "buyer", "text": "我要投诉"}]}
    pretty = json.dumps(one, ensure_ascii=False, indent=2)
    lines = pretty.count("\n") + 1
    said = _layout_error(tmp_path, pretty + "\n")
    path = tmp_path / "chats.jsonl"
    assert said == (
        f"{path} is 1 JSON document spread over {lines} lines, not JSON Lines: give one "
        "conversation per line, each a JSON object on a single line. Convert it with "
        f"`jq -c . {path} > {tmp_path / 'chats.lines.jsonl'}` and classify that."
    )
    assert "2 JSON documents spread over" in _layout_error(tmp_path, pretty + "\n" + pretty)


def test_a_json_array_is_refused_once_with_the_fix(tmp_path):
    items = [json.loads(_line("S1")), json.loads(_line("S2"))]
    for text in (json.dumps(items), json.dumps(items, indent=2)):
        said = _layout_error(tmp_path, text, "chats.json")
        assert said.startswith(f"{tmp_path / 'chats.json'} is one JSON array of 2 items")
        assert f"`jq -c '.[]' {tmp_path / 'chats.json'} > {tmp_path / 'chats.jsonl'}`" in said


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", _line("S1") + "\n" + _line("S2") + "\n", "{broken\n" + _line("S1") + "\n",
     "[1, 2]\n" + _line("S1") + "\n", "not json at all\n"],
)  # fmt: skip
def test_jsonl_and_files_broken_line_by_line_pass_the_layout_check(tmp_path, text):
    assert _layout_error(tmp_path, text) is None


def test_problems_carry_their_own_line_numbers_and_good_lines_still_read():
    lines = [
        _line("A"),
        "",
        "{broken",
        "   ",
        _line("B"),
        "[]",
        _line("C", [{"role": "narrator", "text": "x"}]),
        _line("D"),
    ]
    items = list(parse_conversation_lines(lines))
    assert [n for n, _ in items] == [1, 3, 5, 6, 7, 8]  # blank lines 2 and 4 are skipped
    good = [(n, c.session_id) for n, c in items if isinstance(c, Conversation)]
    assert good == [(1, "A"), (5, "B"), (8, "D")]
    problems = _problems(lines)
    assert sorted(problems) == [3, 6, 7]
    assert problems[3].startswith("not valid JSON")
    assert problems[6] == "not a JSON object"
    assert problems[7].startswith("messages.0.role")


def test_a_line_with_an_unknown_platform_is_read_and_a_blank_session_reported(tmp_path):
    path = _write(
        tmp_path / "chats.jsonl",
        [_line("A", platform="jd"), _line("B", platform="amazon"), _line(" ", platform="jd"),
         _line("C", platform="TMALL ")],
    )  # fmt: skip
    conversations, problems = read_conversations_jsonl(path)
    assert [(c.session_id, c.platform) for c in conversations] == [
        ("A", "jd"),
        ("B", None),
        ("C", "tmall"),
    ]
    assert [p.line for p in problems] == [3]
    assert problems[0].reason.startswith("session_id: must not be empty or blank")


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_read_jsonl_file_with_a_bom_and_broken_lines(tmp_path):
    path = _write(
        tmp_path / "chats.jsonl",
        [
            _line("S1", platform="jd"),
            "not json",
            "",
            _line("S2", [{"role": "narrator", "text": "x"}]),
            _line("S3", [{"role": "agent", "text": "您好"}, {"role": "buyer", "text": "假货"}]),
        ],
        encoding="utf-8-sig",
    )
    conversations, problems = read_conversations_jsonl(path)
    assert [c.session_id for c in conversations] == ["S1", "S3"]
    assert conversations[0].platform == "jd"  # the BOM did not spoil the first line
    assert [p.line for p in problems] == [2, 4]
    assert problems[0].reason.startswith("not valid JSON")
    assert problems[1].reason.startswith("messages.0.role: unknown role")


def test_read_jsonl_file_with_windows_line_ends(tmp_path):
    path = tmp_path / "crlf.jsonl"
    path.write_bytes((_line("S1") + "\r\n" + _line("S2") + "\r\n").encode("utf-8"))
    conversations, problems = read_conversations_jsonl(path)
    assert [c.session_id for c in conversations] == ["S1", "S2"]
    assert problems == []


def test_a_line_in_another_encoding_is_reported_and_the_others_read(tmp_path):
    path = tmp_path / "mixed.jsonl"
    gbk = _line("S2", [{"role": "buyer", "text": "我要投诉"}]).encode("gbk")
    path.write_bytes(b"\n".join([_line("S1").encode(), gbk, _line("S3").encode()]) + b"\n")
    conversations, problems = read_conversations_jsonl(path)
    assert [c.session_id for c in conversations] == ["S1", "S3"]
    assert [p.line for p in problems] == [2]
    assert problems[0].reason.startswith("not UTF-8 (byte 0x") and "iconv" in problems[0].reason


def test_read_jsonl_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_conversations_jsonl(tmp_path / "nope.jsonl")


# -- from unified chat-message rows -----------------------------------------------------------


def test_conversations_from_messages_orders_by_seq_and_groups_sessions():
    rows = pd.DataFrame(
        {
            "platform": ["tmall", "jd", "jd", "jd", "tmall"],
            "session_id": ["T1", "J1", "J1", "J1", "T1"],
            "seq": [2, 3, 1, 2, 1],
            "shop_id": ["shopT", "shopJ", "shopJ", "shopJ", "shopT"],
            "role": ["buyer", "buyer", "agent", "buyer", "agent"],
            "text": ["t-second", "j-third", "j-first", "j-second", "t-first"],
            "sent_at": pd.to_datetime(
                ["2024-01-01 10:02", "2024-01-01 09:03", None, "2024-01-01 09:02", None]
            ),
        }
    )
    out = conversations_from_messages(rows)
    assert [(c.platform, c.session_id, c.shop_id) for c in out] == [
        ("jd", "J1", "shopJ"),
        ("tmall", "T1", "shopT"),
    ]
    jd, tmall = out
    assert [m.text for m in jd.messages] == ["j-first", "j-second", "j-third"]
    assert [m.role for m in jd.messages] == [ChatRole.AGENT, ChatRole.BUYER, ChatRole.BUYER]
    assert jd.messages[0].ts is None
    assert jd.messages[1].ts == pd.Timestamp("2024-01-01 09:02")
    assert [m.text for m in tmall.messages] == ["t-first", "t-second"]
    assert jd.buyer_turns() == [(1, "j-second"), (2, "j-third")]


def test_conversations_from_messages_without_shop_or_time_columns():
    rows = pd.DataFrame(
        {
            "platform": ["jd", "jd"],
            "session_id": ["S1", "S1"],
            "seq": [1, 0],
            "role": ["buyer", "agent"],
            "text": ["b", "a"],
        }
    )
    [conversation] = conversations_from_messages(rows)
    assert conversation.shop_id is None
    assert [m.text for m in conversation.messages] == ["a", "b"]
    assert all(m.ts is None for m in conversation.messages)


def test_conversations_from_messages_missing_shop_is_none():
    rows = pd.DataFrame(
        {
            "platform": ["jd"],
            "session_id": ["S1"],
            "seq": [0],
            "shop_id": [None],
            "role": ["buyer"],
            "text": ["在吗"],
        }
    )
    assert conversations_from_messages(rows)[0].shop_id is None


def test_conversations_from_no_messages_is_empty():
    empty = pd.DataFrame(columns=["platform", "session_id", "seq", "role", "text"])
    assert conversations_from_messages(empty) == []

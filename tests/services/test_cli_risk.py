"""`butler risk classify` on files with bad lines: each reported with its number and reason,
the others scored; `butler risk patrol` and `butler risk ack` as a supervisor uses them. The
registered model is replaced by a small classifier fitted here, or a keyword fake."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

import services.risk
from features.chats import MAX_MESSAGES, ChatMessage, Conversation
from features.schema.vocab import ChatRole, Platform, RiskLabel, Severity
from features.store import Store
from models.chat_risk import RiskClassifier
from services.cli import app

COMPLAINT = ["我要去12315投诉你们", "再不处理我就打12315", "我要投诉你们", "我去消协投诉你们"]
PLAIN = ["请问什么时候发货", "有没有红色的", "这个尺码合适吗", "好的谢谢", "可以开发票吗"]


@pytest.fixture(scope="module")
def small_model() -> RiskClassifier:
    training = [
        Conversation(
            session_id=f"T{i}",
            messages=[
                ChatMessage(role=ChatRole.BUYER, text=PLAIN[i % len(PLAIN)]),
                ChatMessage(role=ChatRole.BUYER, text=(COMPLAINT + PLAIN)[i % 9]),
            ],
        )
        for i in range(45)
    ]
    return RiskClassifier().fit(training)


@pytest.fixture
def classify(settings, small_model, monkeypatch, tmp_path):
    """Runs `butler risk classify` on the given lines; returns the result and the lines out."""
    monkeypatch.setattr(services.risk, "load_risk_model", lambda _settings: small_model)

    def run(lines: list[dict | str]):
        source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        source.write_text(
            "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
            + "\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(
            app,
            ["--home", str(settings.home), "risk", "classify", "--in", str(source),
             "--out", str(out)],
        )  # fmt: skip
        written = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        return result, [json.loads(line) for line in written]

    return run


def _line(session_id: str, text: str = "我要投诉你们", **fields: object) -> dict:
    return {"session_id": session_id, "messages": [{"role": "buyer", "text": text}], **fields}


def test_a_blank_session_is_skipped_by_number_an_unknown_platform_scored(classify):
    result, scored = classify(
        [
            _line("A", platform="jd"),
            _line("B", platform="amazon"),
            _line("   ", platform="jd"),
            _line("C", platform="TMALL "),
            _line("D", platform=None),
        ]
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    known = ", ".join(p.value for p in Platform.channels())
    assert (
        f"line 2 scored, but platform 'amazon' is none of Butler's channels ({known}): scored "
        "without one; the output keeps it as written" in output
    )
    assert (
        "line 3 skipped: session_id: must not be empty or blank; give the conversation's "
        "session id" in output
    )
    assert "4 conversations scored" in output and "1 lines skipped" in output
    assert [s["session_id"] for s in scored] == ["A", "B", "C", "D"]
    assert scored[1]["platform"] == "amazon"
    assert all("risks" in s and "risk_score" in s for s in scored)


def test_extra_keys_in_a_file_are_kept_as_given_not_refused(classify):
    line = _line("A", platform="jd", ticket="T-7")
    line["messages"][0] |= {"txt": "x", "msg_id": 3}
    result, [scored] = classify([line])
    assert result.exit_code == 0, result.output
    assert scored["ticket"] == "T-7" and scored["messages"][0]["msg_id"] == 3


def test_characters_that_show_nothing_do_not_move_a_file_line_score(classify):
    result, scored = classify(
        [_line("A", "我要去12315投诉你们"), _line("A", "\ufeff我要去12315投\u200b诉\u00ad你们")]
    )
    assert result.exit_code == 0, result.output
    assert scored[0]["risks"] != []
    assert (scored[0]["risks"], scored[0]["risk_score"]) == (
        scored[1]["risks"],
        scored[1]["risk_score"],
    )


def test_a_file_of_only_bad_lines_exits_1(classify):
    result, scored = classify([_line(" "), {"session_id": "B", "messages": [{"role": "x"}]}])
    assert result.exit_code == 1 and scored == []
    assert "line 1 skipped" in result.output and "line 2 skipped" in result.output
    assert "No line of" in result.output


def _risky_line(session_id: str, messages: list, **fields: object) -> dict:
    return {"session_id": session_id, "messages": messages, **fields}


def test_lines_over_the_limits_are_scored_shortened_and_said(classify):
    filler = [{"role": "buyer", "text": "好的谢谢"}] * (MAX_MESSAGES + 20)
    late = filler + [{"role": "买家", "text": "我要去12315投诉你们"}]
    long = "我要去12315投诉你们" * 500  # 5,500 characters
    result, scored = classify(
        [
            _risky_line("late", late),
            _risky_line(
                "long", [{"role": "客服", "text": "您好"}, {"role": "buyer", "text": long}]
            ),
            _risky_line("plain", ["亲,请问有什么可以帮您", "我要去12315投诉你们"]),
        ]
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "3 conversations scored, 3 with a risk; 0 lines skipped" in output
    assert f"line 1 scored, but shortened: kept the last {MAX_MESSAGES} of 521 messages" in output
    assert "line 2 scored, but shortened: message(s) 1 over 5,000 characters" in output
    assert "line 3 scored, but messages are plain strings: roles guessed" in output
    # evidence indices count the messages of the line as written, not as read
    assert [r["evidence"] for r in scored[0]["risks"]] == [[MAX_MESSAGES + 20]]
    assert [r["evidence"] for r in scored[1]["risks"]] == [[1]]
    assert [r["evidence"] for r in scored[2]["risks"]] == [[1]]
    assert len(scored[0]["messages"]) == 521 and scored[1]["messages"][1]["text"] == long


def test_a_repeated_session_is_scored_on_each_line_with_one_warning(classify):
    result, scored = classify(
        [
            _line("A"),
            _line("B"),
            _line("A", "请问什么时候发货"),
            _line("A"),
            _line("A", platform="jd"),
        ]
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert [s["session_id"] for s in scored] == ["A", "B", "A", "A", "A"]
    assert output.count("warning:") == 1
    assert "2 lines repeat a session of an earlier line (A, A; lines 3, 4)" in output


def test_a_pretty_printed_file_is_refused_once(classify):
    pretty = json.dumps(_line("A"), ensure_ascii=False, indent=2)
    result, scored = classify([pretty])
    assert result.exit_code == 1 and scored == []
    output = " ".join(result.output.split())
    assert "not valid JSON" not in output
    assert output.count("1 JSON document spread over") == 1 and "jq -c ." in output


# -- `butler risk patrol` and `butler risk ack` ------------------------------------------------


class _Names12315:
    """Flags a regulator-complaint threat in every buyer message naming 12315."""

    version_ = "kw-1"

    def assess(self, conversations: list[Conversation]) -> list[SimpleNamespace]:
        out = []
        for conv in conversations:
            hits = [
                i
                for i, m in enumerate(conv.messages)
                if m.role is ChatRole.BUYER and "12315" in m.text
            ]
            risk = SimpleNamespace(
                scenario=RiskLabel.COMPLAINT_THREAT,
                probability=0.9,
                severity=Severity.HIGH,
                evidence=hits,
            )
            out.append(
                SimpleNamespace(
                    session_id=conv.session_id,
                    platform=conv.platform,
                    risks=[risk] if hits else [],
                    risk_score=0.9 if hits else 0.0,
                )
            )
        return out


@pytest.fixture
def supervisor(settings, monkeypatch):
    """Runs `butler risk …` over the chats it is told of, with the keyword fake registered."""
    monkeypatch.setattr(services.risk, "load_risk_model", lambda _settings: _Names12315())
    monkeypatch.setattr(services.risk, "patrol_label", lambda _settings, model: model.version_)

    def say(session_id: str, *turns: tuple[str, str]) -> None:
        """Append (role, text) turns to a tmall session, as a later export would."""
        with Store.open(settings) as store:
            start = store.sql(
                "SELECT coalesce(max(seq) + 1, 0) FROM chat_messages WHERE session_id = ?",
                [session_id],
            ).fetchall()[0][0]
            store.upsert(
                "chat_messages",
                pd.DataFrame(
                    {
                        "platform": "tmall",
                        "session_id": session_id,
                        "seq": range(start, start + len(turns)),
                        "shop_id": "shop1",
                        "role": [role for role, _ in turns],
                        "sent_at": pd.Timestamp("2024-06-01 08:00"),
                        "text": [text for _, text in turns],
                        "source_file": "tmall_chats.csv",
                    }
                ),
            )

    def run(*args: str):
        result = CliRunner().invoke(app, ["--home", str(settings.home), "risk", *args])
        return result, " ".join(result.output.split())  # rich wraps long lines

    return SimpleNamespace(say=say, run=run)


def test_patrol_says_which_alerts_it_opened_again(supervisor):
    supervisor.say("T1", ("buyer", "我要去12315投诉你们"), ("agent", "亲,马上处理"))
    result, said = supervisor.run("patrol")
    assert result.exit_code == 0, result.output
    assert "1 new alert, 0 reopened, 1 open in all." in said
    result, said = supervisor.run("ack", "tmall", "T1", "--scenario", " Complaint_Threat")
    assert result.exit_code == 0, result.output
    assert "1 alert(s) acknowledged." in said
    supervisor.say("T1", ("buyer", "还不处理是吧"))  # nothing new of a complaint threat
    result, said = supervisor.run("patrol")
    assert "0 new alerts, 0 reopened, 0 open in all." in said
    supervisor.say("T1", ("agent", "亲,在处理"), ("buyer", "12315已经打了"))
    result, said = supervisor.run("patrol")
    assert result.exit_code == 0, result.output
    assert "0 new alerts, 1 reopened, 1 open in all." in said
    assert "This patrol's new and reopened alerts, most urgent first (1 of 1)" in said
    assert "msg 0,4: 12315已经打了" in said


def test_ack_names_the_session_a_supervisor_meant_in_another_letter_case(supervisor):
    supervisor.say("T1", ("buyer", "我要去12315投诉你们"))
    supervisor.run("patrol")
    result, said = supervisor.run("ack", "tmall", "t1", "--scenario", "complaint_threat")
    assert result.exit_code == 1
    assert "no risk alert for scenario `complaint_threat` in session `t1`" in said
    assert "Did you mean `T1`?" in said
    result, said = supervisor.run("ack", "tmall", "T1", "--scenario", "COMPLAINT_threat ")
    assert result.exit_code == 0 and "1 alert(s) acknowledged." in said

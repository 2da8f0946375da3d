"""Chat risk end to end: store chats → `butler train risk` → classify a JSONL file → patrol →
`butler eval risk`; and training with a (tiny, fake) chat pool and its hand-labelled sets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.store import Store
from services.cli import app
from services.registry import ModelNotRegisteredError, model_versions
from services.risk import load_risk_model


@pytest.fixture
def chat_home(settings, chat_world):
    with Store.open(settings) as store:
        truth = chat_world.write(store)
    return settings, truth


def invoke(settings, *args: str):
    return CliRunner().invoke(app, ["--home", str(settings.home), *args])


def test_classify_before_training_names_the_command(chat_home, tmp_path):
    settings, _ = chat_home
    with pytest.raises(ModelNotRegisteredError, match="butler train risk"):
        load_risk_model(settings)
    source = tmp_path / "in.jsonl"
    source.write_text('{"session_id": "a", "messages": [{"role": "buyer", "text": "hi"}]}\n')
    result = invoke(settings, "risk", "classify", "--in", str(source), "--out", "o.jsonl")
    assert result.exit_code == 1 and "butler train risk" in result.output


def test_train_classify_patrol_and_evaluate(chat_home, tmp_path):
    settings, truth = chat_home
    result = invoke(settings, "train", "risk")
    assert result.exit_code == 0, result.output
    assert "Registered butler-chat-risk" in result.output
    (listed,) = model_versions(settings, "butler-chat-risk")
    with Store.open(settings, read_only=True) as store:
        sessions, newest = store.sql(
            "SELECT count(DISTINCT (platform, session_id)), max(sent_at)::DATE FROM chat_messages"
        ).fetchall()[0]
    assert listed.trained_on == f"{sessions:,} store chats to {newest}"

    lines = [
        {
            "session_id": "c1",
            "platform": "jd",
            "ticket": "T-7",  # a field Butler does not know is kept as given
            "messages": [
                {"role": "buyer", "text": "请问什么时候发货"},
                {"role": "agent", "text": "亲，您好，投诉请拨打热线哦"},
                {"role": "buyer", "text": "东西到了，是假货吧"},
                {"role": "buyer", "text": "再不处理我就打12315投诉你们"},
            ],
        },
        "this is not json",
        {"session_id": "c2", "messages": []},
        {"session_id": "c3", "messages": [{"role": "narrator", "text": "x"}]},
        {"session_id": "c4", "messages": [{"role": "buyer", "text": "有没有优惠券"}]},
        {"session_id": "c5", "messages": [{"role": "buyer", "text": "My lawyer will call."}]},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = invoke(settings, "risk", "classify", "--in", str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "line 2 skipped" in result.output and "line 3 skipped" in result.output
    assert "line 4 skipped" in result.output and "messages.0.role" in result.output
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [s["session_id"] for s in scored] == ["c1", "c4", "c5"]
    # scored, but said to be unread: the classifier reads Chinese
    assert "line(s) 6 hold no Chinese" in " ".join(result.output.split())
    assert scored[0]["ticket"] == "T-7" and scored[0]["messages"][1]["role"] == "agent"
    risks = {r["scenario"]: r for r in scored[0]["risks"]}
    assert {"complaint_threat", "counterfeit"} <= set(risks)
    assert risks["complaint_threat"]["evidence"] == [3]  # the buyer's turn, not the agent's
    assert risks["counterfeit"]["evidence"] == [2]
    assert risks["complaint_threat"]["severity"] == "high"
    assert scored[1]["risks"] == [] and scored[0]["risk_score"] > scored[1]["risk_score"]

    # nothing scorable is a failure, not "0 conversations scored" and exit 0
    source.write_text('not json\n["a list"]\n', encoding="utf-8")
    result = invoke(settings, "risk", "classify", "--in", str(source), "--out", str(out))
    assert result.exit_code == 1 and "line 2 skipped" in result.output
    assert "No line of" in result.output
    result = invoke(settings, "risk", "classify", "--in", str(tmp_path), "--out", str(out))
    assert result.exit_code == 1 and "is a folder" in result.output

    before = invoke(settings, "status")
    assert "Chat risk alerts: none raised. `butler risk patrol` scans" in before.output
    first = invoke(settings, "risk", "patrol")
    assert first.exit_code == 0, first.output
    assert "120 sessions" in first.output
    said = " ".join(first.output.split())
    assert "This patrol's new alerts, most urgent first" in said and " open in all." in said
    again = invoke(settings, "risk", "patrol")
    assert "0 sessions" in again.output and "0 new alerts" in again.output
    assert "Open alerts, most urgent first" in again.output
    listed = invoke(settings, "risk", "alerts", "--status", "all", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    said = " ".join(listed.output.split())
    open_alerts = int(said.split(" open, ")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert "most urgent first: 2 of" in said and "┃ status ┃" in listed.output
    assert f"2 of {open_alerts:,}" in said and "0 acknowledged" in said
    with Store.open(settings, read_only=True) as store:
        first_alert = store.sql("SELECT platform, session_id FROM risk_alerts LIMIT 1").fetchall()
    ((platform, session),) = first_alert
    acked = invoke(settings, "risk", "ack", platform, session)
    unknown = invoke(settings, "risk", "ack", "亚马逊", session)
    assert unknown.exit_code == 1 and "must name sales channels" in " ".join(unknown.output.split())
    assert acked.exit_code == 0 and "alert(s) acknowledged." in acked.output
    from features.schema.vocab import PLATFORM_NAMES, Platform

    chinese = PLATFORM_NAMES[Platform(platform)][0].split("/")[0]  # 京东 for jd
    again = invoke(settings, "risk", "ack", chinese, session)
    assert again.exit_code == 0 and "had been acknowledged (or withdrawn) already" in again.output
    n_acked = int(acked.output.split(" alert(s)")[0].split()[-1])
    status = " ".join(invoke(settings, "status").output.split())
    assert f"Chat risk alerts: {open_alerts - n_acked:,} open, {n_acked:,} acknowledged." in status

    # the queue narrowed as a supervisor asks for it, with the conversation's last message
    narrowed = invoke(settings, "risk", "alerts", "--severity", "high", "--platform", "京东",
                      "--since", "2020-01-01", "--limit", "500")  # fmt: skip
    assert narrowed.exit_code == 0, narrowed.output
    said = " ".join(narrowed.output.split())
    assert "(filtered)" in said and "last message" in said and "medium" not in said
    bad = invoke(settings, "risk", "alerts", "--scenario", "fire")
    assert bad.exit_code == 1 and "must be a risk scenario" in " ".join(bad.output.split())
    # retrained: the queue is the old classifier's until a rescan reads it all again
    retrained = invoke(settings, "train", "risk")
    assert "raised by an earlier classifier" in " ".join(retrained.output.split())
    plain = " ".join(invoke(settings, "risk", "patrol").output.split())
    assert "0 sessions" in plain and "--rescan" in plain
    assert "raised by an earlier chat-risk classifier" in invoke(settings, "status").output
    rescan = " ".join(invoke(settings, "risk", "patrol", "--rescan").output.split())
    assert "120 sessions" in rescan and " withdrawn, " in rescan and "--rescan" not in rescan
    assert "earlier chat-risk classifier" not in invoke(settings, "status").output

    truth_csv = tmp_path / "truth.csv"
    truth.to_csv(truth_csv, index=False)
    figures = tmp_path / "figures.json"
    result = invoke(
        settings, "eval", "risk", "--store-truth", str(truth_csv), "--json", str(figures)
    )
    assert result.exit_code == 0, result.output
    store_figures = json.loads(figures.read_text())["store vs truth"]
    assert store_figures["conversations"] == 120
    assert store_figures["model"]["macro_f1"] > 0.9
    assert store_figures["model"]["complaint_threat_recall"] == 1.0

    # a truth file of another store, a missing one, an empty one: each says what is wrong
    other = truth.assign(session_id="other-" + truth["session_id"].astype(str))
    other.to_csv(truth_csv, index=False)
    result = invoke(settings, "eval", "risk", "--store-truth", str(truth_csv))
    assert result.exit_code == 1 and "None of the store's 120 conversations" in result.output
    result = invoke(settings, "eval", "risk", "--store-truth", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1 and "no such file" in result.output
    truth_csv.write_bytes(b"")
    result = invoke(settings, "eval", "risk", "--store-truth", str(truth_csv))
    assert result.exit_code == 1 and "cannot be read" in result.output


def test_eval_needs_a_labelled_set(chat_home):
    settings, _ = chat_home
    result = invoke(settings, "eval", "risk")
    assert result.exit_code == 1 and "--pool" in result.output


def _fake_pool(folder: Path, world) -> None:
    risky = [t for texts in world.RISKY.values() for t in texts]
    stc3 = pd.DataFrame(
        {
            "id": [f"stc3:{i}" for i in range(40)],
            "turns": [
                [
                    {"role": "buyer", "text": world.ORDINARY[i % 5]},
                    {"role": "agent", "text": world.AGENT[0]},
                    {"role": "buyer", "text": risky[i % len(risky)] if i % 2 else "好的谢谢"},
                ]
                for i in range(40)
            ],
        }
    )
    stc3.to_parquet(folder / "stc3_train.parquet")
    jddc = pd.DataFrame({"id": ["jddcwin:train:1"], "context": [["快递丢了", "亲亲稍等哦"]]})
    jddc.to_parquet(folder / "jddc_windows.parquet")
    ecd = pd.DataFrame({"id": ["ecd:1"], "context": [["有货吗"]], "response": ["亲有的哦"]})
    ecd.to_parquet(folder / "ecd_sample.parquet")
    pd.DataFrame({"id": ["r1", "r2"], "review": ["假货差评", "很好"], "label": [0, 1]}).to_parquet(
        folder / "reviews.parquet"
    )


def test_training_with_a_pool_chooses_thresholds_on_the_hand_labelled_set(
    chat_home, chat_world, tmp_path, monkeypatch
):
    import features.corpora as corpora
    from training.risk import train

    settings, _ = chat_home
    pool = tmp_path / "pool"
    pool.mkdir()
    _fake_pool(pool, chat_world)
    risky = [t for texts in chat_world.RISKY.values() for t in texts]

    def table(name: str = "dev") -> pd.DataFrame:
        ids = range(0, 20) if name == "dev" else range(20, 30)
        rows = []
        for i in ids:
            text = risky[i % len(risky)] if i % 2 else None
            label = next((k for k, v in chat_world.RISKY.items() if text in v), "") if text else ""
            rows.append(
                {
                    "id": f"stc3:{i}",
                    "labels": label,
                    "evidence": json.dumps({label: [2]}) if label else "{}",
                    "buyer_indices": "",
                    "note": "",
                }
            )
        return pd.DataFrame(rows)

    monkeypatch.setattr(corpora, "labels_table", table)
    run = train(settings, pool=pool)
    # the 30 labelled conversations are held out of the weakly labelled pool
    assert run.sizes["pool_conversations"] == 40 - 30 + 1 + 1 + 2
    assert run.sizes["hand_conversations"] == 10 and run.sizes["dev_conversations"] == 20
    assert run.dev_report is not None and run.dev_report.macro_f1 > 0.8
    model = load_risk_model(settings)
    assert {k.value: v for k, v in model.thresholds_.items()} == run.thresholds
    # a scenario absent from the hand-labelled set keeps the default threshold
    assert run.thresholds["safety_injury"] == model.config.default_threshold


class _NoRisk:
    """A stand-in classifier (no training needed): every conversation scores 0.5, no risk."""

    def assess(self, conversations):
        from models.chat_risk import RiskAssessment

        return [
            RiskAssessment(
                session_id=c.session_id,
                platform=c.platform,
                risks=[],
                risk_score=0.5,
                probabilities={},
            )
            for c in conversations
        ]


def test_a_line_that_is_not_utf8_is_reported_and_the_others_are_scored(tmp_path):
    from services.risk import classify_file

    def line(session: str, text: str) -> str:
        record = {"session_id": session, "messages": [{"role": "buyer", "text": text}]}
        return json.dumps(record, ensure_ascii=False) + "\n"

    source = tmp_path / "in.jsonl"
    source.write_bytes(
        line("u1", "请问什么时候发货").encode("utf-8")
        + line("g2", "再不处理我就投诉").encode("gbk")  # one line pasted from a GBK export
        + b"this is not json\n"
        + line("u4", "有没有优惠券").encode("utf-8")
    )
    out = tmp_path / "out.jsonl"
    report = classify_file(_NoRisk(), source, out)

    assert report.scored == 2
    assert [(p.line, p.reason.split(" (")[0]) for p in report.problems] == [
        (2, "not UTF-8"),
        (3, "not valid JSON"),
    ]
    assert "re-save the file as UTF-8" in report.problems[0].reason
    scored = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [s["session_id"] for s in scored] == ["u1", "u4"]
    assert scored[0]["messages"][0]["text"] == "请问什么时候发货"

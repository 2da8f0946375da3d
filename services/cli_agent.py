"""`butler ask`, `butler chat`, `butler train planner`, `butler eval agent`: the business butler."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from features.errors import ButlerError
from services._console import (
    Promote,
    _fail,
    _output_file,
    _progress,
    _registered,
    _settings,
    console,
    err_console,
)

#: What `butler demo` asks the butler at the end, in both languages, with a follow-up.
DEMO_QUESTIONS = (
    ("上周天猫卖得最好的是哪个？", "demo"),
    ("那京东呢？", "demo"),
    ("上周抖音哪个 SKU 卖爆了？", None),
    ("华东仓的 SKU SYSK01003-04 下周要补多少？", None),
    ("How many of our Tmall members are also on JD?", None),
    ("今天有哪些高风险客诉？", None),
    ("Which SKUs are about to oversell?", None),
    ("What's the weather tomorrow?", None),
)


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    conversation: Annotated[
        str | None,
        typer.Option("--conversation", "-c", help="Conversation id: follow-ups remember it."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
) -> None:
    """Ask the business butler a question about sales, stock, members or chat risk.

    Without an LLM endpoint (OPENAI_BASE_URL) the offline planner answers and says so.
    Exits with status 1 when every tool the butler called failed (the answer says why).

    Examples:
        butler ask "上周抖音哪个 SKU 卖爆了？"
        butler ask "上周天猫卖得最好的是哪个？" -c team1 && butler ask "那京东呢？" -c team1
        butler ask "how many of our Tmall members are also on JD?" --json
    """
    from services.agent.runtime import ButlerAgent

    settings = _settings(ctx)
    try:
        answer = ButlerAgent(settings).ask(question, conversation)
    except ButlerError as exc:
        if as_json:
            sys.stdout.write(json.dumps({"error": str(exc)}, ensure_ascii=False) + "\n")
            raise typer.Exit(code=1) from exc
        raise _fail(str(exc)) from exc
    if as_json:
        sys.stdout.write(json.dumps(answer.for_cli(), ensure_ascii=False) + "\n")
    else:
        console.print(answer.answer, markup=False, highlight=False)
    if answer.tool_calls and not any(call.ok for call in answer.tool_calls):
        raise typer.Exit(code=1)  # the answer says why: e.g. an unknown SKU


def chat(
    ctx: typer.Context,
    conversation: Annotated[
        str | None, typer.Option("--conversation", "-c", help="Conversation id to continue.")
    ] = None,
) -> None:
    """Talk to the business butler; an empty line or Ctrl-D ends the session."""
    import secrets

    from services.agent.runtime import ButlerAgent

    settings = _settings(ctx)
    conversation = conversation or f"chat-{secrets.token_hex(4)}"
    agent = ButlerAgent(settings)
    err_console.print(f"Conversation {conversation}. Empty line or Ctrl-D to stop.")
    while True:
        try:
            question = console.input("[bold]> [/]")
        except (EOFError, KeyboardInterrupt):
            break
        if not question.strip():
            break
        try:
            answer = agent.ask(question, conversation)
        except ButlerError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            continue
        console.print(answer.answer, markup=False, highlight=False)


def train_planner(ctx: typer.Context, promote: Promote = True) -> None:
    """Train the offline planner's intent model on its example questions and register it."""
    from training.planner import train_planner as train

    settings = _settings(ctx)
    try:
        with _progress(transient=True) as progress:
            progress.add_task("Training the intent model", total=None)
            run = train(settings, promote=promote)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"Intent model: {run.examples:,} example questions from {run.templates} templates; "
        f"cross-validated accuracy {run.cv_accuracy:.3f} (templates kept whole per fold)."
    )
    console.print(_registered(run.registered))


def demo_ask(ctx: typer.Context) -> None:
    """Ask the butler the demo's questions and print each answer (the main job's last step)."""
    from services.agent.runtime import ButlerAgent

    settings = _settings(ctx)
    agent = ButlerAgent(settings)
    conversation_ids: dict[str, str] = {}
    try:
        for question, conversation in DEMO_QUESTIONS:
            if conversation is not None:  # a fresh conversation per demo run
                conversation_ids.setdefault(conversation, f"demo-{time.time_ns()}")
            started = time.perf_counter()
            answer = agent.ask(question, conversation_ids.get(conversation or ""))
            ms = (time.perf_counter() - started) * 1000
            tools = ", ".join(c.name for c in answer.tool_calls) or "no tool"
            console.print(
                f"[bold]> {escape(question)}[/]  [dim]({answer.mode}, {tools}, {ms:.0f} ms)[/]"
            )
            console.print(answer.answer, markup=False, highlight=False)
            console.print()
    except ButlerError as exc:
        raise _fail(str(exc)) from exc


def eval_agent(
    ctx: typer.Context,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")
    ] = None,
    questions_path: Annotated[
        Path | None,
        typer.Option("--questions", help="Another question file (default: the held-out set)."),
    ] = None,
    failures: Annotated[
        int, typer.Option(help="Failed questions to list (0 for the held-out set's figures only).")
    ] = 0,
) -> None:
    """Score the butler on the operator question set (evaluation/agent_questions.yaml).

    Runs against the store under the Butler home, which must be the sample world
    (`butler demo`); the true answers are computed there by the set's own SQL. Uses the LLM
    endpoint when one is configured, else the offline planner.
    """
    import hashlib

    from evaluation.agent_eval import evaluate, load_questions
    from features.store import Store
    from services.agent.runtime import ButlerAgent

    _output_file(json_path, "--json")
    settings = _settings(ctx)
    questions = load_questions(questions_path)
    agent = ButlerAgent(settings)

    def sql(query: str) -> list[tuple]:
        with Store.open(settings, read_only=True) as store:
            return store.sql(query).fetchall()

    def fingerprint() -> str:
        with Store.open(settings, read_only=True) as store:
            tables = [r[0] for r in store.sql(
                "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]  # fmt: skip
            digest = hashlib.sha256()
            for table in tables:
                row = store.sql(f"SELECT count(*), sum(hash(t)) FROM {table} t")
                digest.update(f"{table}:{row.fetchall()[0]}".encode())
        return digest.hexdigest()

    def ask_json(question: str, conversation_id: str | None) -> dict:
        return agent.ask(question, conversation_id).for_cli()

    try:
        started = time.perf_counter()
        agent.warm_up()
        warm = time.perf_counter() - started
        with _progress(transient=True) as progress:
            progress.add_task(f"Asking {len(questions)} questions", total=None)
            report = evaluate(ask_json, sql, questions, fingerprint=fingerprint)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    mode = "llm" if settings.llm_configured else "offline"
    console.print(f"Mode {mode}; models and master data loaded in {warm:.1f} s before timing.")
    for line in report.table():
        console.print(line, markup=False, highlight=False)
    for line in report.failures()[:failures]:
        console.print(line, markup=False, highlight=False)
    if json_path:
        body = json.loads(report.to_json()) | {"mode": mode, "warm_up_seconds": warm}
        json_path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str))
        console.print(f"Figures written to {escape(str(json_path))}.")

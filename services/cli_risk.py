"""`butler train risk`, `butler eval risk` and `butler risk …`: the chat risk commands."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from features.errors import ButlerError
from features.text import counted
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

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from evaluation.risk import RiskEvaluation
    from features.chats import LineNote
    from features.corpora import LabelledSet
    from features.settings import Settings
    from features.store import Store
    from models.risk_metrics import RiskReport

risk_app = typer.Typer(help="Customer-chat risk: classify conversations, patrol the store.")

_POOL_HELP = "The real chat pool folder (../shared/data/chats): hand-labelled sets, more text."


def _print_report(title: str, model: RiskReport, keywords: RiskReport | None = None) -> None:
    table = Table(title=title)
    for column in ("scenario", "severity", "support", "P", "R", "F1"):
        table.add_column(column, justify="left" if column in ("scenario", "severity") else "right")
    if keywords is not None:
        table.add_column("rules F1", justify="right")
    rules = keywords.per_label.set_index("label") if keywords is not None else None
    for row in model.per_label.itertuples():
        if row.support == 0 and row.predicted == 0:
            continue
        cells = [row.label, row.severity, str(row.support)]
        cells += [f"{getattr(row, m):.2f}" for m in ("precision", "recall", "f1")]
        if rules is not None:
            cells.append(f"{rules.at[row.label, 'f1']:.2f}")
        table.add_row(*cells)
    console.print(table)
    line = (
        f"macro F1 {model.macro_f1:.3f} · micro F1 {model.micro_f1:.3f} · "
        f"top-{model.k} precision {model.top_k_precision:.2f} · "
        f"lowest high-severity recall {model.high_recall_min:.2f}"
    )
    if model.brier == model.brier:  # not nan: the model's probabilities were scored
        line += (
            f"\ncalibration: alerts shown at {model.alert_probability:.2f} on average are "
            f"right {model.alert_precision:.0%} of the time · calibration error "
            f"{model.calibration_error:.3f} · Brier {model.brier:.4f}"
        )
    if keywords is not None:
        line += (
            f"\nkeyword rules: macro F1 {keywords.macro_f1:.3f} · micro F1 "
            f"{keywords.micro_f1:.3f} · top-{keywords.k} precision {keywords.top_k_precision:.2f}"
        )
    console.print(line)


def train_risk(
    ctx: typer.Context,
    pool: Annotated[Path | None, typer.Option(help=_POOL_HELP)] = None,
    promote: Promote = True,
) -> None:
    """Fit the chat risk classifier on the store's conversations and register it.

    Buyer messages are labelled by the labelling functions (weak supervision); with
    --pool, the real pool's conversations join, the conversation stage learns from the
    hand-labelled training set, the per-scenario thresholds are chosen on that set scored
    out of fold, and the hand-labelled development set is scored.

    Examples:
        butler train risk
        butler train risk --pool ../shared/data/chats
        butler train risk --pool ../shared/data/chats --no-promote
    """
    from training.risk import train

    settings = _settings(ctx)
    try:
        with _progress() as progress:
            progress.add_task("Training the chat risk classifier", total=None)
            run = train(settings, pool=pool, promote=promote)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    console.print(", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in run.sizes.items()))
    if run.dev_report is not None:
        _print_report("Development set, at the chosen thresholds", run.dev_report)
    console.print(_registered(run.registered, fitted_seconds=run.fit_seconds))
    if promote:
        _rescan_hint(settings)
    if run.undetected:
        names = ", ".join(s.replace("_", " ") for s in run.undetected)
        console.print(
            f"[yellow]This model can never raise {len(run.undetected)} scenario(s)[/]: "
            f"{escape(names)}: the chats it learnt from hold too few examples of them. Train "
            "on more chat history, or add the real chat pool with --pool "
            "../shared/data/chats."
        )


def eval_risk(
    ctx: typer.Context,
    pool: Annotated[
        Path | None, typer.Option(help=_POOL_HELP + " Scores its development set.")
    ] = None,
    store_truth: Annotated[
        Path | None,
        typer.Option(help="A chat truth CSV (the sample world's _truth/chats_truth.csv)."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON here.")
    ] = None,
) -> None:
    """Score the registered classifier and the keyword rules on labelled conversations.

    With --pool, the hand-labelled development set; with --store-truth, the store's
    conversations against a truth table. Prints per-scenario precision, recall and F1 of
    both, macro and micro F1, the precision of the top 20 alerts, the figures with
    thresholds chosen on the other half of the set, how often the evidence names a
    message the reader named, and speed (messages per second in batches, p50/p99 of one
    conversation).

    Examples:
        butler eval risk --pool ../shared/data/chats
        butler eval risk --store-truth .butler/sample_world/small-seed0/_truth/chats_truth.csv
    """
    from evaluation.risk import evaluate, read_truth, truth_set
    from features.chats import store_conversations
    from features.corpora import read_labelled_set
    from features.store import Store
    from services.risk import load_risk_model

    if pool is None and store_truth is None:
        raise _fail("Give --pool (the development set) or --store-truth (a truth CSV).")
    _output_file(json_path, "--json")
    settings = _settings(ctx)
    figures = {}
    try:
        model = load_risk_model(settings)
        sets = []
        if pool is not None:
            sets.append(("development set", read_labelled_set(pool, "dev")))
        if store_truth is not None:
            truth = read_truth(store_truth)
            with Store.open(settings, read_only=True) as store:
                conversations = store_conversations(store)
            sets.append(("store vs truth", truth_set(conversations, truth)))
        for name, labelled in sets:
            with _progress(transient=True) as progress:
                progress.add_task(f"Scoring the {name}", total=None)
                result = evaluate(model, labelled)
            figures[name] = _show_evaluation(name, labelled, result)
    except (ButlerError, OSError) as exc:
        raise _fail(str(exc)) from exc
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def _show_evaluation(name: str, labelled: LabelledSet, result: RiskEvaluation) -> dict:
    n = len(labelled.conversations)
    _print_report(
        f"{name}: {n:,} conversations, model vs keyword rules", result.model, result.keywords
    )
    held = result.held_out_thresholds
    console.print(
        f"thresholds chosen on the other half: macro F1 {held.macro_f1:.3f} · micro F1 "
        f"{held.micro_f1:.3f} · top-{held.k} precision {held.top_k_precision:.2f} · lowest "
        f"high-severity recall {held.high_recall_min:.2f}"
    )
    evidence = (
        "no evidence labels"
        if result.evidence_hit_rate != result.evidence_hit_rate  # nan: the set names none
        else f"evidence names a reader's message in {result.evidence_hit_rate:.0%} of true alerts"
    )
    console.print(
        f"{evidence} · {result.messages_per_second:,.0f} messages/s · one conversation p50 "
        f"{result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
    )
    return {
        "conversations": n,
        "model": result.model.summary(),
        "held_out_thresholds": held.summary(),
        "keywords": result.keywords.summary(),
        "evidence_hit_rate": result.evidence_hit_rate,
        "messages_per_second": result.messages_per_second,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
    }


@risk_app.command("classify")
def risk_classify(
    ctx: typer.Context,
    source: Annotated[Path, typer.Option("--in", help="JSONL: one conversation per line.")],
    out: Annotated[Path, typer.Option(help="JSONL written with risks and risk_score added.")],
) -> None:
    """Score each conversation of a JSONL file with the registered classifier.

    Each line is {"session_id", "platform", "messages": [{"role": "buyer"|"agent", "text",
    "ts"}]}; roles may be written as chat tools export them (买家, 客服, customer, seller;
    system and bot messages are read as the agent's side), "text" may be null (an image)
    and "ts" is optional. "platform" is optional; one that is none of Butler's sales
    channels (tmall, jd, …) is scored without one and reported. The output adds "risks"
    (scenario, probability, severity, evidence message indices) and "risk_score".

    Bad lines (not JSON, a blank session_id, an unknown role, …) are reported with their
    number and reason and skipped; the other lines are still scored. A conversation over
    500 messages is scored on its last 500, a message over 5,000 characters on its first
    and last 2,500, and messages given as plain strings get roles guessed from their
    wording: each such line is reported. A session on several lines is scored on each,
    with one warning. A JSON array or pretty-printed JSON is refused once, with the command
    that converts it.

    Examples:
        butler risk classify --in chats.jsonl --out scored.jsonl
    """
    from services.risk import classify_file, load_risk_model

    settings = _settings(ctx)
    if source.is_dir():
        raise _fail(f"--in {source} is a folder; give one JSONL file.")
    if not source.is_file():
        raise _fail(f"--in {source} does not exist.")
    _output_file(out, "--out")
    try:
        model = load_risk_model(settings)
        with _progress(transient=True) as progress:
            progress.add_task(f"Classifying {source.name}", total=None)
            report = classify_file(model, source, out)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    for problem in report.problems:
        err_console.print(f"[yellow]line {problem.line} skipped:[/] {escape(problem.reason)}")
    for note, lines in _lines_by_note(report.notes).items():
        err_console.print(f"[yellow]{_line_list(lines)} scored, but[/] {escape(note)}")
    if report.repeated:
        n = len(report.repeated)
        ids = ", ".join(escape(sid) for _, sid in report.repeated[:5]) + " …" * (n > 5)
        err_console.print(
            f"[yellow]warning:[/] {counted(n, 'line')} {'repeats' if n == 1 else 'repeat'} a "
            f"session of an earlier line ({ids}; {_line_list([k for k, _ in report.repeated])}): "
            "each line is scored as written, so the output holds the session more than once. "
            "A later export of a session usually holds more of it: keep the line you mean."
        )
    if report.not_chinese:
        shown = ", ".join(map(str, report.not_chinese[:10]))
        more = f" and {len(report.not_chinese) - 10:,} more" if len(report.not_chinese) > 10 else ""
        err_console.print(
            f"[yellow]warning:[/] the buyer's turns on line(s) {shown}{more} hold no Chinese: "
            "the classifier learnt from Chinese customer service, so a risk written there "
            "(English, emoji, blank text) may go unread. Read those conversations yourself."
        )
    console.print(
        f"{report.scored:,} conversations scored, {report.flagged:,} with a risk; "
        f"{len(report.problems):,} lines skipped. Written to {escape(str(out))}."
    )
    if report.scored == 0 and report.problems:
        raise _fail(f"No line of {source} could be scored; each line's reason is above.")


def _lines_by_note(notes: Sequence[LineNote]) -> dict[str, list[int]]:
    """The lines of each note, in the order the notes first appear."""
    out: dict[str, list[int]] = {}
    for note in notes:
        out.setdefault(note.note, []).append(note.line)
    return out


def _line_list(lines: Sequence[int], shown: int = 10) -> str:
    """``line 3``, ``lines 3, 7``, ``lines 1, 2, … and 40 more``."""
    more = f" and {len(lines) - shown:,} more" if len(lines) > shown else ""
    return f"line{'s' * (len(lines) > 1)} {', '.join(map(str, lines[:shown]))}{more}"


def _print_queue(
    queue: pd.DataFrame,
    snippets: dict[tuple[str, str, int], str],
    title: str,
    *,
    with_status: bool = False,
) -> None:
    table = Table(title=title)
    columns = ["#", "severity", "scenario", "p", "score", "last message", "platform", "shop",
               "session"]  # fmt: skip
    for column in columns + ["status"] * with_status:
        table.add_column(column)
    table.add_column("evidence", overflow="fold")
    for rank, row in enumerate(queue.itertuples(), start=1):
        seqs = list(row.evidence)
        text = snippets.get((row.platform, row.session_id, seqs[-1]), "") if seqs else ""
        table.add_row(
            str(rank),
            row.severity,
            row.scenario,
            f"{row.probability:.2f}",
            f"{row.risk_score:.2f}",
            _beijing(row.last_message_at),
            row.platform,
            str(row.shop_name or row.shop_id or ""),
            row.session_id,
            *([row.status] if with_status else []),
            f"msg {','.join(map(str, seqs))}: {text}",
        )
    console.print(table)


def _beijing(stamp: object) -> str:
    """A stored UTC time as Beijing's ``2025-12-31 09:30``; blank when unknown."""
    import pandas as pd

    if stamp is None or pd.isna(stamp):
        return ""
    return f"{pd.Timestamp(stamp) + pd.Timedelta(hours=8):%Y-%m-%d %H:%M}"


def _evidence_snippets(store: Store, queue: pd.DataFrame, width: int = 60) -> dict:
    """The latest evidence message of each queued alert (where a conversation escalated),
    cut to ``width`` characters."""
    if queue.empty:
        return {}
    wanted = queue.assign(seq=[list(e)[-1] if len(e) else -1 for e in queue["evidence"]])
    store.con.register("_queue_evidence", wanted[["platform", "session_id", "seq"]])
    try:
        rows = store.sql(
            "SELECT m.platform, m.session_id, m.seq, m.text FROM chat_messages m "
            "JOIN _queue_evidence q USING (platform, session_id, seq)"
        ).fetchall()
    finally:
        store.con.unregister("_queue_evidence")
    return {(p, s, q): (t if len(t) <= width else t[: width - 1] + "…") for p, s, q, t in rows}


@risk_app.command("patrol")
def risk_patrol(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Open alerts to show.")] = 20,
    rescan: Annotated[
        bool,
        typer.Option(
            help="Read every conversation again with the registered classifier (after "
            "`butler train risk`): open alerts get its figures, and those it no longer "
            "finds are withdrawn."
        ),
    ] = False,
) -> None:
    """Scan the conversations that arrived since the last patrol and raise new alerts.

    Incremental and restart-safe: only new sessions, or sessions that gained messages, are
    read; an alert already raised is never raised again. An acknowledged alert opens again
    when its scenario shows in messages added since its session was last read (the
    conversation escalated), not for messages read before. Prints this patrol's new and
    reopened alerts, most urgent first, with the message that drove each (the open queue
    when there are none); `butler risk alerts` lists every open one.

    Examples:
        butler risk patrol
        butler risk patrol --rescan
    """
    from features.store import Store
    from services.risk import load_risk_model, patrol_label
    from services.risk_patrol import alert_queue, patrol

    settings = _settings(ctx)
    try:
        model = load_risk_model(settings)
        with Store.open(settings) as store:
            with _progress() as progress:
                task = progress.add_task("Patrolling new conversations", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                report = patrol(
                    store,
                    model,
                    progress=advance,
                    rescan=rescan,
                    version=patrol_label(settings, model),
                )
            fresh = report.alerts_raised + report.alerts_reopened
            since = report.started_at if fresh else None
            queue = alert_queue(store, limit=limit, raised_since=since)
            snippets = _evidence_snippets(store, queue)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"{counted(report.sessions_scanned, 'session')} "
        f"({counted(report.messages_scanned, 'message')}) scanned in {report.seconds:.1f} s; "
        f"{counted(report.alerts_raised, 'new alert')}, "
        f"{report.alerts_reopened:,} reopened"
        + (f", {counted(report.alerts_withdrawn, 'alert')} withdrawn" if rescan else "")
        + f", {report.alerts_open:,} open in all."
    )
    if report.high_withdrawn:
        console.print(
            f"[yellow]{counted(report.high_withdrawn, 'high-severity alert')} withdrawn[/]: "
            "the registered classifier no longer finds them, which may be its miss. Review "
            "them with `butler risk alerts --status withdrawn --severity high`."
        )
    if report.older_open:
        console.print(
            f"[yellow]{counted(report.older_open, 'open alert')} were raised by an earlier "
            "classifier[/] and keep its figures: `butler risk patrol --rescan` reads every "
            "conversation again with this one."
        )
    if since is None:
        _print_queue(queue, snippets, f"Open alerts, most urgent first (top {limit})")
        return
    shown = min(limit, len(queue))
    which = "new and reopened" if report.alerts_reopened else "new"
    _print_queue(
        queue,
        snippets,
        f"This patrol's {which} alerts, most urgent first ({shown} of {fresh:,})",
    )
    if report.alerts_open > shown:
        console.print("`butler risk alerts` lists every open alert, most urgent first.")


class AlertStatus(StrEnum):
    """Which alerts `butler risk alerts` shows."""

    open = "open"
    acknowledged = "acknowledged"
    withdrawn = "withdrawn"
    all = "all"


class ShownSeverity(StrEnum):
    """Severities `butler risk alerts --severity` takes."""

    high = "high"
    medium = "medium"


@risk_app.command("alerts")
def risk_alerts(
    ctx: typer.Context,
    status: Annotated[AlertStatus, typer.Option(help="Which alerts to show.")] = AlertStatus.open,
    limit: Annotated[int, typer.Option(min=1, help="Alerts to show.")] = 50,
    platform: Annotated[
        list[str] | None,
        typer.Option("--platform", help="Only this platform (jd, 京东; repeat for more)."),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="Only this scenario, e.g. legal_threat (repeat)."),
    ] = None,
    severity: Annotated[
        ShownSeverity | None, typer.Option(help="Only high or medium alerts.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only conversations whose last message is on or after this day."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only conversations whose last message is on or before this day."),
    ] = None,
) -> None:
    """Show the alert queue, most urgent first: high severity, then the newest
    conversations, then the most probable.

    Examples:
        butler risk alerts --status acknowledged
        butler risk alerts --severity high --since 2025-12-30 --platform jd
    """
    from features.store import Store
    from features.views._params import check_date, check_platforms
    from services.risk_patrol import alert_counts, alert_queue

    settings = _settings(ctx)
    try:
        filters = {
            "platforms": check_platforms(platform, func="risk alerts --platform")
            if platform
            else None,
            "scenarios": scenario or None,
            "severity": severity.value if severity else None,
            "since": check_date(since, param="since", func="risk alerts"),
            "until": check_date(until, param="until", func="risk alerts"),
        }
        with Store.open(settings, read_only=True) as store:
            shown = None if status is AlertStatus.all else status.value
            queue = alert_queue(store, status=shown, limit=limit, **filters)
            snippets = _evidence_snippets(store, queue)
            counts = alert_counts(store)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    total = sum(counts.values()) if shown is None else counts[shown]
    narrowed = any(v is not None for v in filters.values())
    title = (
        f"{status.value.capitalize()} alerts, most urgent first: {len(queue):,} of {total:,}"
        + (" (filtered)" if narrowed else "")
    )
    _print_queue(queue, snippets, title, with_status=shown is None)
    if shown is None:
        console.print(", ".join(f"{n:,} {name}" for name, n in counts.items()) + ".")


def _rescan_hint(settings: Settings) -> None:
    """Say so when the open queue was raised by another classifier than the champion."""
    from features.store import Store
    from services.risk import older_queue

    try:
        with Store.open(settings, read_only=True) as store:
            older = older_queue(settings, store)
    except ButlerError:
        return  # no store yet, or a locked one: nothing to say
    if older:
        console.print(
            f"{counted(older, 'open alert')} in the queue were raised by an earlier classifier: "
            "`butler risk patrol --rescan` reads every conversation again with this one."
        )


@risk_app.command("ack")
def risk_ack(
    ctx: typer.Context,
    platform: Annotated[str, typer.Argument(help="Platform, e.g. jd or 京东.")],
    session_id: Annotated[str, typer.Argument(help="The session's id.")],
    scenario: Annotated[
        str | None,
        typer.Option(
            help="Only this scenario, in any letter case (default: all of the session's)."
        ),
    ] = None,
) -> None:
    """Acknowledge a session's open alerts, so they leave the queue.

    An acknowledged alert comes back to the queue when a later patrol finds its scenario
    in messages added to the session afterwards. The session id is matched exactly; when
    it has no alert but one differing only in letter case has, the error names it.

    Examples:
        butler risk ack jd JD20261101001 --scenario refund_dispute
    """
    from features.store import Store
    from features.views._params import check_platforms
    from services.risk_patrol import acknowledge

    settings = _settings(ctx)
    try:
        # 拼多多, Pinduoduo and pinduoduo are one platform; an unknown name is said as such
        (code,) = check_platforms(platform, func="risk ack")
        with Store.open(settings) as store:
            count = acknowledge(store, code, session_id, scenario)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    if count:
        console.print(f"{count} alert(s) acknowledged.")
    else:  # the session has alerts (else acknowledge raised): all acknowledged before
        console.print("0 alert(s) acknowledged: they had been acknowledged (or withdrawn) already.")

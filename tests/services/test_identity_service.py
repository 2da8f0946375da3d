"""Member identity end to end: store → train → register → resolve; a user's list through
`butler members dedupe`; `butler eval identity` on a labelled list; PII masking."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evaluation.identity import evaluate, evaluate_store
from features.errors import (
    ContractViolation,
    InvalidParameterError,
    UnknownEntityError,
    UnreadableFileError,
)
from features.store import Store
from services.cli import app
from services.identity import (
    DEDUPE_COLUMNS,
    dedupe_list,
    explain_accounts,
    resolve_store,
    save_persons,
    write_table,
)
from services.registry import ModelNotRegisteredError, model_versions

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SURNAMES = ["smith", "jones", "brown", "taylor", "wilson", "davies", "evans", "thomas"]
GIVEN = ["james", "mary", "john", "linda", "peter", "susan", "paul", "karen", "mark", "lisa"]


def people_list(n_people: int = 60, seed: int = 1) -> pd.DataFrame:
    """A member list with 1–3 rows per person (typos, missing phones) and the truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_people):
        given, family = rng.choice(GIVEN), rng.choice(SURNAMES)
        phone = f"139{rng.integers(10**7, 10**8)}"
        born = f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}"
        for k in range(int(rng.integers(1, 4))):
            typo = given[:-1] + "e" if k == 2 else given
            rows.append(
                {
                    "record_id": f"r{p}-{k}",
                    "first": typo,
                    "last": family,
                    "mobile": phone if k != 1 else None,
                    "dob": born,
                    "mail": f"{given}.{family}{p}@example.com",
                    "person": f"P{p}",
                }
            )
    return pd.DataFrame(rows)


MAP = (
    "id: record_id\ngiven_name: first\nfamily_name: last\nphone: mobile\nbirth_date: dob\n"
    "email: mail\n"
)


def test_dedupe_keeps_every_row_and_explains_rejections(tmp_path):
    frame = people_list()
    frame.loc[len(frame)] = {"record_id": "r-empty", "person": "none"}  # no usable field
    path = tmp_path / "list.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "map.yaml").write_text(MAP)
    out = dedupe_list(path, tmp_path / "map.yaml")
    assert len(out.rows) == len(frame)
    assert list(out.rows.columns[: len(frame.columns)]) == list(frame.columns)
    empty = out.rows.set_index("record_id").loc["r-empty"]
    assert pd.isna(empty["person_id"]) and "no usable field" in empty["rejected_reason"]
    kept = out.rows[out.rows["rejected_reason"].isna()]
    # rows of one true person share a person id
    assert kept.groupby("person")["person_id"].nunique().max() == 1
    assert out.summary["persons"] == frame["person"].nunique() - 1
    assert out.added_columns == {col: col for col in DEDUPE_COLUMNS} and not out.renamed_columns


def test_dedupe_and_eval_read_ids_a_spreadsheet_stored_as_decimals(tmp_path):
    # a parquet id column of 1.0, 2.0 …: the output used to match "1.0" against the model's
    # "1", leaving every row without a person; eval scored the same list at recall 0
    frame = people_list(20)
    frame["record_id"] = np.arange(1, len(frame) + 1, dtype=float)
    path = tmp_path / "list.parquet"
    frame.to_parquet(path)
    (tmp_path / "map.yaml").write_text(MAP)
    out = dedupe_list(path, tmp_path / "map.yaml")
    assert out.rows["person_id"].notna().all() and out.rows["rejected_reason"].isna().all()
    scored = evaluate(path, tmp_path / "map.yaml", "person")
    assert scored.model["pair_recall"] > 0.5


def test_eval_leaves_out_rows_without_a_truth_label_and_says_so(tmp_path):
    frame = people_list(20)
    frame.loc[:2, "person"] = None
    path = tmp_path / "list.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "map.yaml").write_text(MAP)
    scored = evaluate(path, tmp_path / "map.yaml", "person")
    assert scored.n_records == len(frame) - 3 and "3 rows without a truth label" in scored.data
    frame["person"] = None
    frame.to_csv(path, index=False)
    with pytest.raises(ContractViolation, match="blank on every row"):
        evaluate(path, tmp_path / "map.yaml", "person")


def test_dedupe_never_overwrites_a_column_the_list_already_has(tmp_path, caplog):
    frame = people_list(20)
    frame["person_id"] = "crm-" + frame["person"]  # the user's own ids
    frame["butler_person_id"] = "kept too"
    frame["rejected_reason"] = "the user's note"
    path = tmp_path / "list.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "map.yaml").write_text(MAP)
    with caplog.at_level(logging.WARNING, logger="services.identity"):
        out = dedupe_list(path, tmp_path / "map.yaml")
    assert out.renamed_columns == {
        "person_id": "butler_person_id_2",
        "rejected_reason": "butler_rejected_reason",
    }
    assert list(out.rows.columns) == list(frame.columns) + [
        "butler_person_id_2", "match_probability", "cluster_size", "butler_rejected_reason"
    ]  # fmt: skip
    for col in ("person_id", "butler_person_id", "rejected_reason"):
        assert out.rows[col].tolist() == frame[col].tolist()
    assert out.rows.groupby("person")["butler_person_id_2"].nunique().max() == 1
    assert "butler_person_id_2" in caplog.text and "butler_rejected_reason" in caplog.text


def test_dedupe_a_small_list_the_deterministic_rules_find_no_pair_in(tmp_path, caplog):
    # regression: 8 duplicate pairs (the surname mistyped, so no near-certain rule matches
    # them) and a blank row made splink's prior 0 and `fit` fail with a math domain error
    rows = [
        {"record_id": f"r{p}-{k}", "first": GIVEN[p], "last": SURNAMES[p] + "e" * k,
         "mobile": f"1390000{p:04d}", "dob": None, "mail": None, "person": f"P{p}"}
        for p in range(8)
        for k in range(2)
    ]  # fmt: skip
    frame = pd.DataFrame([*rows, {"record_id": "r-blank", "person": "none"}])
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "map.yaml").write_text(MAP)
    with caplog.at_level(logging.WARNING, logger="models.identity"):
        out = dedupe_list(path, tmp_path / "map.yaml")
    assert len(out.rows) == 17 and len(out.rejected) == 1
    # the EM passes that block no pair here are said once, in a line, not one warning each
    dropped = [r.getMessage() for r in caplog.records if "EM passes dropped" in r.getMessage()]
    assert len(dropped) == 1 and "no pair of records agrees on it" in dropped[0]
    assert "\n" not in dropped[0]
    kept = out.rows[out.rows["rejected_reason"].isna()]
    assert kept.groupby("person")["person_id"].nunique().max() == 1
    assert out.summary["persons"] == 8


def test_dedupe_needs_enough_rows(tmp_path):
    path = tmp_path / "tiny.csv"
    people_list(3).head(4).to_csv(path, index=False)
    (tmp_path / "map.yaml").write_text(MAP)
    with pytest.raises(InvalidParameterError, match="at least 10"):
        dedupe_list(path, tmp_path / "map.yaml")


def test_cli_dedupe_and_eval(tmp_path):
    frame = people_list()
    frame.to_parquet(tmp_path / "list.parquet")
    (tmp_path / "map.yaml").write_text(MAP)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["members", "dedupe", str(tmp_path / "list.parquet"), "--map", str(tmp_path / "map.yaml"),
         "--out", str(tmp_path / "out.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "persons" in result.output
    written = pd.read_csv(tmp_path / "out.csv")
    assert len(written) == len(frame) and "person_id" in written.columns
    result = runner.invoke(
        app,
        ["eval", "identity", "--data", str(tmp_path / "list.parquet"), "--map",
         str(tmp_path / "map.yaml"), "--truth-col", "person", "--json", str(tmp_path / "e.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "e.json").read_text())
    assert figures["model"]["pair_f1"] > figures["rule_phone_or_email"]["pair_recall"] * 0.5
    assert figures["model"]["pair_precision"] >= 0.9
    bad = runner.invoke(
        app,
        ["members", "dedupe", str(tmp_path / "list.parquet"), "--map", str(tmp_path / "map.yaml"),
         "--out", str(tmp_path / "out.txt")],
    )  # fmt: skip
    assert bad.exit_code != 0 and ".csv, .xlsx or .parquet" in " ".join(bad.output.split())
    mapped_truth = tmp_path / "leak.yaml"
    mapped_truth.write_text(MAP + "nickname: person\n")
    leak = runner.invoke(
        app,
        ["eval", "identity", "--data", str(tmp_path / "list.parquet"), "--map", str(mapped_truth),
         "--truth-col", "person"],
    )  # fmt: skip
    assert leak.exit_code != 0 and "must not see the labels" in " ".join(leak.output.split())
    # a list and the store's truth at once, or a list without its map: which to give
    both = runner.invoke(
        app, ["eval", "identity", "--data", "list.parquet", "--store-truth", "truth.csv"]
    )
    said = " ".join(both.output.split())
    assert both.exit_code == 1 and "--store-truth scores the store's members; --data" in said
    half = runner.invoke(app, ["eval", "identity", "--data", "list.parquet"])
    assert half.exit_code == 1 and "(missing: --map, --truth-col)" in " ".join(half.output.split())


def _store_members(store: Store, frame: pd.DataFrame) -> None:
    # a person's k-th record is an account on the k-th platform, registered on day k: one
    # account per platform, recruited on JD first
    k = frame["record_id"].str.rsplit("-", n=1).str[1].astype(int)
    rows = frame.assign(
        platform=np.array(["jd", "tmall", "douyin"])[k],
        platform_user_id=frame["record_id"],
        full_name=frame["first"] + " " + frame["last"],
        phone=frame["mobile"],
        email=frame["mail"],
        birth_date=pd.to_datetime(frame["dob"]).dt.date,
        registered_at=pd.Timestamp("2024-01-01") + pd.to_timedelta(k, unit="D"),
        raw="{}",
        source_file="test",
    )
    cols = ["platform", "platform_user_id", "full_name", "phone", "email", "birth_date",
            "registered_at", "raw", "source_file"]  # fmt: skip
    store.con.register("incoming", rows[cols])
    store.sql(f"INSERT INTO members ({', '.join(cols)}) SELECT * FROM incoming")


def test_train_register_then_resolve_the_store(settings):
    from training.identity import train

    with pytest.raises(ModelNotRegisteredError, match="butler train identity"):
        resolve_store(settings)
    frame = people_list(80)
    with Store.open(settings) as store:
        _store_members(store, frame)
    run = train(settings)
    assert run.registered.name == "butler-identity" and run.summary["accounts"] == len(frame)
    (listed,) = model_versions(settings, "butler-identity")
    assert listed.trained_on.startswith(f"{len(frame):,} member accounts")
    result = resolve_store(settings)
    assert result.summary["persons"] == pytest.approx(frame["person"].nunique(), rel=0.1)
    golden = {"person_id", "full_name", "source_accounts", "cluster_size", "match_probability"}
    assert golden <= set(result.persons.columns)
    assert result.persons["cluster_size"].sum() == len(frame)


def test_resolving_again_keeps_the_persons_ids(settings, tmp_path):
    # marketing keeps person ids in its CRM: a new week's members must not rename anyone
    from training.identity import train

    frame = people_list(80)
    with Store.open(settings) as store:
        _store_members(store, frame)
    train(settings)
    first = resolve_store(settings)
    assert first.person_ids["kept"] == 0 and first.person_ids["new"] == len(first.persons)
    assert first.persons["former_person_ids"].map(len).eq(0).all()
    # as if the persons had been named before they gained the accounts that sort first
    largest = first.accounts.groupby("person_id")["unique_id"].transform("max")
    before = first.accounts.assign(person_id=largest)
    assert (before["person_id"] != first.accounts["person_id"]).sum() > 50  # the model's differ
    save_persons(settings, before, "butler-identity/1")
    with Store.open(settings) as store:  # the new week: ten more people
        newcomers = people_list(10, seed=7)
        _store_members(store, newcomers.assign(record_id="new" + newcomers["record_id"]))

    second = resolve_store(settings)
    same = second.accounts.merge(before, on="unique_id", suffixes=("", "_before"))
    assert (same["person_id"] == same["person_id_before"]).all()
    assert second.person_ids == {
        "kept": len(first.persons), "new": 10, "merged": 0, "split": 0, "dropped": 0
    }  # fmt: skip
    assert second.person_ids["new"] == len(second.persons) - second.person_ids["kept"]
    assert second.persons["person_id"].is_unique
    assert set(second.persons["person_id"]) == set(second.accounts["person_id"])
    # what the store keeps and the file marketing reads say the same
    save_persons(settings, second.accounts, "butler-identity/1")
    with Store.open(settings, read_only=True) as store:
        stored = store.sql("SELECT count(DISTINCT person_id) FROM member_persons").fetchall()
    assert stored[0][0] == len(second.persons)
    write_table(second.persons, tmp_path / "persons.parquet")
    assert (
        pd.read_parquet(tmp_path / "persons.parquet")["former_person_ids"]
        .map(len)
        .eq(second.persons["former_person_ids"].map(len))
        .all()
    )


def test_retired_ids_are_kept_in_the_store_and_listed_on_every_later_resolution(settings):
    from services.identity import stored_id_history
    from training.identity import train

    frame = people_list(80)
    with Store.open(settings) as store:
        _store_members(store, frame)
    train(settings)
    first = resolve_store(settings)
    # as if an earlier resolution had split one person in two: this one merges them again
    person, accounts = next((p, g) for p, g in first.accounts.groupby("person_id") if len(g) >= 2)
    split_off = accounts["unique_id"].max()
    before = first.accounts.copy()
    before.loc[before["unique_id"] == split_off, "person_id"] = split_off
    save_persons(settings, before, "butler-identity/1")

    second = resolve_store(settings)
    assert second.person_ids["merged"] == 1
    assert second.persons.set_index("person_id").loc[person, "former_person_ids"] == [split_off]
    save_persons(settings, second.accounts, "butler-identity/2", second.id_history)
    with Store.open(settings, read_only=True) as store:
        history = stored_id_history(store)
    assert history[["former_person_id", "person_id", "model_version"]].values.tolist() == [
        [split_off, person, "butler-identity/2"]
    ]
    assert history["retired_at"].notna().all()

    third = resolve_store(settings)  # nothing changed: the old id is still listed, once
    assert third.person_ids["merged"] == 0
    assert third.persons.set_index("person_id").loc[person, "former_person_ids"] == [split_off]
    save_persons(settings, third.accounts, "butler-identity/3", third.id_history)
    with Store.open(settings, read_only=True) as store:
        again = stored_id_history(store)
    assert again.equals(history)  # the retirement keeps its first time and model version


def test_an_earlier_retired_id_follows_its_person_when_that_person_is_merged_or_gone():
    from services.identity import _history_frame, _next_history

    history = _history_frame([
        ("a", "b", pd.Timestamp("2026-01-01"), "m/1"),   # b was merged into c now
        ("q", "r", pd.Timestamp("2026-01-01"), "m/1"),   # r's accounts are all gone now
        ("x", None, pd.Timestamp("2026-01-01"), "m/1"),  # gone long ago
        ("s", "t", pd.Timestamp("2026-01-01"), "m/1"),   # t is unchanged
    ])  # fmt: skip
    merged = pd.Series({"c": ["b"]})
    out = _next_history(history, merged, previous={"b", "c", "r", "t"}, kept={"c", "t"})
    assert out[["former_person_id", "person_id"]].values.tolist() == [
        ["a", "c"], ["q", None], ["x", None], ["s", "t"], ["b", "c"], ["r", None]
    ]  # fmt: skip
    assert out["retired_at"].iloc[:4].notna().all() and out["retired_at"].iloc[4:].isna().all()


def test_write_table_writes_a_list_column_as_text_or_a_list_of_strings(tmp_path: Path):
    frame = pd.DataFrame({"person_id": ["a", "c"], "former_person_ids": [[], ["b", "d"]]})
    write_table(frame, tmp_path / "p.csv")
    text = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert text["former_person_ids"].tolist() == ["", "b;d"]
    write_table(frame.assign(former_person_ids=[[], []]), tmp_path / "p.parquet")
    import pyarrow.parquet as pq

    assert str(pq.read_schema(tmp_path / "p.parquet").field("former_person_ids").type) == (
        "list<element: string>"
    )


def test_eval_against_a_truth_file_scores_only_the_accounts_it_labels(settings, tmp_path):
    frame = people_list(40)
    with Store.open(settings) as store:
        _store_members(store, frame)
    k = frame["record_id"].str.rsplit("-", n=1).str[1].astype(int)
    truth = pd.DataFrame(
        {
            "platform": np.array(["jd", "tmall", "douyin"])[k],
            "platform_user_id": frame["record_id"],
            "person_id": frame["person"],
        }
    )
    path = tmp_path / "truth.csv"
    truth.iloc[: len(truth) // 2].to_csv(path, index=False)
    half = evaluate_store(settings, path)
    assert half.n_records == len(truth) // 2
    assert f"the {len(truth) // 2} of {len(truth)} accounts labelled" in half.data
    truth.assign(platform="pdd").to_csv(path, index=False)  # another store's accounts
    with pytest.raises(ContractViolation, match=f"labels 0 of the store's {len(truth)} member"):
        evaluate_store(settings, path)
    path.write_bytes(b"")
    with pytest.raises(UnreadableFileError, match="empty"):
        evaluate_store(settings, path)


def test_explain_two_accounts_masked_with_a_waterfall_that_adds_up(settings, tmp_path):
    from training.identity import train

    frame = people_list(80)
    with Store.open(settings) as store:
        _store_members(store, frame)
    train(settings)
    twice = frame.groupby("person")["record_id"].transform("size") >= 2
    person = frame.loc[twice, "person"].iloc[0]
    rows = frame[frame["person"] == person]
    left, right = f"jd:{rows['record_id'].iloc[0]}", f"tmall:{rows['record_id'].iloc[1]}"

    result = explain_accounts(settings, left, right)
    steps = result.steps
    assert steps["step"].iloc[0] == "prior" and steps["step"].iloc[-1] == "total"
    assert steps["match_weight"].iloc[:-1].sum() == pytest.approx(steps["cumulative"].iloc[-1])
    assert result.match_probability > 0.9 and result.same_person is None  # not resolved yet
    shown = json.dumps([result.left, result.right], ensure_ascii=False)
    for value in rows[["mobile", "mail", "dob", "first"]].stack():
        assert str(value) not in shown
    assert result.left["phone"].count("*") == 4 and result.left["birth_date"].endswith("-**-**")

    resolved = resolve_store(settings)
    save_persons(settings, resolved.accounts, "butler-identity/1")
    assert explain_accounts(settings, left, right).same_person is True
    with pytest.raises(UnknownEntityError, match="tmall:nobody"):
        explain_accounts(settings, left, "tmall:nobody")
    with pytest.raises(InvalidParameterError, match="two different accounts"):
        explain_accounts(settings, left, left)

    out = tmp_path / "why.json"
    said = CliRunner().invoke(
        app,
        ["--home", str(settings.home), "members", "explain", left, right, "--json", str(out)],
    )
    assert said.exit_code == 0, said.output
    assert "Match probability" in said.output and "both in person" in said.output
    assert str(rows["mobile"].iloc[0]) not in said.output
    written = json.loads(out.read_text("utf-8"))
    assert written["steps"][-1]["step"] == "total"
    assert written["persons"][0] == written["persons"][1]


def test_duplicated_recruitment_is_a_share_of_spend_when_costs_are_set(settings):
    from training.identity import train

    frame = people_list(80)
    with Store.open(settings) as store:
        _store_members(store, frame)
    train(settings)
    of_accounts = resolve_store(settings).summary["duplicate_recruitment_share"]
    # only Douyin costs anything, and a Douyin account is always a person's last (day 2)
    costly = settings.model_copy(update={"recruitment_cost": {"douyin": 40.0}})
    of_spend = resolve_store(costly).summary["duplicate_recruitment_share"]
    assert of_accounts < 0.7 and of_spend > 0.9


def test_write_table_by_suffix(tmp_path: Path):
    frame = pd.DataFrame({"a": [1, 2]})
    for name in ("x.csv", "x.parquet", "x.xlsx"):
        assert write_table(frame, tmp_path / name).exists()
    with pytest.raises(InvalidParameterError, match="csv, .xlsx or .parquet"):
        write_table(frame, tmp_path / "x.json")

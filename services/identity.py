"""Member identity for marketing: the store's resolved member list, and any list a user brings.

``resolve_store`` uses the registered model (``butler train identity``); ``dedupe_list`` fits
a model on the list it is given, because a user's list carries its own set of fields.
Printed summaries and logs mask phones and names (``features.masking``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.errors import InvalidParameterError, UnknownEntityError
from features.identity import normalise_members
from features.masking import mask_email, mask_name, mask_phone
from features.member_lists import MemberMap, map_members, read_member_file
from features.members import ID_SEP, store_members
from features.settings import Settings
from features.store import Store
from models.identity import (
    REGISTERED_NAME,
    IdentityConfig,
    IdentityResolver,
    golden_records,
    resolution_summary,
)
from models.person_ids import carry_person_ids
from services.registry import load_registered

logger = logging.getLogger(__name__)

#: Columns ``dedupe_list`` adds to every input row.
DEDUPE_COLUMNS = ("person_id", "match_probability", "cluster_size", "rejected_reason")


@dataclass(frozen=True, slots=True)
class ResolvedMembers:
    """The deduplicated member list and its summary.

    Attributes:
        persons: one row per person: ``person_id``, ``former_person_ids`` (every id an
            earlier resolution gave this person's accounts and later retired, as
            ``person_id_history`` will hold it; a list, empty for most), golden fields
            (with ``<field>_from``), ``source_accounts``, ``cluster_size`` (accounts),
            ``platforms`` and ``match_probability`` (the lowest, over the person's accounts,
            of each account's strongest link inside the person; NaN for a person with one
            account).
        accounts: one row per account: ``unique_id, person_id, cluster_size,
            match_probability``.
        summary: see :func:`models.identity.resolution_summary`.
        person_ids: how the ids compare with the last resolution's (``member_persons``):
            ``kept, new, merged, split, dropped`` (see
            :class:`models.person_ids.CarriedIds`).
        id_history: every retired id after this resolution, for ``person_id_history``:
            ``former_person_id, person_id`` (the id holding its accounts now, None when
            none is left), ``retired_at`` and ``model_version`` (NaT and None for the ids
            this resolution retires; :func:`save_persons` stamps them).
    """

    persons: pd.DataFrame
    accounts: pd.DataFrame
    summary: dict[str, float]
    person_ids: dict[str, int] = field(default_factory=dict)
    id_history: pd.DataFrame = field(default_factory=lambda: _history_frame([]))


def registered_model(settings: Settings) -> IdentityResolver:
    """The identity model registered under the settings' alias, if this Butler can run it.

    Raises:
        ModelNotRegisteredError: nothing is registered, or the model's settings version is
            not this Butler's (its comparisons and fields would not match).
    """
    return load_registered(settings, REGISTERED_NAME)


def resolve_store(settings: Settings, threshold: float | None = None) -> ResolvedMembers:
    """Resolve every member account of the store with the registered identity model.

    Persons keep the ids the store's last resolution (``member_persons``) gave them, as
    :func:`models.person_ids.carry_person_ids` carries them; an id merged into another person
    is listed in its ``former_person_ids``, and no id retired before is given again
    (``person_id_history``).

    Raises:
        ModelNotRegisteredError: no identity model is registered yet, or the registered one
            was trained with other identity settings than this Butler's.
        StoreError: the store holds no member accounts.
    """
    model = registered_model(settings)
    with Store.open(settings, read_only=True) as store:
        raw = store_members(store)
        previous = stored_person_ids(store)
        history = stored_id_history(store)
    resolution = model.resolve(normalise_members(raw), threshold)
    carried = carry_person_ids(resolution.clusters, previous, history["former_person_id"])
    accounts = carried.accounts
    history = _next_history(history, carried.former, set(previous), set(carried.person_ids))
    persons = golden_records(raw, accounts)
    former = persons["person_id"].map(
        history.dropna(subset=["person_id"]).groupby("person_id")["former_person_id"].agg(sorted)
    )
    persons.insert(1, "former_person_ids", [f if isinstance(f, list) else [] for f in former])
    weakest = accounts.groupby("person_id")["match_probability"].min()
    persons["match_probability"] = persons["person_id"].map(weakest)
    return ResolvedMembers(
        persons=persons,
        accounts=accounts,
        summary=resolution_summary(
            raw, accounts, cost_per_account=settings.recruitment_cost or None
        ),
        person_ids=carried.counts,
        id_history=history,
    )


def _history_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["former_person_id", "person_id", "retired_at", "model_version"]
    )
    return frame.astype({"former_person_id": object, "person_id": object,
                         "retired_at": "datetime64[us]", "model_version": object})  # fmt: skip


def _next_history(
    history: pd.DataFrame, merged: pd.Series, previous: set[str], kept: set[str]
) -> pd.DataFrame:
    """The retired ids after a resolution: the earlier ones following their person (to the
    person it was merged into, or None when its accounts are gone), then the ids this
    resolution merged (``merged``: person → its retired ids) or left without accounts."""
    into = {old: person for person, olds in merged.items() for old in olds}
    gone = previous - kept - set(into)
    older = history.assign(
        person_id=[into.get(p, None if p in gone else p) if p else None
                   for p in history["person_id"]]
    )  # fmt: skip
    new = [(old, person, pd.NaT, None) for old, person in sorted(into.items())]
    new += [(old, None, pd.NaT, None) for old in sorted(gone)]
    return pd.concat([older, _history_frame(new)], ignore_index=True)


def stored_id_history(store: Store) -> pd.DataFrame:
    """The store's retired person ids (``person_id_history``): ``former_person_id,
    person_id, retired_at, model_version``; empty before any id was retired."""
    exists = store.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'person_id_history'"
    ).fetchall()[0][0]
    if not exists:  # a store opened read-only before its migration to version 4
        return _history_frame([])
    return _history_frame(
        store.sql(
            "SELECT former_person_id, person_id, retired_at, model_version "
            "FROM person_id_history ORDER BY retired_at, former_person_id"
        ).fetchall()
    )


def stored_person_ids(store: Store) -> pd.Series:
    """Each account's person in the store's last resolution (``member_persons``): a series
    ``unique_id`` (``<platform>:<platform_user_id>``) → ``person_id``, empty when the
    members were never resolved."""
    exists = store.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'member_persons'"
    ).fetchall()[0][0]
    if not exists:  # a store opened read-only before its migration to version 3
        return pd.Series(dtype=object, name="person_id")
    rows = store.sql(
        f"SELECT platform || '{ID_SEP}' || platform_user_id AS unique_id, person_id "
        "FROM member_persons"
    ).df()
    return rows.set_index("unique_id")["person_id"]


#: Fields shown beside an explanation, masked (see :func:`masked_account`).
SHOWN_FIELDS = ("platform", "full_name", "nickname", "phone", "email", "birth_date", "city",
                "district")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PairExplanation:
    """Why the identity model scores two of the store's accounts as it does.

    Attributes:
        left, right: each account's :data:`SHOWN_FIELDS`, masked, and its ``unique_id``.
        steps: the waterfall (:func:`models.identity.waterfall`): ``step, level,
            match_weight, cumulative, match_probability``, the prior first and the total last.
        match_probability: the pair's score (the total's probability).
        persons: each account's person in the store's last resolution (``member_persons``),
            None for an account it does not hold or when the members were never resolved.
    """

    left: dict[str, str | None]
    right: dict[str, str | None]
    steps: pd.DataFrame
    match_probability: float
    persons: tuple[str | None, str | None]

    @property
    def same_person(self) -> bool | None:
        """Whether the last resolution put both accounts in one person (None = unknown)."""
        if None in self.persons:
            return None
        return self.persons[0] == self.persons[1]


def masked_account(row: pd.Series) -> dict[str, str | None]:
    """An account's :data:`SHOWN_FIELDS` as a report may show them: names and phones masked,
    an e-mail's name masked, a birth date cut to its year."""

    def text(col: str) -> str | None:
        value = row.get(col)
        return None if value is None or pd.isna(value) or str(value).strip() == "" else str(value)

    birth = text("birth_date")
    return {
        "unique_id": text("unique_id"),
        "platform": text("platform"),
        "full_name": mask_name(text("full_name")),
        "nickname": mask_name(text("nickname")),
        "phone": mask_phone(text("phone")),
        "email": mask_email(text("email")),
        "birth_date": None if birth is None else birth[:4] + "-**-**",
        "city": text("city"),
        "district": text("district"),
    }


def explain_accounts(settings: Settings, left: str, right: str) -> PairExplanation:
    """Why the registered identity model scores two of the store's accounts as it does.

    Args:
        settings: runtime settings.
        left, right: the accounts, ``<platform>:<platform_user_id>`` (as ``butler members
            resolve`` lists them in ``source_accounts``).

    Raises:
        ModelNotRegisteredError: no identity model is registered, or it is out of date.
        UnknownEntityError: an account is not in the store.
        InvalidParameterError: the two ids are the same account.
    """
    if left == right:
        raise InvalidParameterError(
            f"Both accounts are {left}: pass two different accounts to compare."
        )
    model = registered_model(settings)
    # the model keeps the term frequencies of the list it was fitted on, so the two accounts
    # are all it needs; one pickled before it kept them takes them from every account
    whole = not hasattr(model, "term_frequencies_")
    with Store.open(settings, read_only=True) as store:
        raw = store_members(store, ids=None if whole else [left, right])
        persons = dict(
            store.sql(
                f"SELECT platform || '{ID_SEP}' || platform_user_id, person_id "
                f"FROM member_persons WHERE platform || '{ID_SEP}' || platform_user_id IN (?, ?)",
                [left, right],
            ).fetchall()
        )
    ids = raw["unique_id"].astype(str)
    missing = [i for i in (left, right) if not (ids == i).any()]
    if missing:
        raise UnknownEntityError(
            f"No member account {' or '.join(missing)} in the store. Accounts are named "
            "<platform>:<platform_user_id>, e.g. tmall:tb123456, as `butler members resolve` "
            "lists them in source_accounts."
        )
    steps = model.explain(normalise_members(raw), left, right)
    by_id = raw.set_index(ids)
    return PairExplanation(
        left=masked_account(by_id.loc[left]),
        right=masked_account(by_id.loc[right]),
        steps=steps,
        match_probability=float(steps["match_probability"].iloc[-1]),
        persons=(persons.get(left), persons.get(right)),
    )


def save_persons(
    settings: Settings,
    accounts: pd.DataFrame,
    model_version: str,
    id_history: pd.DataFrame | None = None,
) -> int:
    """Replace the store's ``member_persons`` with a resolution's accounts, and its
    ``person_id_history`` with the resolution's retired ids, in one transaction.

    Args:
        settings: runtime settings.
        accounts: ``unique_id, person_id, cluster_size, match_probability`` per account.
        model_version: the identity model version that resolved them.
        id_history: :attr:`ResolvedMembers.id_history`; None = leave the history as it is.

    Returns:
        The number of accounts written.
    """
    parts = accounts["unique_id"].astype(str).str.split(ID_SEP, n=1, expand=True)
    rows = pd.DataFrame(
        {
            "platform": parts[0],
            "platform_user_id": parts[1],
            "person_id": accounts["person_id"].astype(str),
            "cluster_size": accounts["cluster_size"].astype(int),
            "match_probability": accounts["match_probability"].astype(float),
            "model_version": model_version,
            "resolved_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        }
    )
    with Store.open(settings) as store, store.transaction():
        store.sql("DELETE FROM member_persons")
        store.upsert("member_persons", rows)
        if id_history is not None:
            new = id_history["retired_at"].isna()
            history = id_history.assign(
                retired_at=id_history["retired_at"].where(~new, rows["resolved_at"].iloc[0]
                                                          if len(rows) else pd.Timestamp.now()),
                model_version=id_history["model_version"].where(~new, model_version),
            )  # fmt: skip
            store.sql("DELETE FROM person_id_history")
            if len(history):
                store.upsert("person_id_history", history)
    return len(rows)


@dataclass(frozen=True, slots=True)
class DedupedList:
    """A user's list with a person per row.

    Attributes:
        rows: every input row and column, in file order, plus :data:`DEDUPE_COLUMNS`
            (rejected rows have no person and a ``rejected_reason``), under the names in
            ``added_columns``.
        rejected: the rows that could not be used, with ``row_number`` and ``reason``.
        summary: accounts, persons and the rest (see ``resolution_summary``).
        added_columns: each of :data:`DEDUPE_COLUMNS` → its column in ``rows``: itself, or
            ``butler_<name>`` (then ``butler_<name>_2`` …) when the list already has a column
            of that name.
    """

    rows: pd.DataFrame
    rejected: pd.DataFrame
    summary: dict[str, float]
    added_columns: dict[str, str]

    @property
    def renamed_columns(self) -> dict[str, str]:
        """The added columns that could not keep their name: name → column in ``rows``."""
        return {col: name for col, name in self.added_columns.items() if col != name}


def dedupe_list(
    path: str | Path,
    mapping: str | Path,
    *,
    threshold: float | None = None,
    phone_region: str = "CN",
    config: IdentityConfig | None = None,
) -> DedupedList:
    """Deduplicate a member list a user brings (CSV, XLSX or parquet + a YAML mapping).

    Every input column is kept: when the list already has a column named like one of
    :data:`DEDUPE_COLUMNS`, the added column is named ``butler_<name>`` instead (see
    ``DedupedList.added_columns``) and a warning is logged.

    Raises:
        UnreadableFileError: the file cannot be read or has no rows.
        ContractViolation: a mapped column is missing from the file.
        InvalidParameterError: fewer than 10 usable rows.
    """
    source = read_member_file(path)
    member_map = MemberMap.from_yaml(mapping)
    mapped = map_members(source, member_map)
    if len(mapped.members) < 10:
        reasons = mapped.rejected["reason"].value_counts().head(3)
        why = "; ".join(f"{n} × {reason}" for reason, n in reasons.items())
        raise InvalidParameterError(
            f"{path} has {len(mapped.members)} usable member rows; deduplication needs at "
            f"least 10. {len(mapped.rejected)} rows could not be used"
            + (f" (most often: {why})." if why else ".")
        )
    members = normalise_members(mapped.members, phone_region=phone_region)
    model = IdentityResolver(config).fit(members)
    clusters = model.resolve(members, threshold).clusters.set_index("unique_id")
    rows = source.reset_index(drop=True)
    ids = mapped.ids.reset_index(drop=True)  # as the model saw them (a 7.0 is 7)
    reasons = pd.Series(None, index=rows.index, dtype=object)
    if len(mapped.rejected):
        at = mapped.rejected["row_number"].to_numpy() - 1
        reasons.iloc[at] = mapped.rejected["reason"].to_numpy()
    ids = ids.where(reasons.isna())  # a rejected row (e.g. a repeated id) gets no person
    added = _added_column_names(rows.columns)
    for col in ("person_id", "match_probability", "cluster_size"):
        rows[added[col]] = ids.map(clusters[col]).to_numpy()
    rows[added["rejected_reason"]] = reasons.to_numpy()
    return DedupedList(
        rows=rows,
        rejected=mapped.rejected,
        summary=resolution_summary(mapped.members, clusters.reset_index()),
        added_columns=added,
    )


def _added_column_names(existing: Iterable[object]) -> dict[str, str]:
    """Each of :data:`DEDUPE_COLUMNS` → a column name no input column has (a user's own
    ``person_id`` must not be overwritten): the name itself, else ``butler_<name>``, else
    ``butler_<name>_2``, ``_3`` …"""
    taken = {str(col) for col in existing}
    added: dict[str, str] = {}
    for col in DEDUPE_COLUMNS:
        name, n = col, 1
        while name in taken:
            name = f"butler_{col}" if n == 1 else f"butler_{col}_{n}"
            n += 1
        taken.add(name)
        added[col] = name
        if name != col:
            logger.warning(
                "The list already has a column named %s: Butler's %s is in %s instead.",
                col, col, name,
            )  # fmt: skip
    return added


#: The table formats :func:`write_table` writes, by file suffix.
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (UTF-8 with BOM, for Excel), XLSX or parquet by suffix.

    A column of lists (``former_person_ids``) is a list of strings in parquet, and
    ``;``-separated text in CSV and XLSX, as ``source_accounts`` is.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    lists = [c for c in frame.columns if len(frame) and isinstance(frame[c].iloc[0], list)]
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # a column of empty lists only would be list<null>: the same schema every week
        table = pa.Table.from_pandas(frame, preserve_index=False)
        schema = table.schema
        for col in lists:
            at = schema.get_field_index(col)
            schema = schema.set(at, pa.field(col, pa.list_(pa.string())))
        pq.write_table(table.cast(schema), out)
        return out
    if lists:
        frame = frame.assign(**{c: frame[c].map(";".join) for c in lists})
    if suffix == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        frame.to_excel(out, index=False)
    else:
        raise InvalidParameterError(
            f"Cannot write {out.name}: use a .csv, .xlsx or .parquet file name."
        )
    return out

"""What every platform adapter is: a declared column contract, compiled into parsing.

A platform module declares, in one place, how its back office writes each export: the
column headers, the file format and encoding, money in yuan or fen, the timestamp format
and zone, and its own status words. :class:`PlatformAdapter` turns that declaration into
vectorised parsing (file → batches of unified rows + rejected cells with reasons) and into
rendering (unified rows → the platform's own export shape, used by the sample world), so the
generator and the parser cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from features.errors import ContractViolation
from features.schema.vocab import ExportKind, Platform

ValueKind = Literal["str", "int", "money", "ts", "date", "enum", "bool"]
FileFormat = Literal["csv", "xlsx"]

_EMPTY = {"", "-", "--", "null", "NULL", "None", "nan", "NaN", "N/A", "n/a", "无"}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a platform export.

    Args:
        field: the unified field it fills (a column of the unified table).
        header: the platform's own header for it.
        kind: how its text is parsed: ``money`` uses the adapter's money unit, ``ts`` and
            ``date`` the adapter's time format and zone, ``enum`` and ``bool`` the ``values``
            map from the platform's words to unified values.
        required: a file without this header is rejected whole; an empty cell is quarantined.
        values: for ``enum``/``bool``: platform word → unified value.
        aliases: other headers the same back office has used for this column.
    """

    field: str
    header: str
    kind: ValueKind = "str"
    required: bool = False
    values: Mapping[str, object] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


@dataclass(frozen=True, slots=True)
class ExportContract:
    """The shape of one kind of export from one platform."""

    kind: ExportKind
    columns: tuple[Column, ...]
    file_format: FileFormat = "csv"
    encoding: str = "utf-8"  # what the back office writes; reading also accepts UTF-8/GBK
    file_stem: str = ""  # how the back office names its files, e.g. "订单报表"

    def __post_init__(self) -> None:
        fields = [c.field for c in self.columns]
        if len(set(fields)) != len(fields):
            raise ValueError(f"Duplicate unified fields in the {self.kind} contract: {fields}")

    @property
    def required_headers(self) -> list[str]:
        return [c.header for c in self.columns if c.required]


@dataclass(slots=True)
class ParsedBatch:
    """One batch of an export after parsing.

    Attributes:
        rows: unified rows that passed every check (index = position in the file's data rows).
        problems: one row per rejected cell: ``index``, ``field`` (the file's header, or ``*``),
            ``reason``.
        raw: the batch as read (strings), to keep rejected rows exactly as they were. Its
            index counts data rows from 0 across the whole file, so line = index + 2.
    """

    rows: pd.DataFrame
    problems: pd.DataFrame
    raw: pd.DataFrame

    def rejected_records(self) -> list[tuple[int, str, str, str]]:
        """``(line, field, reason, raw_json)`` for every rejected cell."""
        out = []
        for idx, fld, reason in self.problems[["index", "field", "reason"]].itertuples(index=False):
            raw_row = {k: v for k, v in self.raw.loc[idx].items() if v is not None}
            line = int(idx) + 2  # the header is line 1
            out.append((line, str(fld), str(reason), json.dumps(raw_row, ensure_ascii=False)))
        return out


class PlatformAdapter:
    """Base of every platform adapter; a subclass only declares.

    Subclasses set the class attributes below. ``contracts`` lists the exports the back
    office produces; a new platform is one small module with one such class.
    """

    platform: ClassVar[Platform]
    money_unit: ClassVar[Literal["yuan", "fen"]] = "yuan"
    #: strftime pattern, or ``epoch_s`` / ``epoch_ms`` / ``iso8601`` (with its own offset)
    ts_format: ClassVar[str] = "%Y-%m-%d %H:%M:%S"
    date_format: ClassVar[str] = "%Y-%m-%d"
    timezone: ClassVar[str] = "Asia/Shanghai"
    masks_phones: ClassVar[bool] = False
    contracts: ClassVar[tuple[ExportContract, ...]] = ()

    # -- declaration lookups -------------------------------------------------------------

    @classmethod
    def contract(cls, kind: ExportKind) -> ExportContract:
        for c in cls.contracts:
            if c.kind is kind:
                return c
        known = ", ".join(c.kind.value for c in cls.contracts)
        raise ContractViolation(
            f"{cls.platform.value} exports no `{kind.value}` files; it exports: {known}."
        )

    @classmethod
    def match_headers(cls, headers: list[str]) -> list[tuple[float, ExportContract]]:
        """Contracts whose required headers all appear in ``headers``, with a match score."""
        present = set(headers)
        out = []
        for c in cls.contracts:
            if all(any(h in present for h in col.headers) for col in c.columns if col.required):
                known = sum(any(h in present for h in col.headers) for col in c.columns)
                out.append((known / max(len(present), len(c.columns)), c))
        return out

    # -- parsing -------------------------------------------------------------------------

    @classmethod
    def resolve_headers(cls, contract: ExportContract, headers: list[str]) -> dict[str, str]:
        """Map each present column's file header to its unified field.

        Raises:
            ContractViolation: a required column is missing; the message names every one.
        """
        present = set(headers)
        mapping: dict[str, str] = {}
        missing = []
        for col in contract.columns:
            found = next((h for h in col.headers if h in present), None)
            if found is not None:
                mapping[found] = col.field
            elif col.required:
                missing.append(col.header)
        if missing:
            raise ContractViolation(
                f"The {cls.platform.value} {contract.kind.value} export lacks required "
                f"column(s) {missing}. Re-export it from the back office with these columns, "
                f"or check that --platform is right."
            )
        return mapping

    @classmethod
    def parse(cls, contract: ExportContract, raw: pd.DataFrame) -> ParsedBatch:
        """Parse one batch of raw strings (file headers as columns) into unified rows."""
        from features.schema.contracts import unified_contract

        mapping = cls.resolve_headers(contract, list(raw.columns))
        by_field = {c.field: c for c in contract.columns}
        header_of = {f: h for h, f in mapping.items()}
        out = pd.DataFrame(index=raw.index)
        problems: list[pd.DataFrame] = []
        for header, fld in mapping.items():
            col = by_field[fld]
            text = _clean(raw[header])
            values, bad = cls._parse_column(col, text)
            out[fld] = values
            if bad.any():
                shown = text[bad]
                problems.append(
                    _problems(
                        shown.index,
                        header,
                        "cannot read " + _describe(cls, col) + ": '" + shown.astype(str) + "'",
                    )
                )
            if col.required:
                empty = text.isna()
                if empty.any():
                    problems.append(
                        _problems(
                            text.index[empty],
                            header,
                            pd.Series("required value is empty", index=text.index[empty]),
                        )
                    )
        schema = unified_contract(contract.kind)
        problems.extend(_pandera_problems(schema, out, header_of))
        all_problems = (
            pd.concat(problems, ignore_index=True).drop_duplicates(
                subset=["index", "field"], keep="first"
            )
            if problems
            else pd.DataFrame({"index": [], "field": [], "reason": []})
        )
        rejected = all_problems["index"].unique()
        rows = out.drop(index=rejected) if len(rejected) else out
        # a field absent from this platform's contract is simply NULL
        return ParsedBatch(rows=rows, problems=all_problems, raw=raw)

    @classmethod
    def _parse_column(cls, col: Column, text: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Return parsed values and a mask of cells that had text but could not be read."""
        present = text.notna()
        if col.kind == "str":
            return text.astype(object).where(present, None), pd.Series(False, index=text.index)
        if col.kind in ("int", "money"):
            cleaned = text.str.replace(r"[¥￥,\s]|元$", "", regex=True)
            num = pd.to_numeric(cleaned, errors="coerce")
            if col.kind == "money" and cls.money_unit == "yuan":
                num = (num * 100).round()
            integral = num.notna() & (num == np.floor(num))
            values = num.where(integral).astype("Int64")
            return values, present & ~integral
        if col.kind in ("ts", "date"):
            values = cls._parse_time(text, date_only=col.kind == "date")
            return values, present & values.isna()
        if col.kind in ("enum", "bool"):
            assert col.values is not None, f"{col.field}: enum/bool columns need values"
            mapped = text.map(col.values)
            if col.kind == "bool":
                mapped = mapped.astype("boolean")
            else:
                mapped = mapped.astype(object).where(mapped.notna(), None)
            return mapped, present & mapped.isna()
        raise ValueError(f"Unknown column kind {col.kind!r}")

    @classmethod
    def _parse_time(cls, text: pd.Series, *, date_only: bool) -> pd.Series:
        """Parse timestamps in the platform's format and zone into naive UTC (dates: as is)."""
        fmt = cls.date_format if date_only else cls.ts_format
        if fmt in ("epoch_s", "epoch_ms"):
            num = pd.to_numeric(text, errors="coerce")
            parsed = pd.to_datetime(num, unit="s" if fmt == "epoch_s" else "ms", errors="coerce")
            return parsed.astype("datetime64[ns]")
        if fmt == "iso8601":
            parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
            return parsed.dt.tz_localize(None).astype("datetime64[ns]")
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if date_only:
            return parsed.astype("datetime64[ns]")
        local = parsed.dt.tz_localize(cls.timezone, ambiguous="NaT", nonexistent="NaT")
        return local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")

    # -- rendering (the inverse, for the sample world and tests) -------------------------

    @classmethod
    def render(cls, kind: ExportKind, unified: pd.DataFrame) -> pd.DataFrame:
        """Write unified rows in this platform's own export shape (headers, units, formats)."""
        contract = cls.contract(kind)
        out = {}
        for col in contract.columns:
            if col.field not in unified.columns:
                continue
            out[col.header] = cls._render_column(col, unified[col.field])
        return pd.DataFrame(out)

    @classmethod
    def _render_column(cls, col: Column, values: pd.Series) -> pd.Series:
        if col.kind in ("str",):
            return values.astype(object).where(values.notna(), "")
        if col.kind == "int":
            return values.astype("Int64").astype(str).replace("<NA>", "")
        if col.kind == "money":
            v = values.astype("Int64")
            if cls.money_unit == "fen":
                return v.astype(str).replace("<NA>", "")
            yuan = (v // 100).astype(str) + "." + (v % 100).astype(str).str.zfill(2)
            return yuan.where(v.notna(), "")
        if col.kind in ("ts", "date"):
            return cls._render_time(values, date_only=col.kind == "date")
        if col.kind in ("enum", "bool"):
            assert col.values is not None
            inverse: dict[object, str] = {}
            for word, value in col.values.items():
                inverse.setdefault(value, word)  # the first word listed is what it writes
            return values.map(inverse).fillna("")
        raise ValueError(f"Unknown column kind {col.kind!r}")

    @classmethod
    def _render_time(cls, values: pd.Series, *, date_only: bool) -> pd.Series:
        ts = pd.to_datetime(values)
        fmt = cls.date_format if date_only else cls.ts_format
        if date_only:
            return ts.dt.strftime(fmt).fillna("")
        if fmt == "epoch_s":
            return (ts.astype("int64") // 10**9).astype(str).where(ts.notna(), "")
        if fmt == "epoch_ms":
            return (ts.astype("int64") // 10**6).astype(str).where(ts.notna(), "")
        utc = ts.dt.tz_localize("UTC")
        if fmt == "iso8601":
            local = utc.dt.tz_convert(cls.timezone)
            text = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
            # +0800 -> +08:00, as ISO 8601 writers do
            return text.str.replace(r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True).fillna("")
        return utc.dt.tz_convert(cls.timezone).dt.strftime(fmt).fillna("")


def _clean(raw: pd.Series) -> pd.Series:
    text = raw.astype(object).where(raw.notna(), None)
    text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    text = text.where(~text.isin(_EMPTY), None)
    return text


def _describe(adapter: type[PlatformAdapter], col: Column) -> str:
    if col.kind == "money":
        return f"an amount in {adapter.money_unit}"
    if col.kind == "int":
        return "a whole number"
    if col.kind == "ts":
        return f"a time in format {adapter.ts_format}"
    if col.kind == "date":
        return f"a date in format {adapter.date_format}"
    if col.kind in ("enum", "bool"):
        words = ", ".join(map(str, (col.values or {}).keys()))
        return f"a known value (one of {words})"
    return "text"


def _problems(index: pd.Index, header: str, reasons: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"index": list(index), "field": header, "reason": list(reasons)})


def _pandera_problems(
    schema: object, frame: pd.DataFrame, header_of: dict[str, str]
) -> list[pd.DataFrame]:
    """Run the unified pandera contract lazily; turn its failure cases into problems."""
    import pandera.errors as pa_errors

    try:
        schema.validate(frame, lazy=True)  # type: ignore[attr-defined]
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        if cases.empty:
            return []
        reasons = (
            "value "
            + cases["failure_case"].astype(str)
            + " fails check "
            + cases["check"].astype(str)
        ).where(cases["check"] != "not_nullable", "required value is missing")
        fields = cases["column"].map(lambda c: header_of.get(c, c))
        return [
            pd.DataFrame(
                {
                    "index": cases["index"].astype(int).tolist(),
                    "field": fields.tolist(),
                    "reason": reasons.tolist(),
                }
            )
        ]
    return []


__all__ = [
    "Column",
    "ExportContract",
    "FileFormat",
    "ParsedBatch",
    "PlatformAdapter",
    "ValueKind",
]

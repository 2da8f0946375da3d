"""What every platform adapter is: a declared column contract, compiled into parsing.

A platform module declares, in one place, how its back office writes each export: the
column headers, the file format and encoding, money in yuan or fen, the timestamp format
and zone, and its own status words. :class:`PlatformAdapter` turns that declaration into
one DuckDB query that parses whole batches (file text → unified rows + rejected cells with
reasons; the value checks every platform shares are in `features.schema.contracts`) and into
rendering (unified rows → the platform's own export shape, used by the sample world), so the
generator and the parser cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import pandas as pd
from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as contract_dataclass

from features.errors import ContractViolation
from features.schema.contracts import row_checks, value_checks
from features.schema.vocab import ExportKind, Platform

ValueKind = Literal["str", "int", "money", "ts", "date", "enum", "bool"]
FileFormat = Literal["csv", "xlsx"]

_INT_MAX = 2**31 - 1

# Contracts are pydantic dataclasses: a declaration with a wrong type fails at import.
_DECLARATION = ConfigDict(arbitrary_types_allowed=True)


@contract_dataclass(frozen=True, config=_DECLARATION)
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


@contract_dataclass(frozen=True, config=_DECLARATION)
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

    def columns_present(self, headers: set[str]) -> int:
        """How many of this contract's columns appear (under any alias) in ``headers``."""
        return sum(any(h in headers for h in col.headers) for col in self.columns)


@dataclass(frozen=True, slots=True)
class ParseSql:
    """The SQL that parses one file's batches (relation ``raw``) into unified rows.

    ``select`` yields the unified fields, ``_row`` (data row number from 0: line
    ``_row + 2`` where each row is one line; see ``readers.file_lines``) and
    ``_problems``: a list of ``{field, reason}`` structs, empty when the row passed every
    check.
    """

    select: str
    fields: tuple[str, ...]


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
                known = c.columns_present(present)
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
    def parse_sql(
        cls, contract: ExportContract, headers: list[str], *, keep_raw_json: bool = False
    ) -> ParseSql:
        """Compile the contract into one DuckDB query over the relation ``raw``.

        ``raw`` holds the file's columns as text (trimmed, empty words as NULL) plus
        ``_row``. Parsing runs vectorised inside DuckDB; nothing is done row by row.

        Raises:
            ContractViolation: a required column is missing from ``headers``.
        """
        mapping = cls.resolve_headers(contract, headers)
        by_field = {c.field: c for c in contract.columns}
        # three levels: text → numbers → values → problems, so no expression is repeated
        numbers = ["*"]
        inner = ["_row"]
        problems = []
        for header, fld in mapping.items():
            col = by_field[fld]
            raw = quote_ident(header)
            inner.append(f"{raw} AS {quote_ident('_raw_' + fld)}")
            if col.kind in ("int", "money"):
                number = quote_ident("_num_" + fld)
                numbers.append(f"{_number_expr(raw)} AS {number}")
                inner.append(f"{cls._whole_expr(col, number)} AS {quote_ident(fld)}")
            else:
                inner.append(f"{cls._parse_expr(col, raw)} AS {quote_ident(fld)}")
            value, given = quote_ident(fld), quote_ident("_raw_" + fld)
            label = quote_literal(header)
            unreadable = quote_literal(f"cannot read {_describe(cls, col)}: ")
            problems.append(
                f"CASE WHEN {given} IS NOT NULL AND {value} IS NULL THEN "
                f"{{'field': {label}, 'reason': {unreadable} || {given}}} END"
            )
            if col.required:
                problems.append(
                    f"CASE WHEN {given} IS NULL THEN "
                    f"{{'field': {label}, 'reason': 'required value is empty'}} END"
                )
            if col.kind == "money" and cls.money_unit == "fen":
                problems.append(  # 139.00 in a column of fen is yuan: ¥139, not ¥1.39
                    f"CASE WHEN contains({given}, '.') AND "
                    f"regexp_full_match({given}, '.*[0-9][.][0-9]{{2}}') THEN "
                    f"{{'field': {label}, 'reason': 'amount ' || {given} || "
                    f"' has yuan decimals in a column of fen: check which unit the column is "
                    f"in'}} END"
                )
            for check in value_checks(contract.kind, fld):
                problems.append(
                    f"CASE WHEN {value} IS NOT NULL AND NOT ({check.condition.format(v=value)}) "
                    f"THEN {{'field': {label}, 'reason': 'value ' || {value}::VARCHAR || "
                    f"{quote_literal(' ' + check.reason)}}} END"
                )
        header_of = {f: h for h, f in mapping.items()}
        for check in row_checks(contract.kind):
            if not all(f in header_of for f in check.fields):
                continue  # this platform does not export every field the check needs
            values = {f: quote_ident(f) for f in check.fields}
            present = " AND ".join(f"{v} IS NOT NULL" for v in values.values())
            first = check.fields[0]
            problems.append(
                f"CASE WHEN {present} AND NOT ({check.condition.format(**values)}) THEN "
                f"{{'field': {quote_literal(header_of[first])}, 'reason': 'value ' || "
                f"{values[first]}::VARCHAR || {quote_literal(' ' + check.reason)}}} END"
            )
        if keep_raw_json:  # the row exactly as exported, for tables that keep raw fields
            pairs = ", ".join(f"{quote_literal(h)}, {quote_ident(h)}" for h in headers)
            inner.append(f"json_object({pairs}) AS _raw_json")
        fields = tuple(mapping.values())
        problem_list = (
            f"list_filter([{', '.join(problems)}], lambda p: p IS NOT NULL)"
            if problems
            else "[]::STRUCT(field VARCHAR, reason VARCHAR)[]"
        )
        select = (
            f"SELECT * EXCLUDE ({', '.join(quote_ident('_raw_' + f) for f in fields)}), "
            f"{problem_list} AS _problems FROM (SELECT {', '.join(inner)} FROM "
            f"(SELECT {', '.join(numbers)} FROM raw))"
        )
        return ParseSql(select=select, fields=fields)

    @classmethod
    def _parse_expr(cls, col: Column, raw: str) -> str:
        """The SQL that reads one column's text as its unified value (NULL if unreadable).

        Numbers (``int``, ``money``) are read in two steps by ``parse_sql``: ``_number_expr``
        then ``_whole_expr``.
        """
        if col.kind == "str":
            return raw
        if col.kind == "date":
            # XLSX date cells arrive as '%Y-%m-%d' whatever the platform's text format
            formats = f"[{quote_literal(cls.date_format)}, '%Y-%m-%d', '%Y-%m-%d %H:%M:%S']"
            return f"try_strptime({raw}, {formats})::DATE"
        if col.kind == "ts":
            return cls._ts_expr(raw)
        if col.kind in ("enum", "bool"):
            assert col.values is not None, f"{col.field}: enum/bool columns need values"
            whens = " ".join(
                f"WHEN {quote_literal(word)} THEN {_value_lit(value)}"
                for word, value in col.values.items()
            )
            return f"CASE {raw} {whens} END"
        raise ValueError(f"Unknown column kind {col.kind!r}")

    @classmethod
    def _whole_expr(cls, col: Column, number: str) -> str:
        """A whole number of units or fen from a parsed number; 12.345 yuan is unreadable."""
        if col.kind == "money":
            n = f"({number} * 100)" if cls.money_unit == "yuan" else number
            return f"CASE WHEN {n} = round({n}) THEN {n}::BIGINT END"
        # counts land in INTEGER columns: a larger number is not a count
        whole = f"{number} = round({number}) AND abs({number}) <= {_INT_MAX}"
        return f"CASE WHEN {whole} THEN {number}::BIGINT END"

    @classmethod
    def _ts_expr(cls, raw: str) -> str:
        fmt = cls.ts_format
        # Excel's 1.70404E+12 has lost the seconds: unreadable, not a time off by minutes
        epoch = f"TRY_CAST(CASE WHEN NOT contains({raw}, 'E') THEN {raw} END AS BIGINT)"
        if fmt == "epoch_s":
            return f"make_timestamp({epoch} * 1000000)"
        if fmt == "epoch_ms":
            return f"make_timestamp({epoch} * 1000)"
        if fmt == "iso8601":
            formats = "['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S.%f%z', '%Y-%m-%d %H:%M:%S%z']"
            # 'Z' is UTC's own offset, which strptime's %z does not read
            zoned = (
                f"CASE WHEN suffix({raw}, 'Z') THEN rtrim({raw}, 'Z') || '+00:00' ELSE {raw} END"
            )
            return f"timezone('UTC', try_strptime({zoned}, {formats}))"
        # XLSX date cells arrive as '%Y-%m-%d %H:%M:%S[.%f]' whatever the platform's format
        xlsx = "'%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f'"
        local = f"try_strptime({raw}, [{quote_literal(fmt)}, {xlsx}])"
        if cls.timezone == "UTC":
            return local
        return f"timezone('UTC', timezone({quote_literal(cls.timezone)}, {local}))"

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
        # whole seconds in nanoseconds, whatever resolution the frame came with
        ts = pd.to_datetime(values).astype("datetime64[ns]").dt.floor("s")
        fmt = cls.date_format if date_only else cls.ts_format
        if date_only:
            return _strftime(ts, fmt)
        if fmt == "epoch_s":
            return (ts.astype("int64") // 10**9).astype(str).where(ts.notna(), "")
        if fmt == "epoch_ms":
            return (ts.astype("int64") // 10**6).astype(str).where(ts.notna(), "")
        local = ts.dt.tz_localize("UTC").dt.tz_convert(cls.timezone).dt.tz_localize(None)
        if fmt == "iso8601":
            minutes = (local - ts).dt.total_seconds() // 60
            names = {
                m: f"{'+' if m >= 0 else '-'}{int(abs(m)) // 60:02d}:{int(abs(m)) % 60:02d}"
                for m in minutes.dropna().unique()
            }  # a zone has a handful of offsets: name each once
            return _strftime(local, "%Y-%m-%dT%H:%M:%S") + minutes.map(names).fillna("")
        return _strftime(local, fmt)


def _strftime(ts: pd.Series, fmt: str) -> pd.Series:
    """Format naive wall-clock times (NaT → ""); Arrow's strftime is ~10x pandas'."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.strftime(pa.array(ts, pa.timestamp("s")), format=fmt).to_pandas()
    text.index = ts.index
    return text.fillna("")


def _describe(adapter: type[PlatformAdapter], col: Column) -> str:
    if col.kind == "money":
        return f"an amount in {adapter.money_unit}"
    if col.kind == "int":
        return f"a whole number (at most {_INT_MAX:,})"
    if col.kind == "ts":
        return f"a time in format {adapter.ts_format}"
    if col.kind == "date":
        return f"a date in format {adapter.date_format}"
    if col.kind in ("enum", "bool"):
        words = ", ".join(map(str, (col.values or {}).keys()))
        return f"a known value (one of {words})"
    return "text"


def quote_ident(name: str) -> str:
    """Quote a column name for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + text.replace("'", "''") + "'"


def _number_expr(raw: str) -> str:
    # Exact decimals (no float error on large yuan amounts), up to 10^14 with 4 places. The
    # plain cast is the fast path; currency signs and thousands separators the slow one.
    return (
        f"coalesce(TRY_CAST({raw} AS DECIMAL(18, 4)), "
        f"TRY_CAST(regexp_replace({raw}, '[¥￥,\\s元]', '', 'g') AS DECIMAL(18, 4)))"
    )


def _value_lit(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return quote_literal(str(value))


__all__ = [
    "Column",
    "ExportContract",
    "FileFormat",
    "ParseSql",
    "PlatformAdapter",
    "ValueKind",
    "quote_ident",
    "quote_literal",
]

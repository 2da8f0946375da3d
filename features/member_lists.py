"""Member lists that marketing brings to deduplicate, mapped onto Butler's member fields.

A list is any CSV, Excel or parquet file of people, one row each, with a record-id column.
A small flat YAML file (a :class:`MemberMap`) says which of its columns feed which Butler
member field. :func:`map_members` turns the rows into Butler member rows, and puts every
row it cannot use in a ``rejected`` frame with the reason, so nothing is dropped silently.
It also mends what Excel does to phones, birth dates and id numbers (scientific notation,
serial day numbers, digits past the 15th) and says so in one warning per kind
(``MemberList.warnings``, also logged).

Examples:
    >>> mapping = MemberMap.from_yaml("febrl.yaml")  # doctest: +SKIP
    >>> members = map_members(read_member_file("list.csv"), mapping)  # doctest: +SKIP
    >>> len(members.members) + len(members.rejected) == len(members.source)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from features.errors import ContractViolation, InvalidParameterError, UnreadableFileError
from features.identity import MEMBER_FIELDS
from features.masking import mask_phone
from features.resident_id import check_char
from features.text import EXCEL_NUMBER, FLOAT_TEXT, SCIENTIFIC, counted, whole_number

__all__ = [
    "MAPPABLE_FIELDS",
    "MemberList",
    "MemberMap",
    "map_members",
    "read_member_file",
]

logger = logging.getLogger(__name__)

#: Butler member fields a list's columns can be mapped onto (the normaliser's fields).
MAPPABLE_FIELDS: tuple[str, ...] = MEMBER_FIELDS
#: The mapping key that names the record-id column.
ID_KEY = "id"
#: File types :func:`read_member_file` reads.
SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xls", ".parquet")
#: Encodings tried in turn for CSV; GB18030 is the superset of GBK that Windows Excel writes.
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
#: Columns :func:`map_members` adds to the rejected rows.
REJECTED_COLUMNS = ("row_number", "reason")

#: Common source-column words for Butler fields: better hints than spelling alone
#: (difflib would offer `family_name` for `first_name`).
_FIELD_ALIASES = {
    "name": "full_name",
    "first_name": "given_name",
    "firstname": "given_name",
    "forename": "given_name",
    "surname": "family_name",
    "last_name": "family_name",
    "lastname": "family_name",
    "mobile": "phone",
    "telephone": "phone",
    "tel": "phone",
    "dob": "birth_date",
    "date_of_birth": "birth_date",
    "birthday": "birth_date",
    "sex": "gender",
    "state": "province",
    "suburb": "city",
    "town": "city",
    "address": "address_line",
    "zip": "postcode",
    "zipcode": "postcode",
    "postal_code": "postcode",
    "openid": "platform_user_id",
    "unionid": "union_id",
}

REASON_BLANK_ID = "blank id"
REASON_NO_FIELD = (
    "no usable field: every mapped column is blank (a platform or gender alone compares nothing)"
)
#: Fields that say where or who in general, but match nobody by themselves.
_CONTEXT_FIELDS = ("platform", "gender")

#: Excel's day 0: a serial day number counts days from here (1 is 1899-12-31, 32874 is
#: 1990-01-01), which also absorbs Excel's false 1900-02-29 for every date after it.
EXCEL_EPOCH = dt.date(1899, 12, 30)
#: The first birth date a serial day number is read as (serial 3654): nobody alive was born
#: before, and every smaller number, a four-digit birth year among them, is left alone.
_FIRST_SERIAL_DATE = dt.date(1910, 1, 1)
#: A number as a serial day number is written (today's is 5 digits until the year 2173).
_SERIAL = re.compile(r"(\d{1,5})(?:\.0+)?")
#: An 18-digit id number as Excel writes one it kept 15 digits of: the rest are zeros.
_CUT_ID = re.compile(r"\d{15}000")


@dataclass(frozen=True, slots=True)
class MemberMap:
    """Which source columns feed which Butler member field.

    Attributes:
        id_column: the source column holding each row's record id.
        fields: Butler field → source columns, in :data:`MAPPABLE_FIELDS` order. Several
            columns are joined with single spaces, blanks skipped.
    """

    id_column: str
    fields: dict[str, tuple[str, ...]]

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        """Read a flat YAML mapping file.

        Each key is a Butler member field (or ``id``) and each value a source column or a
        list of source columns.

        Args:
            path: the YAML file.

        Returns:
            The mapping.

        Raises:
            UnreadableFileError: the file is missing, not UTF-8 or not valid YAML.
            InvalidParameterError: the YAML is not a flat mapping of fields to column names
                (every problem is listed).

        Examples:
            >>> MemberMap.from_yaml("maps/febrl.yaml").id_column  # doctest: +SKIP
            'rec_id'
        """
        path = Path(path)
        content = _load_yaml(path)
        if content is None:
            raise InvalidParameterError(
                f"{path}: the member map is empty. Write one `field: column` line per Butler "
                f"field, plus `{ID_KEY}: <record-id column>`."
            )
        try:
            return cls.from_dict(content)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> Self:
        """Build a mapping from a dict shaped like the YAML file.

        Args:
            mapping: ``{"id": column, field: column | [columns], ...}``.

        Returns:
            The mapping, its fields in :data:`MAPPABLE_FIELDS` order.

        Raises:
            InvalidParameterError: not a mapping, no ``id``, an unknown Butler field (with
                the closest valid one), a value that is not a column name or a list of
                them, or no field mapped at all. All problems are reported together.

        Examples:
            >>> MemberMap.from_dict({"id": "rid", "family_name": "surname"}).fields
            {'family_name': ('surname',)}
        """
        if not isinstance(mapping, Mapping):
            raise InvalidParameterError(
                "The member map must be a flat mapping of Butler fields to column names "
                f"(`given_name: first_name`). Got a {type(mapping).__name__} instead."
            )
        problems: list[str] = []
        id_column = mapping.get(ID_KEY)
        if id_column is None:
            problems.append(
                f"`{ID_KEY}` is missing: add `{ID_KEY}: <column>` naming the record-id column."
            )
        elif not _is_column_name(id_column):
            problems.append(
                f"`{ID_KEY}` must be one column name (text). Got {id_column!r} instead; quote "
                "it if the column name looks like a number."
            )
        fields: dict[str, tuple[str, ...]] = {}
        for key, value in mapping.items():
            if key == ID_KEY:
                continue
            if key not in MAPPABLE_FIELDS:
                problems.append(_unknown_field(key))
                continue
            columns = _columns_of(value)
            if columns is None:
                problems.append(
                    f"`{key}` must be a column name or a list of column names (text). Got "
                    f"{value!r} instead; quote names that look like numbers or dates."
                )
                continue
            fields[key] = columns
        if not fields and not problems:
            problems.append(
                "no Butler field is mapped: add at least one `field: column` line. Valid "
                f"fields: {', '.join(MAPPABLE_FIELDS)}."
            )
        if problems:
            raise InvalidParameterError(
                "The member map is invalid:\n" + "\n".join(f"- {p}" for p in problems)
            )
        ordered = {name: fields[name] for name in MAPPABLE_FIELDS if name in fields}
        return cls(id_column=str(id_column).strip(), fields=ordered)


@dataclass(frozen=True, slots=True)
class MemberList:
    """A member list mapped onto Butler fields.

    Attributes:
        source: the user's rows, every column untouched, in file order.
        members: ``unique_id`` plus the mapped Butler fields (text, None for blanks), one
            row per usable source row, in file order.
        rejected: the source rows that cannot be used, with ``row_number`` (1-based data
            row; the CSV line is ``row_number + 1``) and ``reason``.
        ids: every source row's id as the members carry it (``unique_id``: ``7`` for a
            7.0 a spreadsheet wrote, stripped; None for a blank), in file order.
        warnings: data-quality warnings that did not block, at most one per kind (phones
            Excel wrote as numbers, birth dates given as Excel serial day numbers, id
            numbers Excel cut), each
            also logged; they name columns, counts and rows, never a whole value.
    """

    source: pd.DataFrame
    members: pd.DataFrame
    rejected: pd.DataFrame
    ids: pd.Series
    warnings: tuple[str, ...] = ()


def read_member_file(path: str | Path) -> pd.DataFrame:
    """Read a member list: CSV (UTF-8, UTF-8 with BOM or GBK), XLSX/XLS or parquet.

    CSV columns are all read as text; only empty cells become null. Excel cells keep the
    types the workbook gives them (numbers, dates), and parquet columns their dtypes;
    :func:`map_members` turns them into text.

    Args:
        path: the file.

    Returns:
        The rows, in file order.

    Raises:
        UnreadableFileError: missing file, unsupported type, wrong encoding, broken file,
            or a file with no data rows.

    Examples:
        >>> source = read_member_file("members.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: no such file. Check the path and try again.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFileError(
            f"{path}: unsupported file type {suffix or '(none)'}. Save the list as one of "
            f"{', '.join(SUPPORTED_SUFFIXES)} and try again."
        )
    if path.stat().st_size == 0:
        raise UnreadableFileError(
            f"{path}: the file is empty. Export the member list again, with a header row."
        )
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix == ".parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_excel(path)
    if frame.empty:
        raise UnreadableFileError(
            f"{path}: the file has no data rows (columns: {_column_list(frame.columns)}). "
            "Export the member list again with its rows."
        )
    return frame


def map_members(source: pd.DataFrame, mapping: MemberMap) -> MemberList:
    """Map a member list's rows onto Butler member fields.

    Values become stripped text: integral numbers lose their ``.0`` (phone numbers and
    postcodes read from Excel or parquet), dates become ISO dates, and blanks become
    None. Rows with a blank id, a repeated id (second and later occurrences) or no usable
    mapped value are moved to ``rejected`` with the reason.

    Columns mapped to ``phone``, ``birth_date`` and ``id_number`` are mended where Excel
    damaged them (``source`` keeps the values as they were):

    * a phone in scientific notation that holds every digit (``1.3812345678E10``) or
      written as a float (``13812345678.0``) becomes its digits; one whose digits Excel
      cut (``1.38123E+10``) is blanked, so it matches no other phone;
    * a birth date given as an Excel serial day number (``32874``) becomes an ISO date
      (``1990-01-01``) when it falls between 1910-01-01 and today; other numbers (a
      four-digit birth year among them) are left as they are;
    * an id number stored as a number of 16 or more digits, or in scientific notation, is
      blanked: Excel kept only its first 15 digits. So is an 18-digit one in a text cell
      that ends in ``000`` with a check digit that does not match: Excel wrote it out so
      before the file was saved as text (a CSV).

    Each kind that occurs gives one warning (``MemberList.warnings``, also logged): the
    columns, how many values were converted and blanked, and an example row, masked.

    Args:
        source: the list's rows, e.g. from :func:`read_member_file`.
        mapping: which columns feed which field.

    Returns:
        The list: ``len(members) + len(rejected) == len(source)``.

    Raises:
        ContractViolation: the id column or a mapped column is not in ``source`` (each one
            named with the mapping key that wants it), or ``source`` already has a
            ``row_number`` or ``reason`` column.

    Examples:
        >>> mapping = MemberMap.from_dict({"id": "rid", "phone": "mobile"})
        >>> frame = pd.DataFrame({"rid": ["a", "a"], "mobile": [13800138000.0, None]})
        >>> result = map_members(frame, mapping)
        >>> result.members["phone"].tolist(), result.rejected["reason"].tolist()
        (['13800138000'], ["duplicate id 'a' (first seen on row 1)"])
    """
    _check_columns(source, mapping)
    ids = _column_text(source[mapping.id_column])
    fields: dict[str, pd.Series] = {}
    mends: dict[str, list[_Mend]] = {}
    for field, columns in mapping.fields.items():
        texts = []
        for column in columns:
            text = _column_text(source[column])
            if field in _MENDERS:
                text, mend = _MENDERS[field](text, str(column), source[column])
                if mend.changed:
                    mends.setdefault(field, []).append(mend)
            texts.append(text)
        fields[field] = _joined_text(texts)
    values = pd.DataFrame(fields, index=source.index)
    warnings = tuple(_MEND_WARNINGS[field](found) for field, found in mends.items())
    for warning in warnings:
        logger.warning("%s", warning)
    reasons = _rejection_reasons(ids, values)
    usable = pd.isna(reasons)

    members = values[usable].astype(object)
    members.insert(0, "unique_id", ids[usable])
    members = members.reset_index(drop=True)

    rejected = source[~usable].copy()
    rejected["row_number"] = np.flatnonzero(~usable) + 1
    rejected["reason"] = reasons[~usable]
    if len(rejected):
        logger.info(
            "%d of %d member rows rejected: %s",
            len(rejected),
            len(source),
            rejected["reason"].str.split(" '").str[0].value_counts().to_dict(),
        )
    return MemberList(source=source, members=members, rejected=rejected, ids=ids, warnings=warnings)


def _load_yaml(path: Path) -> Any:
    import yaml

    class _UniqueKeyLoader(yaml.SafeLoader):
        """A safe loader that refuses repeated keys instead of keeping the last one."""

    def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(k) for k, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"key(s) {repeated} appear more than once", node.start_mark
            )
        return loader.construct_mapping(node)

    _UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
    )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UnreadableFileError(f"{path}: no such mapping file. Check the path.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFileError(
            f"{path}: cannot read the mapping file ({exc}). Save it as UTF-8 text."
        ) from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise UnreadableFileError(
            f"{path}: not valid YAML ({' '.join(str(exc).split())}). Write one "
            "`field: column` pair per line, lists as `[col_a, col_b]`."
        ) from exc


def _unknown_field(key: object) -> str:
    if not isinstance(key, str):
        return f"key {key!r} is not a Butler field; keys must be field names (text)."
    word = key.strip().lower().replace("-", "_").replace(" ", "_")
    alias = _FIELD_ALIASES.get(word)
    close = [alias] if alias else difflib.get_close_matches(word, MAPPABLE_FIELDS, n=1, cutoff=0.5)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return (
        f"`{key}` is not a Butler member field.{hint} Valid fields: "
        f"{ID_KEY}, {', '.join(MAPPABLE_FIELDS)}."
    )


def _is_column_name(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _columns_of(value: object) -> tuple[str, ...] | None:
    """The source columns of one mapping value; None when it is not a name or list of names."""
    if _is_column_name(value):
        return (str(value).strip(),)
    if isinstance(value, list) and value and all(_is_column_name(v) for v in value):
        return tuple(str(v).strip() for v in value)
    return None


def _check_columns(source: pd.DataFrame, mapping: MemberMap) -> None:
    if not isinstance(source, pd.DataFrame):
        raise InvalidParameterError(
            "The `source` parameter of `map_members` must be a pandas DataFrame. Got "
            f"{type(source).__name__} instead; read the file with `read_member_file`."
        )
    present = set(source.columns)
    wanted: list[tuple[str, str]] = [(ID_KEY, mapping.id_column)]
    wanted += [(field, col) for field, cols in mapping.fields.items() for col in cols]
    missing = [(key, col) for key, col in wanted if col not in present]
    clashes = [c for c in REJECTED_COLUMNS if c in present]
    if not missing and not clashes:
        return
    names = [str(c) for c in source.columns]
    lines = []
    for key, col in missing:
        close = difflib.get_close_matches(col, names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        lines.append(f"- column {col!r}, wanted by `{key}`, is not in the file{hint}")
    for col in clashes:
        lines.append(
            f"- the file already has a column {col!r}, which Butler adds to rejected rows; "
            "rename it in the file"
        )
    raise ContractViolation(
        "The member list does not fit its mapping:\n"
        + "\n".join(lines)
        + f"\nThe file's columns are: {_column_list(source.columns)}. Fix the mapping file "
        "or the file's header."
    )


def _rejection_reasons(ids: pd.Series, values: pd.DataFrame) -> np.ndarray:
    """Each row's reason for rejection, or None for a usable row.

    A blank id wins over a repeated id, which wins over a row with no usable value.
    """
    reasons = np.full(len(ids), None, dtype=object)
    # a platform or a gender alone tells nobody apart: such a row has nothing to compare
    telling = values.drop(columns=[c for c in _CONTEXT_FIELDS if c in values.columns])
    reasons[~telling.notna().any(axis=1).to_numpy()] = REASON_NO_FIELD
    has_id = ids.notna().to_numpy()
    id_positions = np.flatnonzero(has_id)
    # factorize numbers ids in order of first appearance, so return_index finds first rows
    codes, _ = pd.factorize(ids.to_numpy()[has_id])
    _, first = np.unique(codes, return_index=True)
    repeated = first[codes] != np.arange(len(codes))
    for pos, first_pos in zip(
        id_positions[repeated], id_positions[first[codes[repeated]]], strict=True
    ):
        reasons[pos] = f"duplicate id {ids.iat[pos]!r} (first seen on row {first_pos + 1})"
    reasons[~has_id] = REASON_BLANK_ID
    return reasons


def _joined_text(texts: list[pd.Series]) -> pd.Series:
    """The columns' text joined with single spaces, blanks skipped; None when all are blank."""
    joined = texts[0]
    for part in texts[1:]:
        both = joined.notna() & part.notna()
        joined = joined.where(joined.notna(), part)
        joined[both] = joined[both] + " " + part[both]
    return joined


def _column_text(column: pd.Series) -> pd.Series:
    """One column as stripped text with None for blanks (object dtype), vectorised by dtype."""
    if isinstance(column, pd.DataFrame):
        raise ContractViolation(
            f"The member list has more than one column named {column.columns[0]!r}; "
            "rename them so each header is unique."
        )
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_integer_dtype(column.dtype):
        text = column.astype("string")
    elif pd.api.types.is_float_dtype(column.dtype):
        text = _float_text(column)
    elif pd.api.types.is_datetime64_any_dtype(column.dtype):
        text = column.dt.strftime("%Y-%m-%d").astype(object)
        timed = (column.notna() & (column != column.dt.normalize())).to_numpy()
        text[timed] = column[timed].map(_cell_text)
    elif pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        text = column.astype("string").str.strip()
    else:
        text = column.map(_cell_text)
    out = text.to_numpy(dtype=object, na_value=None)
    out[out == ""] = None
    return pd.Series(out, index=column.index, dtype=object, name=column.name)


def _float_text(column: pd.Series) -> pd.Series:
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    integral = np.isfinite(values) & (np.abs(values) < 2.0**63)
    integral[integral] = values[integral] == np.floor(values[integral])
    out = np.full(len(values), None, dtype=object)
    out[integral] = values[integral].astype(np.int64).astype(str)
    other = ~integral & ~np.isnan(values)
    out[other] = [_cell_text(v) for v in column.to_numpy()[other]]
    return pd.Series(out, index=column.index, dtype=object)


def _cell_text(value: object) -> str | None:
    """One cell as text: integral numbers without ``.0``, dates as ISO dates."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return None
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        # member lists hold birth and sign-up dates; keep a time only when there is one
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _cell_text(pd.Timestamp(value))
    return str(value).strip() or None


# -- what Excel does to phones and birth dates ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mend:
    """What mending one column changed: 0-based row positions and masked examples."""

    column: str
    converted: np.ndarray
    blanked: np.ndarray
    left: np.ndarray
    #: (what changed: "converted" or "blanked", a masked example row)
    examples: tuple[tuple[str, str], ...]

    @property
    def changed(self) -> bool:
        return bool(len(self.converted) or len(self.blanked))


def _matching(text: pd.Series, pattern: re.Pattern[str]) -> np.ndarray:
    """Positions of the text values (str or None) that are ``pattern`` whole."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # arrow's regex runs over a million-row column in a tenth of the time a Python loop takes
    values = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    whole = pc.match_substring_regex(values, f"^(?:{pattern.pattern})$")
    return np.flatnonzero(pc.fill_null(whole, False).to_numpy(zero_copy_only=False))


def _mend_phones(text: pd.Series, column: str, _cells: pd.Series) -> tuple[pd.Series, _Mend]:
    """Phones Excel wrote as numbers, back to their digits; blanked where it cut digits.

    ``1.3812345678E10`` holds every digit (its last one is the units) and becomes
    ``13812345678``; ``1.38123E+10`` is any number from 13812250000 to 13812349999 that
    Excel rounded, so it is blanked, as is a number that is not whole.
    """
    values = text.to_numpy(dtype=object, copy=True)
    converted: list[int] = []
    blanked: list[int] = []
    examples: dict[str, str] = {}
    for pos in _matching(text, EXCEL_NUMBER):
        raw = values[pos]
        digits = whole_number(raw)
        values[pos] = digits
        row = f"row {pos + 1}: {_mask_number(raw)} → "
        if digits is None:
            blanked.append(pos)
            examples.setdefault("blanked", row + "blank")
        else:
            converted.append(pos)
            examples.setdefault("converted", row + mask_phone(digits))
    mend = _Mend(
        column=column,
        converted=np.array(converted, dtype=np.int64),
        blanked=np.array(blanked, dtype=np.int64),
        left=np.array([], dtype=np.int64),
        examples=tuple((k, examples[k]) for k in ("converted", "blanked") if k in examples),
    )
    return pd.Series(values, index=text.index, dtype=object, name=text.name), mend


def _mend_birth_dates(text: pd.Series, column: str, _cells: pd.Series) -> tuple[pd.Series, _Mend]:
    """Excel serial day numbers of days from 1910-01-01 to today, as ISO dates.

    Any other number is left as it is: a four-digit birth year (as a serial it would be a
    day in 1905), or a number whose date would be after today.
    """
    today = dt.date.today()
    values = text.to_numpy(dtype=object, copy=True)
    found = _matching(text, _SERIAL)
    numbers = np.array([int(float(values[pos])) for pos in found], dtype=np.int64)
    first, last = (_FIRST_SERIAL_DATE - EXCEL_EPOCH).days, (today - EXCEL_EPOCH).days
    serial = (numbers >= first) & (numbers <= last)
    days = np.datetime64(EXCEL_EPOCH, "D") + numbers[serial].astype("timedelta64[D]")
    dates = np.datetime_as_string(days, unit="D").tolist()
    converted = found[serial]
    values[converted] = np.array(dates, dtype=object)
    examples = (("converted", f"row {converted[0] + 1} → {dates[0][:4]}-**-**"),) if dates else ()
    mend = _Mend(
        column=column,
        converted=converted,
        blanked=np.array([], dtype=np.int64),
        left=found[~serial],
        examples=examples,
    )
    return pd.Series(values, index=text.index, dtype=object, name=text.name), mend


def _mend_id_numbers(text: pd.Series, column: str, cells: pd.Series) -> tuple[pd.Series, _Mend]:
    """Id numbers a spreadsheet stored as numbers, blanked where they cannot be trusted.

    Excel keeps 15 significant digits, so an 18-digit id number typed into a number cell
    (``310101199001051234``) comes back as ``310101199001051000`` (or, through a double,
    ``310101199001051328``) or as ``3.10101E+17``: another person's number, or nobody's.
    Blanked: a number cell of 16 or more digits (in an Excel workbook, or a float column),
    and any id in scientific notation. A shorter number written as a float
    (``1804974.0``) becomes its digits. Integer columns (parquet ``int64``) hold every
    digit and are left as they are. Saved as text (a CSV), the number Excel rounded reads
    ``310101199001051000``: blanked when its check digit (the last 0) does not match the
    17 digits before it, as it does not for 10 of 11 such numbers; a true number ending in
    000 always matches, and is kept.
    """
    values = text.to_numpy(dtype=object, copy=True)
    numbers = _number_cells(cells)
    long = np.array([len(str(values[pos]).lstrip("+-")) >= 16 for pos in numbers], dtype=bool)
    untrusted = set(numbers[long].tolist()) | set(_matching(text, SCIENTIFIC).tolist())
    cut = [pos for pos in _matching(text, _CUT_ID) if check_char(values[pos][:17]) != "0"]
    untrusted.update(int(pos) for pos in cut)
    converted: list[int] = []
    for pos in _matching(text, FLOAT_TEXT):
        digits = whole_number(values[pos])
        if digits is None or len(digits.lstrip("+")) >= 16:
            untrusted.add(int(pos))
        elif pos not in untrusted:
            values[pos] = digits
            converted.append(int(pos))
    blanked = np.array(sorted(untrusted), dtype=np.int64)
    examples = []
    if converted:
        at = converted[0]
        change = f"{_mask_number(text.iat[at])} → {_mask_number(values[at])}"
        examples.append(("converted", f"row {at + 1}: {change}"))
    if len(blanked):
        at = int(blanked[0])
        examples.append(("blanked", f"row {at + 1}: {_mask_number(str(values[at]))} → blank"))
    values[blanked] = None
    mend = _Mend(
        column=column,
        converted=np.array(converted, dtype=np.int64),
        blanked=blanked,
        left=np.array([], dtype=np.int64),
        examples=tuple(examples),
    )
    return pd.Series(values, index=text.index, dtype=object, name=text.name), mend


def _number_cells(cells: pd.Series) -> np.ndarray:
    """Positions of the cells that hold a number a spreadsheet may have rounded: every
    value of a float column, and the numbers of a column of mixed cells (an Excel sheet
    read as objects gives its number cells as ``int`` or ``float``). An integer column is
    exact and gives none."""
    if pd.api.types.is_float_dtype(cells.dtype):
        return np.flatnonzero(cells.notna().to_numpy())
    if not pd.api.types.is_object_dtype(cells.dtype):
        return np.array([], dtype=np.int64)
    numeric = (int, float, decimal.Decimal, np.integer, np.floating)
    found = [
        isinstance(v, numeric) and not isinstance(v, bool | np.bool_) and v == v
        for v in cells.to_numpy()
    ]
    return np.flatnonzero(np.array(found, dtype=bool))


def _phone_warning(mends: list[_Mend]) -> str:
    converted, blanked = _totals(mends)
    return (
        f"{_where('Phone', mends)}: of the values Excel wrote as numbers (scientific "
        f"notation, or a trailing .0), {converted:,} converted back to their digits and "
        f"{blanked:,} blanked, their digits cut by Excel (a blanked phone matches no other "
        f"phone); e.g. {'; '.join(_examples(mends))}. To keep every digit, format the column "
        "as text in Excel before saving."
    )


def _birth_date_warning(mends: list[_Mend]) -> str:
    converted, blanked = _totals(mends)
    left = sum(len(m.left) for m in mends)
    kept = ""
    if left:
        kept = f" {counted(left, 'other number')} outside {_FIRST_SERIAL_DATE} … today left as is."
    dates = "a date" if converted == 1 else "dates"
    return (
        f"{_where('Birth-date', mends)}: {counted(converted, 'Excel serial day number')} "
        f"(days since {EXCEL_EPOCH.isoformat()}) converted to {dates} and {blanked:,} "
        f"blanked; e.g. {'; '.join(_examples(mends))}.{kept}"
    )


def _id_number_warning(mends: list[_Mend]) -> str:
    converted, blanked = _totals(mends)
    return (
        f"{_where('Id-number', mends)}: {counted(blanked, 'id number')} stored as a number "
        f"of 16 or more digits, in scientific notation, or as 18 digits ending in 000 whose "
        f"check digit does not match blanked (Excel keeps 15 significant digits, so the last "
        f"ones are lost; a blanked id matches no other id) and "
        f"{converted:,} written as a float converted back to their digits; e.g. "
        f"{'; '.join(_examples(mends))}. To keep every digit, format the column as text in "
        "Excel before typing or pasting the numbers."
    )


def _where(kind: str, mends: list[_Mend]) -> str:
    if len(mends) == 1:
        return f"{kind} column {mends[0].column!r}"
    each = (f"{m.column!r} ({len(m.converted)} converted, {len(m.blanked)} blanked)" for m in mends)
    return f"{kind} columns {', '.join(each)}"


def _totals(mends: list[_Mend]) -> tuple[int, int]:
    return sum(len(m.converted) for m in mends), sum(len(m.blanked) for m in mends)


def _examples(mends: list[_Mend]) -> list[str]:
    """One example of each change, from the first column that has one."""
    seen: dict[str, str] = {}
    for mend in mends:
        for change, example in mend.examples:
            seen.setdefault(change, example)
    return list(seen.values())


def _mask_number(text: str) -> str:
    """A number's digits after its first three masked, its exponent or ``.0`` kept:
    ``1.3812345678E10`` → ``1.38********E10``."""
    cut = re.search(r"[eE]|\.0+$", text)
    head, tail = (text[: cut.start()], text[cut.start() :]) if cut else (text, "")
    out, seen = [], 0
    for char in head:
        if char.isdigit():
            seen += 1
            char = char if seen <= 3 else "*"
        out.append(char)
    return "".join(out) + tail


#: Butler field → the mender of a column mapped to it.
_MENDERS: dict[str, Callable[[pd.Series, str, pd.Series], tuple[pd.Series, _Mend]]] = {
    "phone": _mend_phones,
    "birth_date": _mend_birth_dates,
    "id_number": _mend_id_numbers,
}
#: Butler field → the one warning for what its menders changed.
_MEND_WARNINGS: dict[str, Callable[[list[_Mend]], str]] = {
    "phone": _phone_warning,
    "birth_date": _birth_date_warning,
    "id_number": _id_number_warning,
}


def _column_list(columns: pd.Index) -> str:
    return ", ".join(repr(str(c)) for c in columns) or "(none)"


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in CSV_ENCODINGS:
        try:
            frame = pd.read_csv(
                path, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""]
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise UnreadableFileError(
                f"{path}: the file holds no header and no rows. Export the member list again."
            ) from exc
        except pd.errors.ParserError as exc:
            raise UnreadableFileError(
                f"{path}: not a readable CSV file ({' '.join(str(exc).split())}). Check its "
                "quoting, or save it again from Excel as CSV."
            ) from exc
        if (
            encoding == "utf-8"
            and len(frame.columns)
            and str(frame.columns[0]).startswith("\ufeff")
        ):
            continue  # a byte-order mark left on the first header: read again as utf-8-sig
        return frame
    raise UnreadableFileError(
        f"{path}: the file is neither UTF-8 nor GBK text. Save it as UTF-8 CSV and try again."
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFileError(
            f"{path}: not a readable parquet file ({exc}). The file may be truncated; "
            "write it again."
        ) from exc


def _read_excel(path: Path) -> pd.DataFrame:
    from python_calamine import CalamineError

    try:
        return pd.read_excel(
            path, engine="calamine", dtype=object, keep_default_na=False, na_values=[""]
        )
    except (CalamineError, OSError, ValueError) as exc:
        raise UnreadableFileError(
            f"{path}: not a readable Excel workbook ({exc}). The file may be truncated; "
            "download or save it again."
        ) from exc

"""Member lists: mapping files, reading CSV/Excel/parquet, and rows that cannot be used."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import ContractViolation, InvalidParameterError, UnreadableFileError
from features.identity import normalise_members
from features.member_lists import (
    MAPPABLE_FIELDS,
    REASON_BLANK_ID,
    REASON_NO_FIELD,
    MemberMap,
    map_members,
    read_member_file,
)

REPO = Path(__file__).parents[2]
MAPS = REPO / "evaluation" / "identity_maps"
LINKAGE = REPO.parent / "shared" / "data" / "linkage"

MAP = {
    "id": "record_id",
    "given_name": "given_name",
    "family_name": "surname",
    "address_line": ["street_number", "address_1", "address_2"],
    "birth_date": "date_of_birth",
    "phone": "mobile",
}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": ["r1", "r2", "r3"],
            "given_name": ["Ann", " Bo ", None],
            "surname": ["Lee", "Wu", "Ng"],
            "street_number": ["12", None, "7"],
            "address_1": ["High St", "Low Rd", ""],
            "address_2": [None, "Flat 2", "Unit 9"],
            "date_of_birth": ["1990-01-02", "1985-12-31", None],
            "mobile": ["13800138000", None, "13900000000"],
            "notes": ["vip", "", "x"],
        }
    )


def _check_happy(result, source: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(result.source, source)
    assert result.rejected.empty
    m = result.members
    assert list(m.columns) == [
        "unique_id",
        "given_name",
        "family_name",
        "phone",
        "birth_date",
        "address_line",
    ]
    assert m["unique_id"].tolist() == ["r1", "r2", "r3"]
    assert m["given_name"].tolist() == ["Ann", "Bo", None]
    assert m["address_line"].tolist() == ["12 High St", "Low Rd Flat 2", "7 Unit 9"]
    assert m["phone"].tolist() == ["13800138000", None, "13900000000"]
    assert m["birth_date"].tolist() == ["1990-01-02", "1985-12-31", None]
    assert result.warnings == ()  # nothing Excel damaged, nothing to say


def test_csv_happy_path(tmp_path):
    path = tmp_path / "members.csv"
    _frame().to_csv(path, index=False)

    source = read_member_file(path)
    result = map_members(source, MemberMap.from_dict(MAP))

    assert all(pd.api.types.is_object_dtype(t) for t in source.dtypes)
    assert pd.isna(source.loc[2, "address_1"])  # an empty cell is null, not ""
    _check_happy(result, source)


def test_xlsx_happy_path_numbers_and_dates(tmp_path):
    frame = _frame()
    frame["mobile"] = [13800138000, None, 13900000000]  # stored as numbers in the sheet
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    path = tmp_path / "members.xlsx"
    frame.to_excel(path, index=False)

    source = read_member_file(path)
    result = map_members(source, MemberMap.from_dict(MAP))

    _check_happy(result, source)


def test_parquet_happy_path(tmp_path):
    frame = _frame()
    frame["mobile"] = [13800138000.0, None, 13900000000.0]  # float because of the null
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    path = tmp_path / "members.parquet"
    frame.to_parquet(path)

    source = read_member_file(path)
    result = map_members(source, MemberMap.from_dict(MAP))

    _check_happy(result, source)


def test_integral_floats_keep_no_trailing_zero_and_dates_become_iso():
    mapping = MemberMap.from_dict(
        {"id": "uid", "phone": "phone", "postcode": "pc", "birth_date": "dob"}
    )
    source = pd.DataFrame(
        {
            "uid": [1.0, 2.0, 3.0, 4.0],
            "phone": [13800138000.0, 85291234567.0, float("nan"), 1.5],
            "pc": pd.array([100080, 200000, None, 518000], dtype="Int64"),
            "dob": [dt.date(1990, 1, 2), dt.datetime(1985, 12, 31), None, "2001-02-03"],
        }
    )

    result = map_members(source, mapping)
    m = result.members

    assert m["unique_id"].tolist() == ["1", "2", "4"]
    assert m["phone"].tolist() == ["13800138000", "85291234567", "1.5"]
    assert m["postcode"].tolist() == ["100080", "200000", "518000"]
    assert m["birth_date"].tolist() == ["1990-01-02", "1985-12-31", "2001-02-03"]
    assert result.rejected["row_number"].tolist() == [3]  # every mapped value blank
    assert all(isinstance(v, str) for v in m[["phone", "postcode"]].stack())


def test_mixed_excel_column_of_numbers_and_text(tmp_path):
    path = tmp_path / "mixed.xlsx"
    pd.DataFrame({"id": ["a", "b", "c"], "pc": [100080, "SW1A 1AA", None]}).to_excel(
        path, index=False
    )

    m = map_members(read_member_file(path), MemberMap.from_dict({"id": "id", "postcode": "pc"}))

    assert m.members["postcode"].tolist() == ["100080", "SW1A 1AA"]
    assert m.rejected["reason"].tolist() == [REASON_NO_FIELD]


def test_gbk_csv(tmp_path):
    path = tmp_path / "会员.csv"
    frame = pd.DataFrame({"编号": ["1", "2"], "姓名": ["张三", "李四"], "城市": ["广州", "深圳"]})
    frame.to_csv(path, index=False, encoding="gbk")

    source = read_member_file(path)
    result = map_members(
        source, MemberMap.from_dict({"id": "编号", "full_name": "姓名", "city": "城市"})
    )

    assert result.members["full_name"].tolist() == ["张三", "李四"]
    assert result.members["city"].tolist() == ["广州", "深圳"]


def test_utf8_bom_csv_header_is_clean(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,name\n1,王五\n".encode())

    assert list(read_member_file(path).columns) == ["id", "name"]


def test_empty_file_and_header_only_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,name\n")

    with pytest.raises(UnreadableFileError, match="empty.csv.*empty"):
        read_member_file(empty)
    with pytest.raises(UnreadableFileError, match="header.csv.*no data rows"):
        read_member_file(header_only)


def test_unknown_extension_missing_and_broken_files(tmp_path):
    odd = tmp_path / "members.txt"
    odd.write_text("id\n1\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")

    with pytest.raises(UnreadableFileError, match=r"members.txt.*\.txt.*\.csv"):
        read_member_file(odd)
    with pytest.raises(UnreadableFileError, match="no such file"):
        read_member_file(tmp_path / "nope.csv")
    with pytest.raises(UnreadableFileError, match="broken.xlsx"):
        read_member_file(broken)


def test_list_valued_mapping_joins_columns_skipping_blanks():
    mapping = MemberMap.from_dict({"id": "id", "address_line": ["a", "b", "c"]})
    source = pd.DataFrame(
        {"id": ["1", "2", "3"], "a": ["1", None, " "], "b": [" x ", "y", None], "c": ["z", "", "w"]}
    )

    assert map_members(source, mapping).members["address_line"].tolist() == ["1 x z", "y", "w"]


def test_missing_mapped_columns_are_named_with_their_keys():
    source = _frame().drop(columns=["surname", "address_2"])

    with pytest.raises(ContractViolation) as err:
        map_members(source, MemberMap.from_dict(MAP))

    message = str(err.value)
    assert "'surname', wanted by `family_name`" in message
    assert "'address_2', wanted by `address_line`" in message
    assert "'record_id'" in message  # the file's columns are listed


def test_missing_id_column():
    source = _frame().rename(columns={"record_id": "recordid"})

    with pytest.raises(ContractViolation, match=r"'record_id', wanted by `id`.*'recordid'"):
        map_members(source, MemberMap.from_dict(MAP))


def test_unknown_butler_fields_suggest_the_closest_all_at_once():
    with pytest.raises(InvalidParameterError) as err:
        MemberMap.from_dict(
            {"id": "rid", "givenname": "a", "first_name": "b", "Phone": "c", "zzz": "d"}
        )

    lines = str(err.value).splitlines()
    assert "Did you mean `given_name`?" in lines[1]  # spelling (difflib)
    assert "Did you mean `given_name`?" in lines[2]  # a common column word, not `family_name`
    assert "Did you mean `phone`?" in lines[3]
    assert "Did you mean" not in lines[4]
    assert all(", ".join(MAPPABLE_FIELDS) in line for line in lines[1:])


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"given_name": "first"}, "`id` is missing"),
        ({"id": ["a", "b"], "given_name": "first"}, "`id` must be one column name"),
        ({"id": "rid", "postcode": 2000}, "`postcode` must be a column name"),
        ({"id": "rid", "city": {"col": "x"}}, "`city` must be a column name"),
        ({"id": "rid", "city": []}, "`city` must be a column name"),
        ({"id": "rid"}, "no Butler field is mapped"),
        (["id", "rid"], "flat mapping"),
    ],
)
def test_invalid_mappings(mapping, expected):
    with pytest.raises(InvalidParameterError, match=expected):
        MemberMap.from_dict(mapping)


def test_from_yaml_reads_a_flat_mapping(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "id: record_id\ngiven_name: given_name\nfamily_name: surname\n"
        "address_line: [street_number, address_1, address_2]\nbirth_date: date_of_birth\n"
    )

    mapping = MemberMap.from_yaml(path)

    assert mapping.id_column == "record_id"
    assert mapping.fields == {
        "given_name": ("given_name",),
        "family_name": ("surname",),
        "birth_date": ("date_of_birth",),
        "address_line": ("street_number", "address_1", "address_2"),
    }


@pytest.mark.parametrize(
    ("text", "error", "expected"),
    [
        ("id: rid\ngiven_name: [a, b\n", UnreadableFileError, "not valid YAML"),
        ("id: rid\ncity: a\ncity: b\n", UnreadableFileError, "more than once"),
        ("", InvalidParameterError, "empty"),
        ("- id\n- rid\n", InvalidParameterError, "flat mapping"),
        ("id: rid\ncity:\n  col: x\n", InvalidParameterError, "`city` must be"),
        ("id: rid\ncitty: town\n", InvalidParameterError, "Did you mean `city`"),
    ],
)
def test_from_yaml_errors_name_the_file(tmp_path, text, error, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    with pytest.raises(error, match=expected) as err:
        MemberMap.from_yaml(path)
    assert "bad.yaml" in str(err.value)


def test_from_yaml_missing_file(tmp_path):
    with pytest.raises(UnreadableFileError, match="no such mapping file"):
        MemberMap.from_yaml(tmp_path / "nope.yaml")


def test_blank_duplicate_and_all_blank_rows_are_rejected_with_reasons():
    source = pd.DataFrame(
        {
            "record_id": ["a", " ", "b", "a", None, "c", "b ", "a", "d"],
            "given_name": ["Ann", "X", None, "Ann2", "Y", "Cy", "Bo", None, " "],
            "surname": ["Lee", "X", None, "Lee", "Y", None, "Wu", None, None],
        }
    )
    mapping = MemberMap.from_dict({"id": "record_id", "given_name": "given_name"})

    result = map_members(source, mapping)

    assert result.members["unique_id"].tolist() == ["a", "c"]
    rejected = result.rejected
    assert rejected["row_number"].tolist() == [2, 3, 4, 5, 7, 8, 9]
    assert rejected["reason"].tolist() == [
        REASON_BLANK_ID,
        REASON_NO_FIELD,  # "b": its first row has no usable field
        "duplicate id 'a' (first seen on row 1)",
        REASON_BLANK_ID,
        "duplicate id 'b' (first seen on row 3)",  # ids are compared stripped
        "duplicate id 'a' (first seen on row 1)",  # duplicate wins over all-blank
        REASON_NO_FIELD,
    ]
    pd.testing.assert_frame_equal(
        rejected.drop(columns=["row_number", "reason"]), source.iloc[[1, 2, 3, 4, 6, 7, 8]]
    )
    assert len(result.members) + len(result.rejected) == len(source)
    pd.testing.assert_frame_equal(result.source, source)


def test_source_columns_clashing_with_rejected_columns():
    source = pd.DataFrame({"id": ["1"], "name": ["Ann"], "reason": ["joined in 2020"]})

    with pytest.raises(ContractViolation, match="'reason'.*rename it"):
        map_members(source, MemberMap.from_dict({"id": "id", "full_name": "name"}))


def test_empty_source_frame_gives_empty_lists():
    source = pd.DataFrame({"id": pd.Series([], dtype=object), "name": pd.Series([], dtype=object)})

    result = map_members(source, MemberMap.from_dict({"id": "id", "full_name": "name"}))

    assert result.members.empty and result.rejected.empty
    assert list(result.members.columns) == ["unique_id", "full_name"]


@pytest.mark.parametrize(
    ("yaml_name", "parquet_names"),
    [
        ("febrl", ["febrl1", "febrl3", "febrl4a", "febrl4b"]),
        ("splink_historical_50k", ["splink_historical_50k"]),
        ("splink_fake_1000", ["splink_fake_1000"]),
        ("hk_mixed_script_dev", ["hk_mixed_script_dev"]),
    ],
)
def test_evaluation_maps_fit_the_linkage_sets(yaml_name, parquet_names):
    if not LINKAGE.is_dir():
        pytest.skip(f"labelled linkage data not found at {LINKAGE}")
    mapping = MemberMap.from_yaml(MAPS / f"{yaml_name}.yaml")
    # truth columns must never be mapped as features
    used = {c for cols in mapping.fields.values() for c in cols}
    assert not used & {"entity_id", "cluster", "person_id", "rec_id", "record_id"}
    for name in parquet_names:
        path = LINKAGE / f"{name}.parquet"
        if not path.is_file():
            pytest.skip(f"{path} not found")
        columns = set(pd.read_parquet(path).columns)
        wanted = {mapping.id_column} | used
        assert wanted <= columns, f"{name}: {sorted(wanted - columns)} missing"


# -- what Excel does to phones and birth dates ---------------------------------------------

EXCEL_MAP = MemberMap.from_dict(
    {"id": "id", "full_name": "name", "phone": "mobile", "birth_date": "dob"}
)


def _excel_list(mobile: list[object], dob: list[object] | None = None) -> pd.DataFrame:
    n = len(mobile)
    return pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(1, n + 1)],
            "name": [f"Member {i}" for i in range(1, n + 1)],
            "mobile": mobile,
            "dob": dob if dob is not None else [None] * n,
        }
    )


def _serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


def test_scientific_phone_holding_every_digit_becomes_its_digits(tmp_path):
    path = tmp_path / "from_excel.csv"
    path.write_text(
        "id,name,mobile,dob\n"
        "m1,Ann,1.3812345678E10,\n"
        "m2,Bo,1.3812345678e+10,\n"
        "m3,Cy,1.381234567800E10,\n"  # past the units place, but only zeros
        "m4,Di,+8.613812345678E12,\n"
        "m5,Ed,13812345678,\n"
    )

    source = read_member_file(path)
    result = map_members(source, EXCEL_MAP)

    assert result.members["phone"].tolist() == [
        "13812345678",
        "13812345678",
        "13812345678",
        "+8613812345678",
        "13812345678",
    ]
    assert source["mobile"].iat[0] == "1.3812345678E10"  # the user's rows stay as they were
    (warning,) = result.warnings
    assert "4 converted back to their digits and 0 blanked" in warning


def test_scientific_phone_with_cut_digits_is_blanked_and_matches_nothing():
    source = _excel_list(["1.38123E+10", "13812300000", "1.38123E+10", "1.3812345678E9"])
    source.loc[3, "name"] = None  # a row whose only value is the cut phone

    result = map_members(source, EXCEL_MAP)

    assert result.members["unique_id"].tolist() == ["m1", "m2", "m3"]
    assert result.members["phone"].tolist() == [None, "13812300000", None]
    # 1.3812345678E9 is 1381234567.8: not a whole number, so not a phone either
    assert result.rejected["row_number"].tolist() == [4]
    assert result.rejected["reason"].tolist() == [REASON_NO_FIELD]
    assert len(result.members) + len(result.rejected) == len(source)  # no row dropped
    keys = normalise_members(result.members).set_index("unique_id")[
        ["phone_e164", "phone_prefix", "phone_last4"]
    ]
    assert keys.loc["m2"].tolist() == ["+8613812300000", "138", "0000"]
    assert keys.loc[["m1", "m3"]].isna().all().all()  # nothing to match m2 or each other on
    assert "0 converted back to their digits and 3 blanked" in result.warnings[0]


def test_phone_written_as_a_float_in_csv_text_loses_its_zero():
    result = map_members(_excel_list(["13812345678.0", "13912345678.00", "1.5"]), EXCEL_MAP)

    assert result.members["phone"].tolist() == ["13812345678", "13912345678", "1.5"]
    assert "2 converted back to their digits and 0 blanked" in result.warnings[0]


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_phone_read_as_a_float_from_a_numeric_column(tmp_path, suffix):
    frame = _excel_list([13812345678.0, None, 13912345678.0])
    path = tmp_path / f"members{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_excel(path, index=False)

    result = map_members(read_member_file(path), EXCEL_MAP)

    assert result.members["phone"].tolist() == ["13812345678", None, "13912345678"]
    assert result.warnings == ()  # a numeric column is how these files hold numbers


def test_excel_serial_birth_dates_become_iso_dates(tmp_path):
    csv = tmp_path / "members.csv"
    csv.write_text("id,name,mobile,dob\nm1,Ann,,32874\nm2,Bo,,32874.0\nm3,Cy,,1985-12-31\n")
    numeric = _excel_list([None, None], dob=[32874, 3654])
    xlsx, parquet = tmp_path / "members.xlsx", tmp_path / "members.parquet"
    numeric.to_excel(xlsx, index=False)
    numeric.to_parquet(parquet)

    from_csv = map_members(read_member_file(csv), EXCEL_MAP)
    for path in (xlsx, parquet):
        result = map_members(read_member_file(path), EXCEL_MAP)
        assert result.members["birth_date"].tolist() == ["1990-01-01", "1910-01-01"]

    assert from_csv.members["birth_date"].tolist() == ["1990-01-01", "1990-01-01", "1985-12-31"]
    assert normalise_members(from_csv.members)["birth_year"].tolist() == ["1990"] * 2 + ["1985"]


def test_numbers_outside_the_serial_range_are_left_alone():
    today = dt.date.today()
    dob = ["0", "3653", str(_serial(today) + 1), "99999", "1990", "19900101", str(_serial(today))]

    result = map_members(_excel_list([None] * len(dob), dob=dob), EXCEL_MAP)

    # 3653 would be 1909-12-31 and today + 1 is tomorrow; 1990 is a birth year, not a day in
    # 1905; 19900101 is a compact date the normaliser reads
    assert result.members["birth_date"].tolist() == [*dob[:-1], today.isoformat()]
    (warning,) = result.warnings
    assert "1 Excel serial day number (days since 1899-12-30) converted to a date" in warning
    assert warning.endswith(" 5 other numbers outside 1910-01-01 … today left as is.")


def test_numbers_alone_out_of_range_give_no_warning():
    result = map_members(_excel_list([None, None], dob=["99999", "1990"]), EXCEL_MAP)

    assert result.members["birth_date"].tolist() == ["99999", "1990"]
    assert result.warnings == ()


def test_one_warning_per_kind_names_column_counts_and_a_masked_example(caplog):
    source = _excel_list(
        ["13812345678", "1.3812345678E10", "1.38123E+10", "1.3912345678E10"],
        dob=["1990-01-02", None, "32874", "32875"],
    )

    with caplog.at_level(logging.WARNING, logger="features.member_lists"):
        result = map_members(source, EXCEL_MAP)

    assert result.warnings == (
        "Phone column 'mobile': of the values Excel wrote as numbers (scientific notation, "
        "or a trailing .0), 2 converted back to their digits and 1 blanked, their digits cut "
        "by Excel (a blanked phone matches no other phone); e.g. row 2: 1.38********E10 → "
        "138****5678; row 3: 1.38***E+10 → blank. To keep every digit, format the column as "
        "text in Excel before saving.",
        "Birth-date column 'dob': 2 Excel serial day numbers (days since 1899-12-30) "
        "converted to dates and 0 blanked; e.g. row 3 → 1990-**-**.",
    )
    assert [r.getMessage() for r in caplog.records] == list(result.warnings)
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    # the example is masked: no whole phone or birth date in a log line
    assert not any(value in " ".join(result.warnings) for value in ("13812345678", "1990-01-01"))


def test_several_phone_columns_still_give_one_warning():
    mapping = MemberMap.from_dict({"id": "id", "phone": ["mobile", "tel"]})
    source = pd.DataFrame(
        {
            "id": ["a", "b"],
            "mobile": ["1.3812345678E10", None],
            "tel": [None, "1.39E+10"],
        }
    )

    result = map_members(source, mapping)

    assert result.members["phone"].tolist() == ["13812345678"]
    assert result.rejected["row_number"].tolist() == [2]
    (warning,) = result.warnings
    assert warning.startswith(
        "Phone columns 'mobile' (1 converted, 0 blanked), 'tel' (0 converted, 1 blanked): "
    )
    assert "row 1: 1.38********E10 → 138****5678; row 2: 1.39E+10 → blank" in warning


@settings(max_examples=60, deadline=None)
@given(number=st.integers(10**10, 10**11 - 1), shown=st.integers(1, 13))
def test_excel_notation_is_read_back_only_when_it_holds_every_digit(number, shown):
    text = f"{number:.{shown - 1}E}"  # Excel's "General" format, e.g. 1.38123E+10

    phone = map_members(_excel_list([text]), EXCEL_MAP).members["phone"].iat[0]

    # never a number the member did not write: the whole phone, or nothing
    assert phone == (str(number) if shown >= 11 else None)


ID_MAP = MemberMap.from_dict({"id": "id", "full_name": "name", "id_number": "idn"})


def _id_list(idn: list[object]) -> pd.DataFrame:
    n = len(idn)
    names = [f"Member {i}" for i in range(1, n + 1)]
    return pd.DataFrame({"id": [f"m{i}" for i in range(1, n + 1)], "name": names, "idn": idn})


def test_an_id_number_excel_stored_as_a_number_is_blanked_with_one_warning(tmp_path):
    # Excel keeps 15 significant digits: 310101199001051234 comes back with other last digits
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["id", "name", "idn"])
    for row in (["m1", "Ann", 310101199001051234], ["m2", "Bo", "310101199001051234"],
                ["m3", "Cy", 1804974], ["m4", "Di", 320102198512311000]):  # fmt: skip
        book.active.append(row)
    path = tmp_path / "members.xlsx"
    book.save(path)

    result = map_members(read_member_file(path), ID_MAP)

    assert result.members["id_number"].tolist() == [None, "310101199001051234", "1804974", None]
    (warning,) = result.warnings
    assert warning.startswith("Id-number column 'idn': 2 id numbers stored as a number of 16")
    assert "row 1: 310*************** → blank" in warning  # masked: no whole id in a log
    assert "format the column as text" in warning


def test_an_id_number_in_csv_text_is_blanked_when_scientific_or_a_long_float():
    source = _id_list(["3.10101E+17", "310101199001051000.0", "1804974.0", "44030519900501123X"])

    result = map_members(source, ID_MAP)

    assert result.members["id_number"].tolist() == [None, None, "1804974", "44030519900501123X"]
    (warning,) = result.warnings
    assert "2 id numbers stored as a number" in warning
    assert "1 written as a float converted back to their digits" in warning


def test_an_id_number_in_an_integer_or_text_column_is_exact_and_left_alone(tmp_path):
    exact = pd.DataFrame({"id": ["m1", "m2"], "name": ["Ann", "Bo"]}).assign(
        idn=pd.array([310101199001051234, 1804974], dtype="int64")
    )
    path = tmp_path / "members.parquet"
    exact.to_parquet(path)

    result = map_members(read_member_file(path), ID_MAP)
    texts = map_members(_id_list(["310101199001051234", "1804974"]), ID_MAP)

    assert result.members["id_number"].tolist() == ["310101199001051234", "1804974"]
    assert texts.members["id_number"].tolist() == ["310101199001051234", "1804974"]
    assert result.warnings == () and texts.warnings == ()


def test_an_id_number_excel_cut_to_000_and_saved_as_text_is_blanked_unless_its_check_matches():
    # 310101199001051000 is what Excel wrote of 310101199001051234 (check digit 9, not 0);
    # 310101199001059000 is a number whose check digit is its last 0
    source = _id_list(["310101199001051000", "310101199001059000", "310101199001051234"])

    result = map_members(source, ID_MAP)

    assert result.members["id_number"].tolist() == [
        None,
        "310101199001059000",
        "310101199001051234",
    ]
    (warning,) = result.warnings
    assert warning.startswith("Id-number column 'idn': 1 id number stored as a number of 16")
    assert "or as 18 digits ending in 000 whose check digit does not match blanked" in warning
    assert "row 1: 310*************** → blank" in warning


def test_a_float_column_of_long_id_numbers_is_blanked():
    source = _id_list([310101199001051234.0, 1804974.0, None])

    result = map_members(source, ID_MAP)

    assert result.members["id_number"].tolist() == [None, "1804974", None]
    assert "1 id number stored as a number of 16" in result.warnings[0]


def test_a_row_with_only_a_platform_or_gender_has_nothing_to_compare():
    source = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "name": ["张月", None, None],
            "shop": ["tmall", "jd", None],
            "sex": [None, "F", "F"],
        }
    )
    mapping = MemberMap.from_dict(
        {"id": "id", "full_name": "name", "platform": "shop", "gender": "sex"}
    )
    result = map_members(source, mapping)
    assert result.members["unique_id"].tolist() == ["1"]
    assert result.rejected["reason"].tolist() == [REASON_NO_FIELD, REASON_NO_FIELD]
    assert "a platform or gender alone compares nothing" in REASON_NO_FIELD

"""Member lists: mapping files, reading CSV/Excel/parquet, and rows that cannot be used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.errors import ContractViolation, InvalidParameterError, UnreadableFileError
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

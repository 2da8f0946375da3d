"""Member identity normalisation: each normaliser on tricky values, and frame-level contracts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from features.errors import ContractViolation, InvalidParameterError
from features.identity import MEMBER_FIELDS, NORMALISED_COLUMNS, contact_email, normalise_members
from features.text import INVISIBLE


def norm(column: str, values: list[object], **kwargs: object) -> pd.DataFrame:
    """Normalise one field given as a list of raw values."""
    frame = pd.DataFrame({"unique_id": range(len(values)), column: values})
    return normalise_members(frame, **kwargs)


def one(**fields: object) -> pd.Series:
    """The normalised row of a single member."""
    return normalise_members(
        pd.DataFrame({"unique_id": ["u1"], **{k: [v] for k, v in fields.items()}})
    ).iloc[0]


def shared(a: list[str] | None, b: list[str] | None) -> set[str]:
    return set(a or ()) & set(b or ())


# -- frame contract ---------------------------------------------------------------------------


def test_output_columns_order_and_index() -> None:
    frame = pd.DataFrame(
        {"unique_id": [30, 10, 20], "full_name": ["王伟", "李娜", "张敏"]}, index=[7, 8, 9]
    )
    out = normalise_members(frame)
    assert list(out.columns) == ["unique_id", *NORMALISED_COLUMNS]
    assert out["unique_id"].tolist() == ["30", "10", "20"]
    assert out["name_chars"].tolist() == ["王伟", "李娜", "张敏"]
    assert out.index.tolist() == [0, 1, 2]
    assert set(out.dtypes) == {np.dtype(object)}  # str, None, lists: no dates, no numbers


def test_missing_unique_id_is_a_contract_violation_naming_the_column() -> None:
    with pytest.raises(ContractViolation, match="unique_id"):
        normalise_members(pd.DataFrame({"full_name": ["王伟"]}))


@pytest.mark.parametrize("ids", [[1, None], ["a", "a"]], ids=["null", "duplicate"])
def test_null_or_repeated_ids_are_rejected(ids: list[object]) -> None:
    with pytest.raises(ContractViolation, match="unique_id"):
        normalise_members(pd.DataFrame({"unique_id": ids, "full_name": ["王伟", "李娜"]}))


def test_bad_parameters_say_what_to_pass() -> None:
    with pytest.raises(InvalidParameterError, match="phone_region"):
        normalise_members(pd.DataFrame({"unique_id": [1]}), phone_region="XX")
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        normalise_members([{"unique_id": 1}])  # type: ignore[arg-type]


def test_extra_columns_are_ignored_and_missing_fields_are_null() -> None:
    out = normalise_members(
        pd.DataFrame({"unique_id": [1], "full_name": ["王伟"], "shop_id": ["S1"], "x": [3]})
    )
    assert list(out.columns) == ["unique_id", *NORMALISED_COLUMNS]
    assert out.loc[0, "phone_e164"] is None and out.loc[0, "street"] is None


def test_null_and_blank_values_become_none_everywhere() -> None:
    blank = {f: ["  ", None] for f in MEMBER_FIELDS}
    out = normalise_members(pd.DataFrame({"unique_id": [1, 2], **blank}))
    assert out.drop(columns="unique_id").isna().all().all()
    assert all(v is None for v in out.drop(columns="unique_id").to_numpy().ravel())


def test_empty_frame_gives_empty_result() -> None:
    out = normalise_members(pd.DataFrame({"unique_id": pd.Series([], dtype=object)}))
    assert out.empty and list(out.columns) == ["unique_id", *NORMALISED_COLUMNS]


# -- names ------------------------------------------------------------------------------------


def test_traditional_becomes_simplified() -> None:
    row = one(full_name="陳昌榮")
    assert (row["name_chars"], row["family_chars"], row["given_chars"]) == ("陈昌荣", "陈", "昌荣")
    assert row["name_pinyin"] == "chen chang rong"
    assert row["name_initials"] == "ccr"


@pytest.mark.parametrize(
    ("raw", "chars", "family", "given_chars", "gender"),
    [
        ("賴雅芳先生", "赖雅芳", "赖", "雅芳", "m"),
        ("王女士", "王", "王", None, "f"),
        ("李小姐", "李", "李", None, "f"),
        ("陈生", "陈", "陈", None, "m"),  # Cantonese "Mr Chan"
        ("陈大生", "陈大生", "陈", "大生", None),  # a real given name ending in 生
        ("张老师", "张", "张", None, None),
        ("欧阳太", "欧阳", "欧阳", None, "f"),
    ],
)
def test_honorifics_are_stripped_and_hint_gender(
    raw: str, chars: str, family: str, given_chars: str | None, gender: str | None
) -> None:
    row = one(full_name=raw)
    assert row["name_chars"] == chars
    assert row["family_chars"] == family
    assert row["given_chars"] == given_chars
    assert row["gender"] == gender


def test_gender_field_wins_over_the_honorific() -> None:
    assert one(full_name="王先生", gender="女")["gender"] == "f"
    assert one(full_name="王先生", gender="U")["gender"] == "m"


def test_compound_surname() -> None:
    row = one(full_name="歐陽娜娜")
    assert (row["family_chars"], row["given_chars"]) == ("欧阳", "娜娜")
    assert row["name_pinyin"] == "ou yang na na"
    assert {"ouyang", "auyeung"} <= set(row["family_keys"])


def test_family_and_given_fields_decide_the_split() -> None:
    row = one(family_name="司", given_name="马光")
    assert (row["name_chars"], row["family_chars"], row["given_chars"]) == ("司马光", "司", "马光")
    assert one(full_name="司马光")["family_chars"] == "司马"


def test_pinyin_homophones_share_name_pinyin() -> None:
    out = norm("full_name", ["王伟", "王玮"])
    assert out["name_pinyin"].tolist() == ["wang wei", "wang wei"]
    assert out["name_chars"].nunique() == 2


@pytest.mark.parametrize(
    ("raw", "pinyin"), [("单雅芳", "shan ya fang"), ("曾小明", "zeng xiao ming")]
)
def test_surnames_use_their_surname_reading(raw: str, pinyin: str) -> None:
    assert one(full_name=raw)["name_pinyin"] == pinyin


def test_hk_romanisation_meets_the_characters() -> None:
    latin, chars = norm("full_name", ["LAI Nga Fong", "賴雅芳先生"]).to_dict("records")
    assert latin["family_keys"] == ["lai"] and latin["given_keys"] == ["ngafong"]
    assert "lai" in shared(latin["family_keys"], chars["family_keys"])
    assert "ngafong" in shared(latin["given_keys"], chars["given_keys"])
    # Mandarin and Jyutping forms are keys too
    assert {"yafang", "ngaafong"} <= set(chars["given_keys"])
    assert chars["given_keys"] == sorted(chars["given_keys"])


def test_hk_name_with_english_name_after_a_semicolon() -> None:
    latin, chars = norm("full_name", ["FUNG Yan; Raymond", "冯贤"]).to_dict("records")
    assert latin["english_name"] == "raymond"
    assert "fung" in shared(latin["family_keys"], chars["family_keys"])
    # 賢 is "yin" in the HK Government scheme, but this person writes "Yan": no shared key,
    # left on purpose to the model's fuzzy comparisons of name_latin / given_keys.
    assert "yin" in chars["given_keys"] and latin["given_keys"] == ["yan"]


@pytest.mark.parametrize(
    ("raw", "family_keys", "given_keys", "english", "latin"),
    [
        ("CHAN Tai Man; Peter", ["chan"], ["taiman"], "peter", "chan tai man"),
        ("CHAN Tai Man, Peter", ["chan"], ["taiman"], "peter", "chan tai man"),
        ("Chan Tai-man", ["chan"], ["taiman"], None, "chan tai man"),
        ("Helen Lau", ["lau"], None, "helen", "lau"),
        ("Lau, Helen", ["lau"], None, "helen", "lau"),
        ("wang xiaoming", ["wang"], ["xiaoming"], None, "wang xiao ming"),
        ("Xiaoming Wang", ["wang"], ["xiaoming"], None, "wang xiao ming"),
        ("Karen Cheung", ["cheung"], None, "karen", "cheung"),  # ka-ren is not pinyin here
        ("ＷＡＮＧ　Ｘｉａｏ", ["wang"], ["xiao"], None, "wang xiao"),
        ("Au Yeung Ka Yan", ["auyeung"], ["kayan"], None, "au yeung ka yan"),
        ("Sir John Smith", ["smith"], None, "john", "smith"),
        ("Thomas of Chudleigh", ["chudleigh"], None, "thomas", "chudleigh"),
        ("Henry Howard, 7th Duke", ["howard"], None, "henry", "howard"),
        ("CHAN Hon Ming", ["chan"], ["honming"], None, "chan hon ming"),  # Hon is 漢, not a title
    ],
)
def test_latin_names(
    raw: str, family_keys: list[str], given_keys: list[str] | None, english: str | None, latin: str
) -> None:
    row = one(full_name=raw)
    assert row["family_keys"] == family_keys
    assert row["given_keys"] == given_keys
    assert row["english_name"] == english
    assert row["name_latin"] == latin
    assert row["name_chars"] is None


def test_a_name_of_titles_and_ordinals_only_is_no_name() -> None:
    row = one(full_name="1st Bt.", given_name="1st", family_name="Bt.")
    assert row[["family_keys", "given_keys", "name_latin", "english_name"]].isna().all()
    assert row["gender"] == "m"  # a baronet


def test_latin_pinyin_and_characters_agree() -> None:
    latin, chars = norm("full_name", ["Wang Xiaoming", "王小明"]).to_dict("records")
    for column in ("name_pinyin", "name_latin", "name_initials"):
        assert latin[column] == chars[column]
    assert chars["name_initials"] == "wxm"
    assert "xiaoming" in shared(latin["given_keys"], chars["given_keys"])


def test_mixed_script_name_keeps_the_english_name() -> None:
    row = one(full_name="王小明 Peter")
    assert (row["name_chars"], row["english_name"]) == ("王小明", "peter")


@pytest.mark.parametrize(
    ("latin", "chars", "key"),
    [
        ("CHAN Tai Man", "陳大文", "taiman"),
        ("CHAN Tak Ming", "陳德明", "takming"),
        ("YEUNG Chi 軒", "楊子軒", "chihin"),
    ],
)
def test_hk_government_spellings_come_before_jyutping_ones(
    latin: str, chars: str, key: str
) -> None:
    # cantoroman lists 大 as daai, dai, tai: the ID-card spelling must survive the cap of
    # two readings per character
    romanised, written = norm("full_name", [latin, chars]).to_dict("records")
    assert key in shared(romanised["given_keys"], written["given_keys"])


@pytest.mark.parametrize(
    ("raw", "family", "given", "english"),
    [
        ("YEUNG Chi 軒; John", ["yeung"], ["chihin"], "john"),
        ("KAM 銘 Fai", ["kam"], ["mingfai"], None),
        ("YEUNG CHI 軒", ["yeung"], ["chihin"], None),
    ],
)
def test_a_character_typed_in_a_romanised_name_is_spelled_there(
    raw: str, family: list[str], given: list[str], english: str | None
) -> None:
    row = one(full_name=raw)
    assert row["name_chars"] is None
    assert (row["family_keys"], row["given_keys"], row["english_name"]) == (family, given, english)


def test_a_name_in_characters_beside_a_romanised_one_stays_in_characters() -> None:
    assert one(full_name="陳大文 Peter")["name_chars"] == "陈大文"
    assert one(full_name="Peter 陳")["name_chars"] == "陈"


def test_given_keys_are_capped() -> None:
    keys = one(full_name="欧阳娜娜")["given_keys"]
    assert 1 <= len(keys) <= 8 and "nana" in keys


def test_nickname_is_folded() -> None:
    assert one(nickname="  Ｔｂ_ABC ")["nickname"] == "tb_abc"


# -- phones -----------------------------------------------------------------------------------


def test_masked_phone_is_compatible_but_not_equal() -> None:
    out = norm("phone", ["138****5678", "13812345678"])
    masked, full = out.to_dict("records")
    assert (masked["phone_prefix"], masked["phone_last4"]) == ("138", "5678")
    assert (full["phone_prefix"], full["phone_last4"]) == ("138", "5678")
    assert masked["phone_e164"] is None and full["phone_e164"] == "+8613812345678"
    assert (masked["phone_masked"], full["phone_masked"]) == (True, False)


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "8613812345678", 13812345678.0,
     "13812345678.0", "+8613812345678.00", "1.3812345678E10", "1.3812345678e+10"],
)  # fmt: skip
def test_cn_prefixes_and_separators(raw: object) -> None:
    assert one(phone=raw)["phone_e164"] == "+8613812345678"


def test_a_phone_whose_digits_a_spreadsheet_cut_is_no_phone() -> None:
    row = one(phone="1.38123E+10")  # any of 13812250000 … 13812349999
    assert (row["phone_e164"], row["phone_prefix"], row["phone_last4"]) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "prefix", "last4"),
    [
        ("138xxxx5678", "138", "5678"),
        ("*******5678", None, "5678"),
        ("+86 138****5678", "138", "5678"),
    ],
)
def test_masked_variants_keep_what_is_visible(raw: str, prefix: str | None, last4: str) -> None:
    row = one(phone=raw)
    assert (row["phone_prefix"], row["phone_last4"], row["phone_masked"]) == (prefix, last4, True)
    assert row["phone_e164"] is None


def test_hk_numbers_with_hk_region() -> None:
    out = norm("phone", ["9123 4567", "+852 9123 4567", "13812345678"], phone_region="HK")
    assert out["phone_e164"].tolist() == ["+85291234567", "+85291234567", "+8613812345678"]
    assert out["phone_prefix"].tolist() == ["912", "912", "138"]


def test_a_number_in_a_range_the_metadata_lacks_is_kept_but_placeholders_are_not() -> None:
    # 9988 8944 is a Hong Kong mobile of the right length in a range phonenumbers does not
    # list as allocated; 88888888 and 12345678901 are what people type to fill the field
    hk = normalise_members(
        pd.DataFrame({"unique_id": ["a", "b"], "phone": ["99888944", "88888888"]}),
        phone_region="HK",
    )
    assert hk["phone_e164"].tolist() == ["+85299888944", None]
    assert hk["phone_last4"].tolist() == ["8944", None]
    cn = norm("phone", ["12345678901", "11111111111", "13812345678"])
    assert cn["phone_e164"].tolist() == [None, None, "+8613812345678"]


@pytest.mark.parametrize("raw", ['="13812345678"', "'13812345678", "`13812345678", "＇13812345678"])
def test_a_phone_kept_as_text_by_a_spreadsheet_guard_is_the_phone_inside(raw: str) -> None:
    assert one(phone=raw)["phone_e164"] == "+8613812345678"


@pytest.mark.parametrize(
    "raw",
    ["13812345678/13987654321", "13812345678,13987654321", "13812345678，13987654321",
     "13812345678；13987654321", "13812345678;13987654321", "13812345678、13987654321",
     "13812345678 / 139 8765 4321", "13812345678转8", "138-1234-5678（微信同号）",
     "手机:13812345678", "手机：138 1234 5678", "021-64371234/13812345678",
     "138****5678/13812345678", "12345678901/13812345678"],
)  # fmt: skip
def test_a_cell_with_more_than_a_phone_gives_its_first_mobile_number(raw: str) -> None:
    # a landline, a masked number or a placeholder before it does not win over a mobile
    row = one(phone=raw)
    assert (row["phone_e164"], row["phone_masked"]) == ("+8613812345678", False)


@pytest.mark.parametrize(
    "raw",
    ["13812345678 13987654321", "13812345678\u300013987654321", "13812345678  13987654321",
     "13812345678\t13987654321", "138****5678 13812345678", "021 6437 1234 13812345678"],
)  # fmt: skip
def test_two_numbers_with_only_whitespace_between_give_the_first_mobile(raw: str) -> None:
    # as with / or ; between them: a full-width space, a landline or a masked number first
    row = one(phone=raw)
    assert (row["phone_e164"], row["phone_masked"]) == ("+8613812345678", False)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("138 1234 5678 139 8765 4321", "+8613812345678"),
     ("+86 138 1234 5678\u3000+86 139 8765 4321", "+8613812345678"),
     ("0755 8888 6666 021 6437 1234", "+8675588886666"),
     ("138****5678 139 8765 4321", "+8613987654321")],
)  # fmt: skip
def test_numbers_written_with_spaces_inside_are_kept_whole_beside_another(
    raw: str, e164: str
) -> None:
    # cut at every space, no group of these would be a phone
    assert one(phone=raw)["phone_e164"] == e164


@settings(max_examples=40, deadline=None)
@given(
    first=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    second=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    cuts=st.lists(st.sets(st.integers(1, 10), max_size=3), min_size=2, max_size=2),
    gap=st.sampled_from([" ", "\u3000", "  ", "\t"]),
)
def test_two_spaced_numbers_read_as_the_same_two_with_a_slash_between(
    first: str, second: str, cuts: list[set[int]], gap: str
) -> None:
    def spaced(phone: str, at: set[int]) -> str:
        return "".join(f" {c}" if i in at else c for i, c in enumerate(phone))

    # each a number on its own (a placeholder such as 13333333333 is none, and a spaced
    # cell is split only when every group belongs to a number)
    assume(one(phone=first)["phone_e164"] and one(phone=second)["phone_e164"])
    slash = one(phone=f"{first}/{second}")
    both = one(phone=spaced(first, cuts[0]) + gap + spaced(second, cuts[1]))
    columns = ["phone_e164", "phone_prefix", "phone_last4", "phone_masked"]
    assert both[columns].tolist() == slash[columns].tolist()


def test_a_masked_phone_with_a_note_stays_masked_and_a_note_alone_is_no_phone() -> None:
    out = norm("phone", ["138****5678（微信同号）", "微信同号", "N/A", "12345/67890"])
    assert out["phone_prefix"].tolist() == ["138", None, None, None]
    assert out["phone_last4"].tolist() == ["5678", None, None, None]
    assert out["phone_e164"].isna().all()


def test_invalid_phones_give_nothing() -> None:
    out = norm("phone", ["12345", "abc", None])
    assert out["phone_e164"].isna().all() and out["phone_last4"].isna().all()
    assert out["phone_masked"].tolist() == [False, False, None]


@settings(max_examples=40, deadline=None)
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masking_never_invents_digits(phone: str) -> None:
    full, masked = norm("phone", [phone, phone[:3] + "****" + phone[-4:]]).to_dict("records")
    assert masked["phone_e164"] is None
    assert (masked["phone_prefix"], masked["phone_last4"]) == (phone[:3], phone[-4:])
    if full["phone_e164"] is not None:
        assert (full["phone_prefix"], full["phone_last4"]) == (phone[:3], phone[-4:])


# -- e-mail, dates, plain fields ----------------------------------------------------------------


def test_email() -> None:
    out = norm("email", ["  Wang.Wei@QQ.com ", "no-at-sign", "a@localhost", "x@163.con"])
    assert out["email"].tolist() == ["wang.wei@qq.com", None, None, "x@163.con"]


@pytest.mark.parametrize("raw", ['="a@qq.com"', "'a@qq.com", "`A@QQ.com"])
def test_an_email_kept_as_text_by_a_spreadsheet_guard_is_the_email_inside(raw: str) -> None:
    assert one(email=raw)["email"] == "a@qq.com"


def test_a_masked_email_is_no_email_so_two_of_them_never_agree() -> None:
    # zh***@qq.com is many people's address: like a masked phone it is not the same
    # address as another one, and it has no full address to be compared at that level
    out = norm("email", ["zh***@qq.com", "zh***@qq.com", "ZH＊＊＊@qq.com", "zh•••@163.com"])
    assert out["email"].isna().all() and out["handles"].isna().all()
    assert contact_email("zh***@qq.com") is None


@pytest.mark.parametrize(
    "raw",
    [
        "1990-05-01",
        "19900501",
        "1990/5/1",
        "1990年5月1日",
        "01/05/1990",
        "1990-05-01 00:00:00",
        19900501,
        dt.date(1990, 5, 1),
        dt.datetime(1990, 5, 1, 8, 30),
        pd.Timestamp("1990-05-01"),
    ],
)
def test_birth_date_formats(raw: object) -> None:
    row = one(birth_date=raw)
    assert (row["birth_date"], row["birth_year"], row["birth_md"]) == (
        "1990-05-01",
        "1990",
        "05-01",
    )


@pytest.mark.parametrize("raw", ["1990-02-30", "not a date", "0850-01-01", pd.NaT])
def test_invalid_birth_dates(raw: object) -> None:
    assert one(birth_date=raw)["birth_date"] is None


@pytest.mark.parametrize(
    "raw", ["1900-01-01", "1899-12-31", "1899-12-30", dt.date(1900, 1, 1), "1900年1月1日"]
)
def test_placeholder_birth_dates_are_missing(raw: object) -> None:
    # Excel's day 1 (shown 1900-01-01, read 1899-12-31) and day 0: every member without a
    # birth date would otherwise share one
    row = one(birth_date=raw)
    assert (row["birth_date"], row["birth_year"], row["birth_md"]) == (None, None, None)


@pytest.mark.parametrize("raw", ["1970-01-01", "1901-01-01", "1850-06-01", "2091-05-01"])
def test_plausible_or_historical_or_mistyped_birth_dates_are_kept(raw: str) -> None:
    # 1970-01-01 is a real birthday; historical records go back centuries; a year mistyped
    # into the future still meets the right date one digit off
    assert one(birth_date=raw)["birth_date"] == raw


def test_datetime_column() -> None:
    out = norm("birth_date", list(pd.to_datetime(["1990-05-01", None])))
    assert out["birth_date"].tolist() == ["1990-05-01", None]


@pytest.mark.parametrize(
    ("raw", "gender"),
    [("男", "m"), ("女", "f"), ("M", "m"), ("female", "f"), ("U", None),
     ("1", "m"), ("2", "f"), (1, "m"), (2.0, "f"), ("0", None), (0, None)],
)  # fmt: skip
def test_gender_field(raw: object, gender: str | None) -> None:
    # 1 and 2 as in ID numbers (and WeChat); 0 is unknown in one system, female in another
    assert one(gender=raw)["gender"] == gender


def test_plain_fields_are_stripped() -> None:
    row = one(id_number=" 44030519900501123x ", device_id=" AB12 ", platform_user_id=12345)
    assert row["id_number"] == "44030519900501123X"
    assert row["device_id"] == "AB12" and row["platform_user_id"] == "12345"


@pytest.mark.parametrize(
    "raw", ["'310101199001051234", '="310101199001051234"', "`310101199001051234"]
)
def test_an_id_number_kept_as_text_by_a_spreadsheet_guard_is_the_number_inside(raw: str) -> None:
    assert one(id_number=raw)["id_number"] == "310101199001051234"


@pytest.mark.parametrize(
    "raw",
    ["110105491231002", 110105491231002, "'110105491231002", "１１０１０５４９１２３１００２"],
)
def test_an_old_15_digit_id_number_is_its_18_digit_form(raw: object) -> None:
    assert one(id_number=raw)["id_number"] == "11010519491231002X"


def test_a_15_digit_id_number_and_the_18_digit_one_of_the_same_person_compare_equal() -> None:
    out = norm("id_number", ["310101900105123", "310101199001051236", "310101900105124"])
    old, new, other = out["id_number"].tolist()
    assert old == new != other


# -- addresses --------------------------------------------------------------------------------


def test_address_variants_meet() -> None:
    lines = [
        "广东省深圳市南山区科技园路1号5号楼",
        "深圳市南山区科技园路1号5栋",
        "廣東省深圳市南山區科技園路1號5幢",
    ]
    out = norm("address_line", lines)
    assert out["province"].tolist() == ["广东省"] * 3
    assert out["city"].tolist() == ["深圳市"] * 3
    assert out["district"].tolist() == ["南山区"] * 3
    assert out["street"].tolist() == ["科技园路1号5栋"] * 3


def test_a_flat_written_short_keeps_its_estate_or_road_key() -> None:
    lines = [
        "友谊路381号湖畔苑36号楼5单元1804室",
        "友谊路381号湖畔苑36-5-1804",
        "湖畔苑36栋5单元1804",  # no road
        "友谊路口381号湖畔苑36幢1804室",  # 路口, no unit
        "北京通州区友谊路381号36号楼1804",  # no estate
    ]
    out = norm("address_line", lines)
    assert out["flat_estate"].tolist() == ["湖畔苑|36-1804"] * 4 + [None]
    assert (
        out["flat_road"].tolist() == ["友谊路381|36-1804"] * 2 + [None] + ["友谊路381|36-1804"] * 2
    )
    no_flat = norm("address_line", ["科技园路1号5栋", "12 Cumberland Road"])
    assert no_flat[["flat_estate", "flat_road"]].isna().all().all()


def test_short_fields_are_completed_and_fields_win() -> None:
    row = one(province="广东", city="深圳", address_line="南山区科技园路1号 2单元 301室")
    assert (row["province"], row["city"], row["district"]) == ("广东省", "深圳市", "南山区")
    assert row["street"] == "科技园路1号2单元301室"
    repeated = one(province="广东省", city="深圳市", address_line="广东省深圳市科技园路1号")
    assert repeated["street"] == "科技园路1号"


def test_non_chinese_district_is_kept_as_text() -> None:
    row = one(district=" Kowloon Tong ", address_line="12 Cumberland Road")
    assert row["district"] == "kowloon tong"
    assert row["street"] == "12cumberlandroad"


def test_street_names_are_not_taken_for_cities() -> None:
    row = one(address_line="中山路100号")  # 中山 is also a city
    assert (row["city"], row["street"]) == (None, "中山路100号")


def test_ambiguous_district_does_not_guess_a_city() -> None:
    alone, with_city = norm("address_line", ["朝阳区建国路1号", "北京朝阳区建国路1号"]).to_dict(
        "records"
    )
    assert (alone["city"], alone["district"]) == (None, "朝阳区")
    assert (with_city["province"], with_city["city"]) == ("北京市", "北京市")
    assert alone["street"] == with_city["street"] == "建国路1号"


# -- batches and single records -----------------------------------------------------------------


def _sample(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    return pd.DataFrame(
        {
            "unique_id": [f"m{i}" for i in range(n)],
            "full_name": pick(
                ["王伟", "賴雅芳先生", "LAI Nga Fong", "Helen Lau", None, "欧阳娜娜"]
            ),
            "phone": pick(["138****5678", "+86 13812345678", "91234567", None]),
            "birth_date": pick(["1990-05-01", "01/05/1990", dt.date(1985, 1, 2), None]),
            "address_line": pick(["深圳市南山区科技园路1号5号楼", "中山路1号", None]),
            "gender": pick(["男", "女", None]),
        }
    )


def test_batch_of_2000_rows_repeats_give_identical_output() -> None:
    frame = _sample(2000)
    out = normalise_members(frame)
    assert len(out) == 2000 and out["unique_id"].tolist() == frame["unique_id"].tolist()
    features = out.drop(columns="unique_id").astype(str)
    key = frame.drop(columns="unique_id").astype(str).agg("|".join, axis=1)
    assert (features.groupby(key.to_numpy()).nunique() == 1).all().all()


def test_single_records_match_the_batch() -> None:
    frame = _sample(40)
    batch = normalise_members(frame)
    singles = pd.concat(
        [normalise_members(frame.iloc[[i]]) for i in range(len(frame))], ignore_index=True
    )
    pd.testing.assert_frame_equal(singles, batch)


def test_handles_are_the_letter_runs_of_email_and_latin_nickname():
    rows = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c"],
            "email": ["XuLinFei2001@126.com", None, "ab1@x.com"],
            "nickname": ["xulinfei745", "懒懒的熊", None],
        }
    )
    out = normalise_members(rows)
    assert out["handles"].iloc[0] == ["xulinfei"]
    assert out["handles"].iloc[1] is None  # no Latin letters
    assert out["handles"].iloc[2] is None  # "ab" is too short to say anything


def test_alias_handles_leave_out_the_records_own_name_spelt_out():
    rows = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c"],
            "full_name": ["徐林飞", "徐林飞", None],
            "email": ["jingbai8014@gmail.com", None, None],
            "nickname": ["xulinfei745", "linfeixu", "xulinfei_1"],
        }
    )
    out = normalise_members(rows)
    assert out["handles"].iloc[0] == ["jingbai", "xulinfei"]
    assert out["alias_handles"].iloc[0] == ["jingbai"]  # xulinfei is 徐林飞 again
    assert out["alias_handles"].iloc[1] is None  # given + family order too
    assert out["alias_handles"].iloc[2] == ["xulinfei"]  # no name: the handle is all there is


def test_family_and_given_latin_are_the_first_romanisation_joined():
    rows = pd.DataFrame({"unique_id": ["a", "b"], "full_name": ["欧阳小明", "CHAN Tai Man; Peter"]})
    out = normalise_members(rows)
    assert out[["family_latin", "given_latin"]].values.tolist() == [
        ["ouyang", "xiaoming"],
        ["chan", "taiman"],
    ]


def test_name_prefixes_are_the_first_letters_of_the_romanised_names():
    rows = pd.DataFrame(
        {
            "unique_id": range(5),
            "family_name": ["Streets", "Stfeets", "王", "Li", None],
            "given_name": ["William", "Willian", "小明", None, None],
        }
    )
    out = normalise_members(rows)
    assert out["family_prefix"].tolist() == ["str", "stf", "wan", "li", None]
    assert out["given_prefix"].tolist() == ["wil", "wil", "xia", None, None]


def test_invisible_characters_pasted_into_a_value_do_not_make_it_differ() -> None:
    rows = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "phone": ["133\u200b34503137", "13334503137"],
            "email": ["x\u200d@qq.com", "x@qq.com"],
            "full_name": ["史\ufeff梅露", "史梅露"],
        }
    )
    out = normalise_members(rows).drop(columns="unique_id")
    assert out.iloc[0].astype(str).tolist() == out.iloc[1].astype(str).tolist()


@pytest.mark.parametrize(
    "char",
    [c for c in map(chr, range(0x10000)) if INVISIBLE.fullmatch(c)],  # pinned in test_text.py
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_every_character_that_shows_nothing_is_dropped_as_chat_text_drops_it(char: str) -> None:
    # one definition for members and chats: features.text.INVISIBLE
    rows = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "phone": [f"133{char}34503137", "13334503137"],
            "nickname": [f"xu{char}linfei", "xulinfei"],
        }
    )
    out = normalise_members(rows).drop(columns="unique_id")
    assert out.iloc[0].astype(str).tolist() == out.iloc[1].astype(str).tolist()

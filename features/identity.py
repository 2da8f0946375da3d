"""Member rows → the normalised columns splink compares for identity resolution.

The same function runs at training time on millions of rows and at serving time on one
sign-up, so every normaliser is a pure function of one raw value (or a few fields of one
row). ``normalise_members`` computes each of them once per distinct value of the frame and
broadcasts the results back with numpy, which keeps a million rows to a few seconds when
names, phones and addresses repeat.

Names are the hard part: one person may be ``赖雅芳``, ``賴雅芳先生`` and ``LAI Nga Fong``.
The CJK spelling is reduced to simplified characters without honorifics; its romanisations
(Mandarin pinyin, every Hong Kong Government spelling, Jyutping) become ``family_keys`` and
``given_keys`` so a Latin spelling can meet the characters on a shared key. How a Latin name
is split into family and given name is a heuristic, documented on ``_parse_latin``.

Examples:
    >>> frame = pd.DataFrame({"unique_id": [1], "full_name": ["賴雅芳先生"]})
    >>> normalise_members(frame).loc[0, ["name_chars", "gender"]].tolist()
    ['赖雅芳', 'm']
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from itertools import islice, pairwise, product
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from features.errors import ContractViolation, InvalidParameterError
from features.resident_id import eighteen_digits
from features.text import (
    CJK,
    EXCEL_NUMBER,
    opencc,
    to_simplified,
    unguarded,
    visible_text,
    whole_number,
)

__all__ = ["MEMBER_FIELDS", "NORMALISED_COLUMNS", "normalise_members"]

logger = logging.getLogger(__name__)

MEMBER_FIELDS: tuple[str, ...] = (
    "full_name", "given_name", "family_name", "nickname", "phone", "email",
    "birth_date", "gender", "province", "city", "district", "address_line", "postcode",
    "id_number", "device_id", "union_id", "platform", "platform_user_id",
)  # fmt: skip

_NAME_COLUMNS = (
    "name_chars", "family_chars", "given_chars", "name_pinyin", "family_keys", "given_keys",
    "name_latin", "family_latin", "given_latin", "name_initials", "english_name",
)  # fmt: skip
_PHONE_COLUMNS = ("phone_e164", "phone_prefix", "phone_last4", "phone_masked")
_BIRTH_COLUMNS = ("birth_date", "birth_year", "birth_md")
_ADDRESS_COLUMNS = ("province", "city", "district", "street", "flat_estate", "flat_road")
_PLAIN_COLUMNS = ("device_id", "union_id", "platform", "platform_user_id")
#: The first letters of the romanised family and given names: a blocking key that still
#: meets a name mistyped after them (chudleigh ~ chydleigh, william ~ willian).
_PREFIX_COLUMNS = ("family_prefix", "given_prefix")
_PREFIX_LETTERS = 3

NORMALISED_COLUMNS: tuple[str, ...] = (
    *_NAME_COLUMNS, *_PREFIX_COLUMNS, "nickname", *_PHONE_COLUMNS, "email", *_BIRTH_COLUMNS,
    "gender", *_ADDRESS_COLUMNS, "postcode", "id_number", *_PLAIN_COLUMNS, "handles",
    "alias_handles",
)  # fmt: skip

_MAX_KEYS = 8  # romanised forms kept per given name
_READINGS_PER_CHAR = 2  # readings per character combined into key forms
_CACHE_SIZE = 200_000  # distinct values remembered per normaliser between calls

# -- raw values -----------------------------------------------------------------------------

_CJK = CJK


def _raw_text(value: object) -> str | None:
    """``str(value)`` stripped; None for nulls, blanks and NaN (floats like 1.0 lose the .0)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _text(value: object) -> str | None:
    """``_raw_text`` after NFKC, so full-width letters, digits and spaces become ASCII."""
    text = _raw_text(value)
    if text is None:
        return None
    return unicodedata.normalize("NFKC", text).strip() or None


@cache
def _char_s2t(char: str) -> str:
    return opencc("s2t").convert(char)


# -- romanisation -----------------------------------------------------------------------------

_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 申屠 轩辕 "
    "呼延 澹台 太史 公冶 宗政 濮阳 淳于 单于 闻人 万俟 赫连 钟离 百里 东郭 南宫 西门 独孤 "
    "拓跋 公羊 左丘 第五 司空 鲜于 仲孙 乐正 漆雕 巫马 羊舌 夹谷".split()
)
_COMMON_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
    "欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴"
    "蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席"
    "卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"
    "封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊区郜阚权帅屠朴盖练廉"
    "禹井祖漆巴丰支卿狄宣晋初门容敬扈晁芮普阙浦戈伏鹿薄邸雍辜羊乌母裘亓修邰赫杭况宿鲜印逯"
    "隆茹诸战慕危银亢嵇公湛宾戎勾茅利於居揭干尉冶束檀衣展阴昝智幸奉植衡富尧"
)
# surnames whose reading differs from the character's everyday reading
_SURNAME_PINYIN = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "覃": "qin", "缪": "miao", "乐": "yue", "尉": "yu", "翟": "zhai", "种": "chong",
    "秘": "bi", "薄": "bo", "员": "yun", "繁": "po", "万俟": "mo qi", "尉迟": "yu chi",
    "单于": "chan yu", "长孙": "zhang sun", "澹台": "tan tai", "乐正": "yue zheng",
}  # fmt: skip
_HONORIFICS = (
    ("先生", "m"), ("女士", "f"), ("小姐", "f"), ("太太", "f"), ("夫人", "f"),
    ("老师", None), ("同学", None), ("博士", None), ("医生", None),
)  # fmt: skip
# Cantonese 陈生 / 陈太: stripped only right after a bare surname, so 陈大生 keeps its 生
_SHORT_HONORIFICS = {"生": "m", "太": "f"}
_LATIN_TITLES = {"mr": "m", "mister": "m", "ms": "f", "mrs": "f", "miss": "f", "madam": "f"}
_LATIN_TITLES |= {"dr": None, "prof": None, "rev": None, "revd": None, "reverend": None}
# titles of rank, and the "of" of "Thomas of Chudleigh": never part of the name itself
# (not "Hon": it is the HK spelling of 漢, 韓, 安)
_LATIN_TITLES |= {"sir": "m", "dame": "f", "lady": "f", "bt": "m", "bart": "m"}
_LATIN_TITLES |= {"baronet": "m", "baron": "m", "baroness": "f", "viscount": "m"}
_LATIN_TITLES |= {"viscountess": "f", "countess": "f", "duke": "m", "duchess": "f"}
_LATIN_TITLES |= {"marquess": "m", "marquis": "m", "marchioness": "f", "of": None}
# common English given names that happen to spell pinyin (ka-ren, ti-na): kept English
_ENGLISH_NAMES = frozenset(
    "ada alan alice amanda angela anita anna annie diana elaine eliza erica hana julia june "
    "karen kate katie lana lena leo linda lisa luna maria marian mike mina mona natalie nina "
    "queenie rena rita sean selina sue susan tina".split()
)


@cache
def _cantonese() -> Any:
    from cantoroman import Cantonese

    return Cantonese()


def _ascii_syllables(syllables: Iterable[str]) -> tuple[str, ...]:
    return tuple(s for s in (x.lower() for x in syllables) if s.isascii() and s.isalpha())


@lru_cache(maxsize=_CACHE_SIZE)
def _mandarin(chars: str, *, surname: bool = False) -> tuple[str, ...]:
    """Toneless pinyin syllables; the surname reading of ``chars`` when ``surname``."""
    if surname and chars in _SURNAME_PINYIN:
        return tuple(_SURNAME_PINYIN[chars].split())
    if surname and len(chars) > 1:
        return tuple(s for c in chars for s in _mandarin(c, surname=True))
    from pypinyin import Style, lazy_pinyin

    return _ascii_syllables(lazy_pinyin(chars, style=Style.NORMAL))


@cache
def _cantonese_readings(char: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(HK Government romanisations, toneless Jyutping) of one simplified character."""
    canto = _cantonese()
    hk: list[str] = []
    jyut: list[str] = []
    for form in dict.fromkeys((_char_s2t(char), char)):  # cantoroman knows traditional chars
        hk += canto.getRoman(form)[0]
        jyut += [s.rstrip("0123456789") for s in canto.getLshk(form)[0]]
    # the HK Government scheme (ID cards) writes Jyutping's b d g z j as p t k ch y: its
    # spellings first (大 tai before daai, dai; 德 tak before dak), as few are combined
    hk_first = sorted(_ascii_syllables(dict.fromkeys(hk)), key=lambda s: s[0] in "bdgzj")
    return tuple(hk_first), _ascii_syllables(dict.fromkeys(jyut))


def _combinations(per_char: Sequence[Sequence[str]], per_char_limit: int | None) -> list[str]:
    if not per_char or any(not r for r in per_char):
        return []
    return ["".join(p) for p in product(*(r[:per_char_limit] for r in per_char))]


@lru_cache(maxsize=_CACHE_SIZE)
def _family_keys(family: str) -> tuple[str, ...]:
    """Surname reading in pinyin, every HK spelling and every toneless Jyutping, sorted."""
    mandarin = "".join(_mandarin(family, surname=True))
    forms = [mandarin, mandarin.replace("v", "u")] if mandarin else []
    limit = None if len(family) == 1 else _READINGS_PER_CHAR  # a lone surname keeps them all
    readings = [_cantonese_readings(c) for c in family]
    forms += _combinations([r[0] for r in readings], limit)
    forms += _combinations([r[1] for r in readings], limit)
    return tuple(sorted(set(forms)))


@lru_cache(maxsize=_CACHE_SIZE)
def _given_keys(given: str) -> tuple[str, ...]:
    """Pinyin, then HK spellings, then Jyutping (two readings per char), at most 8, sorted."""
    readings = [_cantonese_readings(c) for c in given]
    forms = ["".join(_mandarin(given))]
    forms += _combinations([r[0] for r in readings], _READINGS_PER_CHAR)
    forms += _combinations([r[1] for r in readings], _READINGS_PER_CHAR)
    kept = islice(dict.fromkeys(f for f in forms if f), _MAX_KEYS)  # Mandarin, HK, then Jyutping
    return tuple(sorted(kept))


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@cache
def _mandarin_syllables() -> frozenset[str]:
    """The ~400 toneless syllables of common (GB 2312) characters, vowel-less ones left out.

    Without the interjections (n, m, hng) and 啉's rare "len", "helen" cannot read as pinyin.
    """
    from pypinyin.constants import PINYIN_DICT

    common = (v for code, v in PINYIN_DICT.items() if _in_gb2312(chr(code)))
    known = {_fold(p) for v in common for p in v.split(",")} - {"len"}
    return frozenset({s for s in known if re.search("[aeiouy]", s)} | {"lv", "nv", "lve", "nve"})


@cache
def _hk_syllables() -> frozenset[str]:
    return frozenset(_cantonese().romanToChar)


@cache
def _surname_spellings() -> frozenset[str]:
    """Mandarin and HK spellings of common surnames, compound ones written without spaces."""
    spellings: set[str] = set()
    for surname in (*_COMMON_SURNAMES, *_COMPOUND_SURNAMES):
        readings = [_cantonese_readings(c) for c in surname]
        spellings.add("".join(_mandarin(surname, surname=True)))
        spellings.update(_combinations([r[0] for r in readings], None))
    return frozenset(spellings)


@lru_cache(maxsize=_CACHE_SIZE)
def _segment(token: str) -> tuple[str, ...] | None:
    """``xiaoming`` → ``("xiao", "ming")`` in Mandarin syllables: fewest, longest first.

    None when ``token`` cannot be read as pinyin.
    """
    if not token:
        return ()
    known = _mandarin_syllables()
    best: tuple[str, ...] | None = None
    for size in range(min(6, len(token)), 0, -1):
        if token[:size] in known:
            rest = _segment(token[size:])
            if rest is not None and (best is None or len(rest) + 1 < len(best)):
                best = (token[:size], *rest)
    return best


def _fold(text: str) -> str:
    """Latin letters without diacritics or tone marks (``Lǚ`` → ``Lu``), case kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _reads_chinese(token: str, *, hk: bool = True) -> bool:
    """A word reads as a romanised Chinese name: pinyin (``xiaoming``), or HK syllables.

    HK spellings count one syllable per word or hyphenated part (``Tai-man``), so an English
    name such as "Peter" (HK "pet" + "er") is not taken for one.
    """
    low = token.lower()
    parts = [p for p in re.split(r"[-']", low) if p]
    if not parts or low in _ENGLISH_NAMES:
        return False
    syllables = _hk_syllables() if hk else frozenset()
    return all(p in syllables or _segment(p) is not None for p in parts)


def _is_pinyin(token: str) -> bool:
    return _reads_chinese(token, hk=False)


# -- names ---------------------------------------------------------------------------------


class _Latin(NamedTuple):
    family: tuple[str, ...] = ()
    given: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    gender: str | None = None


class _Name(NamedTuple):
    name_chars: str | None = None
    family_chars: str | None = None
    given_chars: str | None = None
    name_pinyin: str | None = None
    family_keys: Sequence[str] | None = None  # a tuple in the cache, a list in the output
    given_keys: Sequence[str] | None = None
    name_latin: str | None = None
    family_latin: str | None = None  # the family name's first romanisation, syllables joined
    given_latin: str | None = None
    name_initials: str | None = None
    english_name: str | None = None
    gender: str | None = None  # from an honorific, used when the gender field is empty


_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LATIN_TOKEN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b", re.IGNORECASE)  # "1st Baron", "Henry 6th"


def _latin_tokens(text: str) -> tuple[list[str], str | None]:
    """Latin words of ``text`` with titles (Mr, Ms, Sir, Baron…) and ordinals (1st, 6th)
    removed, and the gender a title implies."""
    tokens, gender = [], None
    for token in _LATIN_TOKEN.findall(_ORDINAL.sub(" ", _fold(text).replace("’", "'"))):
        if token.lower() in _LATIN_TITLES:
            gender = gender or _LATIN_TITLES[token.lower()]
        else:
            tokens.append(token)
    return tokens, gender


def _is_caps(token: str) -> bool:
    return len(token) > 1 and token.isupper()


def _split_marked(tokens: list[str]) -> _Latin:
    """``Peter CHAN Tai Man``: the ALL-CAPS run is the family, before it English, after given."""
    start = next(i for i, t in enumerate(tokens) if _is_caps(t))
    end = start
    while end < len(tokens) and _is_caps(tokens[end]):
        end += 1
    low = [t.lower() for t in tokens]
    return _Latin(family=tuple(low[start:end]), given=tuple(low[end:]), english=tuple(low[:start]))


def _split_unmarked(tokens: list[str]) -> _Latin:
    """Family first when it reads like a Chinese name, else Western order (family last)."""
    low = [t.lower() for t in tokens]
    surnames = _surname_spellings()
    if len(low) == 1:
        return _split_single(low[0])
    if len(low) > 2 and low[0] + low[1] in surnames and all(map(_reads_chinese, low[2:])):
        return _Latin(family=tuple(low[:2]), given=tuple(low[2:]))  # Au Yeung Ka Yan
    if low[0] in surnames and all(map(_reads_chinese, low[1:])):
        return _Latin(family=(low[0],), given=tuple(low[1:]))  # wang xiaoming, Chan Tai Man
    if low[-1] in surnames and all(map(_is_pinyin, low[:-1])):
        return _Latin(family=(low[-1],), given=tuple(low[:-1]))  # Xiaoming Wang
    if low[0] in surnames and low[-1] not in surnames:
        return _Latin(family=(low[0],), english=tuple(low[1:]))  # Lau Helen
    return _Latin(family=(low[-1],), english=tuple(low[:-1]))  # Helen Lau


def _split_single(token: str) -> _Latin:
    if token in _surname_spellings():
        return _Latin(family=(token,))
    syllables = _segment(token)
    if syllables and len(syllables) > 1:
        for size in (2, 1):  # a compound surname first: ouyangnana
            head = "".join(syllables[:size])
            if size < len(syllables) and head in _surname_spellings():
                return _Latin(family=(head,), given=("".join(syllables[size:]),))
    return _Latin(english=(token,))


def _parse_latin(text: str) -> _Latin:
    """Split a Latin-script name into family, given and English (Western) given name.

    A heuristic, in this order:

    * ``CHAN Tai Man; Peter`` / ``CHAN Tai Man, Peter``: the text after ``;`` or ``,`` is an
      English name (or the given name when the part before it is a lone family name, as in
      ``Chan, Tai Man``); an ALL-CAPS word (not every word in caps) marks the family name,
      words after it are the given name, words before it an English name.
    * Otherwise, when the first word is a known surname spelling (Mandarin or HK) and the
      rest read as romanised syllables: family first (``wang xiaoming``, ``Chan Tai Man``).
    * When the last word is a surname and the rest read as pinyin: ``Xiaoming Wang``.
    * When only the first word is a surname: ``Lau Helen`` (family, then an English name).
    * Otherwise Western order: ``Helen Lau`` → family ``lau``, English name ``helen``.

    Common English names that spell pinyin (Karen = ka-ren, Tina) are listed in
    ``_ENGLISH_NAMES`` and stay English names; unlisted ones (``Bobo Wong``) read as pinyin.
    """
    main, *extras = [p for p in re.split(r"[;,/()（）]", text) if p.strip()] or [""]
    tokens, gender = _latin_tokens(main)
    extra, extra_gender = _latin_tokens(" ".join(extras))
    gender = gender or extra_gender
    if any(map(_is_caps, tokens)) and not all(map(_is_caps, tokens)):
        parsed = _split_marked(tokens)
    elif tokens:
        parsed = _split_unmarked(tokens)
    else:
        parsed = _Latin()
    extra = [t.lower() for t in extra]
    if extra and parsed.family and not parsed.given and not parsed.english:
        if all(map(_reads_chinese, extra)):
            return parsed._replace(given=tuple(extra), gender=gender)
    return parsed._replace(english=parsed.english + tuple(extra), gender=gender)


def _strip_honorific(chars: str) -> tuple[str, str | None]:
    for suffix, gender in _HONORIFICS:
        if chars.endswith(suffix):
            return chars[: -len(suffix)], gender
    rest, last = chars[:-1], chars[-1:]
    bare_surname = rest in _COMPOUND_SURNAMES or (len(rest) == 1 and rest in _COMMON_SURNAMES)
    if last in _SHORT_HONORIFICS and bare_surname:
        return rest, _SHORT_HONORIFICS[last]
    return chars, None


def _cjk_of(value: str | None) -> str:
    return to_simplified("".join(_CJK.findall(value))) if value else ""


def _split_chars(chars: str, family_field: str | None, given_field: str | None) -> tuple[str, str]:
    family, given = _cjk_of(family_field), _cjk_of(given_field)
    if family:
        return family, given or (chars[len(family) :] if chars.startswith(family) else chars)
    if given and chars.endswith(given) and len(chars) > len(given):
        return chars[: -len(given)], given
    size = 2 if chars[:2] in _COMPOUND_SURNAMES else 1
    return chars[:size], chars[size:]


def _latin_output(syllables: Sequence[str]) -> tuple[str | None, str | None]:
    if not syllables:
        return None, None
    return " ".join(syllables), "".join(s[0] for s in syllables)


def _spaced(tokens: Iterable[str]) -> tuple[str, ...]:
    """Word pieces split on hyphens/apostrophes and, where they read so, into syllables."""
    out: list[str] = []
    for piece in (p for t in tokens for p in re.split(r"[-']", t) if p):
        out.extend(_segment(piece) or (piece,))
    return tuple(out)


def _cjk_name(
    chars: str, family_field: str | None, given_field: str | None, latin: _Latin
) -> _Name:
    family, given = _split_chars(chars, family_field, given_field)
    syllables = _mandarin(family, surname=True) + (_mandarin(given) if given else ())
    pinyin, initials = _latin_output(syllables)
    english = " ".join(latin.english) or None
    return _Name(
        name_chars=chars,
        family_chars=family or None,
        given_chars=given or None,
        name_pinyin=pinyin,
        family_keys=_family_keys(family) if family else None,
        given_keys=_given_keys(given) if given else None,
        name_latin=pinyin,
        family_latin="".join(_mandarin(family, surname=True)) or None,
        given_latin="".join(_mandarin(given)) if given else None,
        name_initials=initials,
        english_name=english,
    )


def _latin_name(latin: _Latin) -> _Name:
    spaced = _spaced(latin.family) + _spaced(latin.given)
    name_latin, initials = _latin_output(spaced)
    family = "".join(_spaced(latin.family))
    given = "".join(_spaced(latin.given))
    return _Name(
        name_pinyin=name_latin,
        family_keys=(family,) if family else None,
        given_keys=(given,) if given else None,
        name_latin=name_latin,
        family_latin=family or None,
        given_latin=given or None,
        name_initials=initials,
        english_name=" ".join(latin.english) or None,
    )


def _explicit_parts(family: str | None, given: str | None) -> _Latin:
    """The family and given name fields as Latin words, when they hold any."""
    return _Latin(
        family=tuple(t.lower() for t in _latin_tokens(family or "")[0]),
        given=tuple(t.lower() for t in _latin_tokens(given or "")[0]),
    )


def _romanise_lone_chars(text: str) -> str:
    """``YEUNG Chi 軒`` → ``YEUNG Chi Hin``: a romanised name with a character typed in place
    of one of its syllables gets the character's HK spelling there.

    Only when every character stands alone among words that all read as Chinese syllables;
    a name in characters beside a romanised or English one (``陳大文 Peter``) is left as is.
    """
    main = re.split(r"[;,/()（）]", text, maxsplit=1)[0]
    words = main.split()
    lone = [w for w in words if _CJK.fullmatch(w)]
    latin = [w for w in words if w not in lone]
    if not lone or len(latin) < 2 or _CJK.search(" ".join(latin)):
        return text
    if not all(_LATIN_TOKEN.fullmatch(w) and _reads_chinese(w) for w in latin):
        return text
    caps = all(_is_caps(w) for w in latin)
    spelled = []
    for word in words:
        if word in lone:
            readings = _cantonese_readings(to_simplified(word))[0]
            if not readings:
                return text
            word = readings[0].upper() if caps else readings[0].title()
        spelled.append(word)
    return " ".join(spelled) + text[len(main) :]


@lru_cache(maxsize=_CACHE_SIZE)
def _name(full: object, family: object, given: object) -> _Name:
    full_text, family_text, given_text = _text(full), _text(family), _text(given)
    text = full_text or " ".join(t for t in (family_text, given_text) if t)
    if not text:
        return _Name()
    if _CJK.search(text) and _LATIN_LETTER.search(text):
        text = _romanise_lone_chars(text)
    chars, gender = _strip_honorific(_cjk_of(text))
    latin = _parse_latin(_CJK.sub(" ", text)) if _LATIN_LETTER.search(text) else _Latin()
    gender = gender or latin.gender
    if chars:
        return _cjk_name(chars, family_text, given_text, latin)._replace(gender=gender)
    explicit = _explicit_parts(family_text, given_text)
    if explicit.family or explicit.given:
        english = latin.english if full_text else ()
        latin = explicit._replace(english=english)
    return _latin_name(latin)._replace(gender=gender)


def _name_row(full: object, family: object, given: object) -> _Name:
    """``_name`` with fresh key lists, so a caller editing one cannot change the cache."""
    name = _name(full, family, given)
    return name._replace(
        family_keys=list(name.family_keys) if name.family_keys else None,
        given_keys=list(name.given_keys) if name.given_keys else None,
    )


# -- phones --------------------------------------------------------------------------------

_PHONE_JUNK = re.compile(r"[\s\-().·/]")
_MASK = str.maketrans({c: "*" for c in "xX×•●#?"})
_GREATER_CHINA = ("86", "852", "853", "886")


@cache
def _region_info(region: str) -> tuple[str, tuple[int, ...], re.Pattern[str] | None]:
    """(country calling code, mobile lengths, mobile pattern) of ``region``."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    mobile = meta.mobile if meta is not None else None
    lengths = tuple(mobile.possible_length) if mobile is not None else ()
    pattern = mobile.national_number_pattern if mobile is not None else None
    code = str(phonenumbers.country_code_for_region(region))
    return code, lengths, re.compile(pattern) if pattern else None


def _strip_country(digits: str, international: bool, region: str) -> str:
    code, lengths, _ = _region_info(region)
    if international:
        for cc in dict.fromkeys((code, *_GREATER_CHINA)):
            if digits.startswith(cc):
                return digits[len(cc) :]
        return digits
    if digits.startswith(code) and len(digits) not in lengths:
        if len(digits) - len(code) in lengths:
            return digits[len(code) :]
    return digits


def _parse_full(text: str, region: str) -> tuple[str, str] | None:
    """(E.164, national number) of an unmasked phone, or None when it is not a number.

    A number valid by phonenumbers' metadata is taken as is. A home-region number of the
    right length in a range the metadata does not list yet (a newly allocated prefix, such as
    some Hong Kong 99xx mobiles) is kept too: it still identifies its owner. Placeholders
    (fewer than three different digits, such as 88888888, or a run such as 12345678901) are
    not numbers.
    """
    import phonenumbers

    if not text.startswith(("+", "00")):
        for home in dict.fromkeys((region, "CN")):  # a bare mainland mobile is one anywhere
            code, _, mobile = _region_info(home)
            if mobile is not None and mobile.fullmatch(text):
                return f"+{code}{text}", text  # the common case, without phonenumbers' cost
    candidates = ["+" + text[2:]] if text.startswith("00") else [text]
    bare_codes = (_region_info(region)[0], *_GREATER_CHINA)
    if not text.startswith(("+", "00")) and text.startswith(bare_codes):
        # 85291234567 written without its plus; never any other code, or a typo such as
        # 16002000000 would become a valid +1 number
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, phonenumbers.national_significant_number(number)
    if not text.startswith(("+", "00")):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        national = phonenumbers.national_significant_number(number)
        home = phonenumbers.region_code_for_country_code(number.country_code) == region
        if (
            home
            and not _placeholder(national)
            and phonenumbers.is_possible_number_for_type(
                number, phonenumbers.PhoneNumberType.MOBILE
            )
        ):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, national
    return None


def _placeholder(digits: str) -> bool:
    """A number someone typed to fill the field: few different digits, or a run of digits."""
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(digits)}
    return len(set(digits)) < 3 or steps in ({1}, {9})


_Phone = tuple[str | None, str | None, str | None, bool | None]
_NO_PHONE: _Phone = (None, None, None, None)
#: What ends one phone in a cell that holds more, or a note: any character a phone is not
#: written with (``/``, ``,``, ``;``, ``、``, ``转``, ``微信同号``, ``手机:``).
_NOT_PHONE = re.compile(r"[^\d+*\s\-().·xX×•●#?]+")


@lru_cache(maxsize=_CACHE_SIZE)
def _phone(value: object, region: str) -> _Phone:
    """(E.164, first 3 national digits, last 4 digits, masked?) of one raw phone.

    A spreadsheet's text guard (``="…"``, a leading ``'``) is read through. A cell that is
    not one phone as a whole, such as two numbers (``13812345678/13987654321``, or with only
    a space between them: ``13812345678 13987654321``) or a number with a note
    (``13812345678转8``, ``138-1234-5678（微信同号）``, ``手机:13812345678``), gives its first
    mobile number, or else its first valid number of another kind, or else its first masked
    one: a member has one phone field, and the first number is the one the member gave first.
    """
    text = _text(value)
    if text is None:
        return _NO_PHONE
    text = unguarded(text)
    whole = _one_phone(text, region)
    if whole[0] is not None or (not _NOT_PHONE.search(text) and len(text.split()) < 2):
        return whole  # one number, or a masked one: nothing to split
    parts = [p for c in _NOT_PHONE.split(text) if c.strip() for p in _spaced_phones(c, region)]
    found = [p for p in parts if p[0] is not None]
    mobile = next((p for p in found if _is_mobile(p[0], region)), None)
    masked = next((p for p in parts if p[3] and p[2] is not None), None)
    return mobile or (found[0] if found else masked or whole)


#: Most whitespace-separated groups a cell is split into numbers by (a longer run of groups
#: is no list of phones, and splitting it would cost a parse per run of groups).
_MAX_GROUPS = 12
#: Fewest digits two numbers are written with (two 7-digit local numbers; two masked mobiles
#: show 7 each): fewer are one number at most (``+86 154 1234 5678``), never split.
_TWO_NUMBERS_DIGITS = 14


def _spaced_phones(text: str, region: str) -> list[_Phone]:
    """The phones of ``text``, which holds only characters phones are written with: one
    phone, or several separated by whitespace (``13812345678 13987654321``).

    The groups between spaces are split into numbers only when every group belongs to one
    (``138 1234 5678 139 8765 4321`` is two), so a number typed with spaces inside it
    (``138 1234 5678``, ``0755 8888 6666``) or a digit too few or too many is never cut into
    pieces that happen to read as phones. A masked number among them counts only written
    without spaces (``138****5678``): spaced, its groups cannot be told from the next number's.
    """
    alone = _one_phone(text, region)
    groups = text.split()
    two = sum(c.isdigit() for c in text) >= _TWO_NUMBERS_DIGITS
    if alone[0] is not None or not 1 < len(groups) <= _MAX_GROUPS or not two:
        return [alone]
    split = _split_groups(tuple(groups), region)
    return list(split) if split and len(split) > 1 else [alone]


def _split_groups(groups: tuple[str, ...], region: str) -> tuple[_Phone, ...] | None:
    """``groups`` as consecutive runs that are each one number, the longest first run
    first; None when they cannot all be read so."""
    # readings[i]: the numbers groups[i:] split into, or None; filled from the end
    readings: list[tuple[_Phone, ...] | None] = [None] * len(groups) + [()]
    for start in range(len(groups) - 1, -1, -1):
        for end in range(len(groups), start, -1):
            rest = readings[end]
            if rest is None:
                continue
            phone = _one_phone(" ".join(groups[start:end]), region)
            masked = phone[3] and end == start + 1 and phone[2] is not None
            if phone[0] is not None or masked:
                readings[start] = (phone, *rest)
                break
    return readings[0]


def _is_mobile(e164: str | None, region: str) -> bool:
    """Whether ``e164`` is a mobile number of ``region`` or the mainland."""
    for home in dict.fromkeys((region, "CN")):
        code, _, mobile = _region_info(home)
        prefix = "+" + code
        if e164 and e164.startswith(prefix) and mobile is not None:
            if mobile.fullmatch(e164[len(prefix) :]):
                return True
    return False


def _one_phone(text: str, region: str) -> _Phone:
    """:func:`_phone` of a text that holds at most one number."""
    # a phone a spreadsheet took for a number comes back as 13812345678.0 or 1.3812345678E10;
    # one whose digits it cut (1.38123E+10) is no phone
    if EXCEL_NUMBER.fullmatch(text):
        digits = whole_number(text)
        if digits is None:
            return None, None, None, False
        text = digits
    text = _PHONE_JUNK.sub("", text).translate(_MASK)
    if not re.fullmatch(r"\+?[\d*]+", text) or not any(c.isdigit() for c in text):
        return None, None, None, "*" in text
    if "*" in text:
        international = text.startswith(("+", "00"))
        national = _strip_country(text.lstrip("+").removeprefix("00"), international, region)
        head, tail = national[:3], national[-4:]
        visible = len(national) >= 7
        prefix = head if visible and head.isdigit() else None
        return None, prefix, tail if visible and tail.isdigit() else None, True
    parsed = _parse_full(text, region)
    if parsed is None:
        return None, None, None, False
    e164, national = parsed
    return e164, national[:3], national[-4:], False


def contact_phone(value: object, region: str = "CN") -> str | None:
    """A phone as one can dial or text it: the national number for the region's own
    (``+86 138-1234-5678`` → ``13812345678``), E.164 for another country's; None for a
    masked (``138****5678``) or unreadable one."""
    e164, _, _, masked = _phone(value, region)
    if e164 is None or masked:
        return None
    code = "+" + _region_info(region)[0]
    return e164.removeprefix(code) if e164.startswith(code) else e164


def full_chinese_name(value: object) -> str | None:
    """A name written out in Chinese characters, as a letter is addressed (韦琴静, 欧阳娜娜),
    the spaces between its characters dropped; None for pinyin ("Lin Hong"), a surname
    with an honorific (韦女士, 陈生) or a single character."""
    text = _text(value)
    if text is None:
        return None
    chars = re.sub(r"\s+", "", text)
    if not re.fullmatch(r"[\u4e00-\u9fff][\u4e00-\u9fff·]{1,}", chars):
        return None
    return chars if _strip_honorific(chars)[1] is None else None


def contact_email(value: object) -> str | None:
    """An e-mail in lower case, or None when it is not one (no domain, masked)."""
    return _email(value)


# -- e-mail, dates, gender, plain strings --------------------------------------------------


#: Characters an export masks an e-mail's user name with (``zh***@qq.com``).
_EMAIL_MASK = frozenset("*•●×")


@lru_cache(maxsize=_CACHE_SIZE)
def _email(value: object) -> str | None:
    """An e-mail in lower case, read through a spreadsheet's text guard; None when it is not
    one, or is masked: ``zh***@qq.com`` is any of many people's address, so two masked ones
    that read alike are no evidence of one person (a masked phone keeps its visible digits
    for a weaker level; an e-mail's visible letters say too little to be worth one)."""
    text = _text(value)
    if text is None:
        return None
    text = unguarded(text).lower()
    local, at, domain = text.rpartition("@")
    if _EMAIL_MASK.intersection(text):
        return None
    return text if at and local and "." in domain.strip(".") else None


_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?!\d)")


def _to_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime | pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    text = _text(value)
    if text is None:
        return None
    for pattern, order in ((_YMD, (0, 1, 2)), (_COMPACT, (0, 1, 2)), (_DMY, (2, 1, 0))):
        match = pattern.match(text)
        if match:
            year, month, day = (int(match.group(i + 1)) for i in order)
            try:
                return dt.date(year, month, day)
            except ValueError:
                return None
    return None


#: Dates a system or a spreadsheet fills an unknown birth date with: Excel's day 0 and day 1
#: as pandas reads them (1899-12-30, 1899-12-31) and as Excel shows day 1 (1900-01-01).
#: Kept, every member without a birth date would share one. 1970-01-01 (the Unix epoch) is
#: not among them: people were born that day.
_PLACEHOLDER_BIRTHS = frozenset({dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1)})


@lru_cache(maxsize=_CACHE_SIZE)
def _birth(value: object) -> tuple[str | None, str | None, str | None]:
    """(ISO date, year, "MM-DD"); None for a placeholder date (:data:`_PLACEHOLDER_BIRTHS`)
    and outside the years 1000–2100 (a mistyped year). Years before 1900 are kept, and no
    result depends on today: historical records go back centuries."""
    date = _to_date(value)
    if date is None or date in _PLACEHOLDER_BIRTHS or not 1000 <= date.year <= 2100:
        return None, None, None
    iso = date.isoformat()
    return iso, iso[:4], iso[5:]


# 1 and 2 as the ID-number convention (and WeChat's) writes them; 0 says nothing (unknown in
# WeChat, female in other systems)
_GENDERS = {
    **dict.fromkeys(("男", "男性", "m", "male", "man", "先生", "boy", "1"), "m"),
    **dict.fromkeys(("女", "女性", "f", "female", "woman", "女士", "小姐", "girl", "2"), "f"),
}


@lru_cache(maxsize=1024)
def _gender(value: object) -> str | None:
    text = _text(value)
    return _GENDERS.get(text.lower()) if text else None


@lru_cache(maxsize=_CACHE_SIZE)
def _lower(value: object) -> str | None:
    text = _text(value)
    return text.lower() if text else None


@lru_cache(maxsize=_CACHE_SIZE)
def _id_number(value: object) -> str | None:
    """An id number in upper case (the X of a check digit), read through a spreadsheet's
    text guard (``'310101199001051234``). An old 15-digit resident id number becomes its
    18-digit form (``110105491231002`` → ``11010519491231002X``), so a person's old and new
    numbers are one number."""
    text = _text(value)
    text = unguarded(text) if text else None
    if not text:
        return None
    return eighteen_digits(text) or text.upper()


# -- addresses -------------------------------------------------------------------------------


class _Admin(NamedTuple):
    province: str | None
    city: str | None
    district: str | None
    rest: str | None  # the text after the last recognised unit; None when nothing was


_NO_ADMIN = _Admin(None, None, None, None)
_MUNICIPALITIES = frozenset({"北京市", "上海市", "天津市", "重庆市"})
_ROAD_AFTER_PLACE = re.compile(r"(?:[东西南北中]?[路街巷弄道]|大[道街])")
_ADMIN_SUFFIX = re.compile(r"(?:省|市|特别行政区|(?:壮族|回族|维吾尔)?自治区)$")
_STREET_WORDS = (("号楼", "栋"), ("幢", "栋"))
_admin_cache: dict[str, _Admin] = {}  # cpca answers by text: a memo shared by calls


@cache
def _cpca() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cpca imports pkg_resources, deprecated by setuptools
        import cpca
    return cpca


@cache
def _ambiguous_districts() -> frozenset[str]:
    """District names used in more than one city (朝阳区, 西湖区…): never infer their city."""
    counts = Counter(a.name for a in _cpca().ad_2_addr_dict.values() if a.rank == 2)
    return frozenset(name for name, n in counts.items() if n > 1)


def _admin_units(texts: Sequence[str]) -> dict[str, _Admin]:
    """cpca's answer for each text: one cpca call for those not seen before, then memoised."""
    fresh = _run_cpca([t for t in dict.fromkeys(texts) if t not in _admin_cache])
    answers = {t: fresh[t] if t in fresh else _admin_cache[t] for t in texts}
    if len(_admin_cache) + len(fresh) > _CACHE_SIZE:
        _admin_cache.clear()
    _admin_cache.update(fresh)
    return answers


def _run_cpca(texts: list[str]) -> dict[str, _Admin]:
    if not texts:
        return {}
    logger.debug("cpca parses %d new address texts", len(texts))
    table = _cpca().transform(texts, pos_sensitive=True)
    columns = ("省", "市", "区", "地址", "省_pos", "市_pos", "区_pos")
    answers: dict[str, _Admin] = {}
    cut_at: dict[str, int] = {}
    for text, (prov, city, dist, rest, *pos) in zip(
        texts, zip(*(table[c].tolist() for c in columns), strict=True), strict=True
    ):
        if prov is None:
            answers[text] = _NO_ADMIN
        elif rest and _ROAD_AFTER_PLACE.match(rest):
            cut_at[text] = max(pos)  # 中山路: the last "place" was the start of a street name
        else:
            answers[text] = _tidy_admin(prov, city, dist, rest or "", pos)
    heads = _run_cpca(list(dict.fromkeys(t[:cut] for t, cut in cut_at.items() if cut > 0)))
    for text, cut in cut_at.items():
        head = heads.get(text[:cut], _NO_ADMIN)
        merged = head._replace(rest=(head.rest or "") + text[cut:])
        answers[text] = _NO_ADMIN if head.rest is None else merged
    return answers


def _tidy_admin(prov: str, city: str | None, dist: str | None, rest: str, pos: list[int]) -> _Admin:
    if pos[0] < 0 and pos[1] < 0 and dist in _ambiguous_districts():
        prov = city = None  # cpca guessed the city of a district name several cities use
    if prov in _MUNICIPALITIES and city in (None, "市辖区", "县"):
        city = prov
    return _Admin(prov, city, dist, rest)


def _strip_admin_prefix(street: str, admin: _Admin) -> str:
    names = {n for n in admin[:3] if n}
    names |= {_ADMIN_SUFFIX.sub("", n) for n in names}
    names.discard("")
    while True:
        head = next((n for n in sorted(names, key=len, reverse=True) if street.startswith(n)), None)
        if head is None:
            return street
        street = street[len(head) :]


def _street(text: str) -> str | None:
    text = re.sub(r"\s+", "", text).lower()
    for old, new in _STREET_WORDS:
        text = text.replace(old, new)
    return text or None


# building and room at the end of a street line: 36栋5单元1804室, 36-5-1804, 36栋1804 (the unit
# is often left out, so it is not part of the key)
_FLAT = re.compile(r"(\d+)(?:栋|-)(?:(\d+)(?:单元|-))?(\d+)室?$")
# road and door number at its start: 友谊路381号, 友谊路口381号
_ROAD = re.compile(r"^(.*?[路街道巷弄])口?(\d+)号")


def _flat(street: object) -> tuple[str | None, str | None]:
    """Two keys of the flat a street line points at, which survive how people shorten it:
    estate + building + room (``湖畔苑|36-1804``) and road + door number + building + room
    (``友谊路381|36-1804``). ``友谊路381号湖畔苑36栋5单元1804室``, ``湖畔苑36-5-1804`` and
    ``友谊路口381号36栋1804`` share one or the other."""
    if not isinstance(street, str) or not (flat := _FLAT.search(street)):
        return None, None
    room = f"{flat.group(1)}-{flat.group(3)}"
    road = _ROAD.match(street[: flat.start()])
    estate = street[road.end() if road else 0 : flat.start()]
    return (
        f"{estate}|{room}" if _CJK.search(estate) else None,
        f"{road.group(1)}{road.group(2)}|{room}" if road else None,
    )


def _address_text(fields: Sequence[str | None], line: str | None) -> str | None:
    """What cpca reads: the CJK fields, then the line, in simplified characters."""
    cjk_fields = [f for f in fields if f and _CJK.search(f)]
    if not cjk_fields and not (line and _CJK.search(line)):
        return None
    return to_simplified("".join(cjk_fields) + (line or ""))


def _address(
    fields: list[str | None], line_text: str | None, admin: _Admin
) -> tuple[str | None, ...]:
    """(province, city, district, street) of one row, given cpca's answer for it."""
    units = [a or (f.lower() if f else None) for a, f in zip(admin[:3], fields, strict=True)]
    if line_text is None:
        return (*units, None)
    street = to_simplified(line_text)
    if admin.rest is not None and len(admin.rest) <= len(street):
        street = admin.rest  # the line without the units cpca recognised at its start
    return (*units, _street(_strip_admin_prefix(street, admin)))


# -- frame plumbing --------------------------------------------------------------------------


def _group(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, list[tuple[object, ...]]]:
    """Per row, the index of its distinct combination of ``columns``, and the combinations."""
    n = len(columns[0])
    if n == 1:  # one record (a service's match): factorizing costs more than it saves
        return np.zeros(1, dtype=np.int64), [tuple(column[0] for column in columns)]
    combined = np.zeros(n, dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)  # nulls get -1, so they stay one group
        combined, _ = pd.factorize(combined * (len(uniques) + 1) + codes + 1)
    k = int(combined.max()) + 1 if n else 0
    first = np.empty(k, dtype=np.int64)
    first[combined[::-1]] = np.arange(n - 1, -1, -1)  # the earliest row of each group wins
    rows = list(zip(*(column[first] for column in columns), strict=True))
    return combined, rows


def _map_unique(
    columns: Sequence[np.ndarray], func: Callable[..., Sequence[object]], width: int
) -> list[np.ndarray]:
    """``func`` once per distinct row of ``columns``, broadcast back to every row."""
    codes, rows = _group(columns)
    results = [func(*map(_visible, row)) for row in rows]
    outputs = []
    for j in range(width):
        values = np.fromiter((r[j] for r in results), dtype=object, count=len(results))
        outputs.append(values[codes])
    return outputs


def _visible(value: object) -> object:
    """``value`` without the characters that show nothing (zero-width spaces and joiners, a
    BOM, a soft hyphen: pasted into a phone or a name from a chat app, they would make equal
    values differ), when it is text."""
    return visible_text(value) if isinstance(value, str) else value


def _map_one(column: np.ndarray, func: Callable[[object], object]) -> np.ndarray:
    return _map_unique([column], lambda v: (func(v),), 1)[0]


def _check_frame(frame: object, phone_region: object) -> None:
    import phonenumbers

    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            "The `frame` parameter of `normalise_members` must be a pandas DataFrame. "
            f"Got {type(frame).__name__} instead."
        )
    if phone_region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidParameterError(
            "The `phone_region` parameter of `normalise_members` must be a two-letter region "
            f"code phonenumbers knows, such as 'CN' or 'HK'. Got {phone_region!r} instead."
        )
    if "unique_id" not in frame.columns:
        raise ContractViolation(
            "`normalise_members` needs a `unique_id` column (one id per member row); the frame "
            f"has {list(frame.columns)[:20]}. Add it, e.g. `frame.assign(unique_id=...)`."
        )
    ids = frame["unique_id"]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())[:5].tolist()
        raise ContractViolation(
            f"The `unique_id` column has {int(ids.isna().sum())} null values (rows {rows}…). "
            "Give every member row an id before normalising."
        )
    duplicated = ids.astype(str).duplicated()
    if duplicated.any():
        examples = ids[duplicated].astype(str).unique()[:5].tolist()
        raise ContractViolation(
            f"The `unique_id` column repeats {int(duplicated.sum())} ids, e.g. {examples}; "
            "splink needs one id per row. Prefix ids with their platform to make them unique."
        )


def normalise_members(frame: pd.DataFrame, *, phone_region: str = "CN") -> pd.DataFrame:
    """Normalise member rows into the columns splink compares.

    Args:
        frame: a ``unique_id`` column (any type, turned into ``str``) and any subset of
            ``MEMBER_FIELDS``; missing fields count as null, other columns are ignored.
        phone_region: region of phones written without a country code (``"CN"``, ``"HK"``).

    Returns:
        One row per input row, in the same order with a fresh index: ``unique_id`` then
        ``NORMALISED_COLUMNS``. Values are ``str`` or ``None``; ``family_keys`` and
        ``given_keys`` are lists of ``str`` (``None`` when empty); ``phone_masked`` is a
        ``bool`` (``None`` without a phone). Rows sharing a name share the list objects.

    Raises:
        InvalidParameterError: ``frame`` is not a DataFrame or ``phone_region`` is unknown.
        ContractViolation: ``unique_id`` is missing, null or repeated.

    Examples:
        >>> rows = pd.DataFrame({"unique_id": [1, 2], "phone": ["138****5678", "13812345678"]})
        >>> normalise_members(rows)[["phone_prefix", "phone_last4"]].drop_duplicates().shape
        (1, 2)
    """
    _check_frame(frame, phone_region)
    n = len(frame)

    def field(name: str) -> np.ndarray:
        if name in frame.columns:
            return frame[name].to_numpy(dtype=object)
        return np.full(n, None, dtype=object)

    out: dict[str, np.ndarray] = {"unique_id": frame["unique_id"].astype(str).to_numpy(object)}
    name_fields = [field("full_name"), field("family_name"), field("given_name")]
    *names, name_gender = _map_unique(name_fields, _name_row, len(_Name._fields))
    out.update(zip(_NAME_COLUMNS, names, strict=True))
    for prefix, name in zip(_PREFIX_COLUMNS, ("family_latin", "given_latin"), strict=True):
        out[prefix] = _map_one(out[name], lambda v: v[:_PREFIX_LETTERS] if v else None)
    out["nickname"] = _map_one(field("nickname"), _lower)
    phones = _map_unique([field("phone")], lambda v: _phone(v, phone_region), 4)
    out.update(zip(_PHONE_COLUMNS, phones, strict=True))
    out["email"] = _map_one(field("email"), _email)
    out.update(zip(_BIRTH_COLUMNS, _map_unique([field("birth_date")], _birth, 3), strict=True))
    stated = _map_one(field("gender"), _gender)
    out["gender"] = np.where(pd.isna(stated), name_gender, stated)
    out.update(zip(_ADDRESS_COLUMNS[:4], _addresses(field), strict=True))
    out["flat_estate"], out["flat_road"] = _map_unique([out["street"]], _flat, 2)
    out["postcode"] = _map_one(field("postcode"), _text)
    out["id_number"] = _map_one(field("id_number"), _id_number)
    for name in _PLAIN_COLUMNS:
        out[name] = _map_one(field(name), _raw_text)
    out["handles"] = _handles(out["email"], out["nickname"])
    out["alias_handles"] = _alias_handles(out["handles"], out["family_latin"], out["given_latin"])
    columns = ["unique_id", *NORMALISED_COLUMNS]
    # one object block, as pandas would consolidate the columns, built without checking
    # each column for dates (none are): on one record that check was half the cost
    block = np.stack([out[name] for name in columns])
    return pd.DataFrame(block.T, columns=columns, dtype=object, copy=False)


_HANDLE = re.compile(r"[a-z]+")


def _handles(emails: np.ndarray, nicknames: np.ndarray) -> np.ndarray:
    """Per row, the handles a person reuses across accounts: the letters of the e-mail user
    name and of a Latin nickname, digits and separators dropped (``xulinfei2001@126.com`` and
    nickname ``xulinfei_745`` both give ``xulinfei``, which is also 徐林飞's pinyin); fewer
    than 4 letters say too little and are left out."""
    out = np.full(len(emails), None, dtype=object)
    for i, (email, nick) in enumerate(zip(emails, nicknames, strict=True)):
        found = set()
        for text in (email.split("@", 1)[0] if email else None, nick):
            letters = "".join(_HANDLE.findall(text)) if text else ""
            if len(letters) >= 4:
                found.add(letters)
        kept = sorted(found)
        out[i] = kept or None
    return out


def _alias_handles(handles: np.ndarray, family: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Per row, the handles that say more than the name: those that are not the record's own
    name spelt out (``xulinfei`` of 徐林飞 is the name again, and two different 徐林飞 share
    it; ``jingbai`` of 徐林飞's e-mail is not)."""
    out = np.full(len(handles), None, dtype=object)
    for i, (found, fam, giv) in enumerate(zip(handles, family, given, strict=True)):
        if found is None:
            continue
        spelt = {fam + giv, giv + fam} if fam and giv else set()
        kept = [h for h in found if h not in spelt]
        out[i] = kept or None
    return out


def _addresses(field: Callable[[str], np.ndarray]) -> list[np.ndarray]:
    columns = [field(name) for name in ("province", "city", "district", "address_line")]
    codes, rows = _group(columns)
    cleaned = [([_text(v) for v in row[:3]], _text(row[3])) for row in rows]
    texts = [_address_text(fields, line) for fields, line in cleaned]
    answers = _admin_units([t for t in texts if t])
    results = [
        _address(fields, line, answers[text] if text else _NO_ADMIN)
        for (fields, line), text in zip(cleaned, texts, strict=True)
    ]
    columns_out = (np.fromiter((r[j] for r in results), object, len(results)) for j in range(4))
    return [values[codes] for values in columns_out]

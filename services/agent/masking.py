"""Masking of personal data before anything is sent to an external LLM endpoint.

What is masked, in free text (questions, history, pasted conversations, tool output strings):

- Chinese mobile numbers in any form (``13812345678``, ``+86 138-1234-5678``,
  ``138 1234 5678``) become ``138****5678`` (first 3 and last 4 digits kept, the country
  prefix and separators dropped); an already-masked ``138****5678`` stays as it is.
- E-mail addresses become ``p***@example.com``.
- 18-digit ID card numbers become ``110***********123X``.
- Chinese names introduced by a cue: after 我叫/姓名/名字是/收货人/联系人 (any 2–4 Han
  characters), after 客户/顾客/会员/买家/我是 and before 先生/女士/小姐 (only when they start
  with a common surname, so 客户反馈 stays readable). A name keeps its first character and
  the rest become ``*`` (张三 → 张*, 欧阳娜娜 → 欧***). A bare surname (张先生) is left alone.
- English names after "my name is" (John Smith → J*** S****).

What is masked in JSON-able data (tool results), by key:

- Keys that always hold a person's name (:data:`NAME_KEYS`: ``full_name``, ``nickname``,
  ``receiver_name``, ``given_name``, ``family_name``, ...) are masked as names.
- A plain ``name`` key is masked only inside a *member-like* dict: one that has a key of
  :data:`PERSON_KEYS` (``member_id``, ``person_id``, ``phone``, ``email``, ...) or that sits
  under a key of :data:`PERSON_CONTAINERS` (``member``, ``candidates``, ...). Sales rows,
  products, warehouses and shops carry ``name`` too (a product's or a warehouse's), and those
  must stay readable: the butler's answers name products and SKUs.
- Phone, e-mail, ID card and address keys are masked even when their value has an unusual
  form (a foreign phone number keeps only its first 3 and last 4 digits).
- Every other string goes through the free-text rules; numbers, booleans and keys never change.

Masking is deterministic and idempotent (masking masked text changes nothing), and it errs on
the side of masking: a cue followed by a word that is not a name (客户马上) masks that word.
It cannot find a name with no cue around it; a free ``SELECT`` whose columns are renamed is
masked by the free-text rules only.

A :class:`Masker` also remembers, for the question it is used on, which original value each
masked token stands for, so that a tool argument the model copies from the masked question
(``match_member(phone="138****5678")``) can be given back its real value before the tool runs
on this machine (:meth:`Masker.unmask`). A token two different originals share is ambiguous
and stays masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "NAME_KEYS",
    "PERSON_CONTAINERS",
    "PERSON_KEYS",
    "Masker",
    "mask_data",
    "mask_text",
]

#: Keys whose value is always a person's name, wherever they appear.
NAME_KEYS = frozenset(
    {
        "full_name",
        "nickname",
        "nick",
        "receiver_name",
        "given_name",
        "family_name",
        "buyer_nick",
        "buyer_name",
        "contact_name",
        "customer_name",
        "member_name",
        "real_name",
    }
)
#: Keys that make a dict member-like: its ``name`` key is then a person's name.
PERSON_KEYS = frozenset(
    {
        "member_id",
        "person_id",
        "platform_user_id",
        "record_id",
        "phone",
        "mobile",
        "email",
        "birth_date",
        "gender",
        "union_id",
        "id_card",
    }
)
#: Keys whose dicts (or lists of dicts) are member-like.
PERSON_CONTAINERS = frozenset(
    {"member", "members", "candidate", "candidates", "person", "persons", "customer", "buyer"}
)
_PHONE_KEYS = frozenset(
    {"phone", "mobile", "receiver_phone", "contact_phone", "telephone", "tel", "phone_number"}
)
_EMAIL_KEYS = frozenset({"email", "e_mail", "mail"})
_ID_KEYS = frozenset({"id_card", "id_number", "id_card_number", "identity_card"})
_ADDRESS_KEYS = frozenset({"address", "address_line", "receiver_address", "detail_address"})

_HAN = "\u4e00-\u9fff"
# Common surnames; characters that are mostly other words in shop talk (付款, 余额, 金额, 于,
# 向, 方, 万, 白, 马上 aside) are left out so that 客户付款 is not taken for a name.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范石廖贾夏韦邹孟熊秦邱尹薛闫段雷侯史陶黎贺顾毛郝龚邵钱严覃武戴"
    "莫孔汤"
)
_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "令狐", "司徒", "长孙")
_SURNAME = f"(?:{'|'.join(_COMPOUND)}|[{_SURNAMES}])"
# A name ends before one of these (我叫张三想问 → 张三) or before 先生/女士/小姐.
_STOP = frozenset(
    "的是在和与了吗呢啊吧要想说问请电手号从到给对也都就还已会能将把被让叫姓名来去买投退申称打留"
)

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+@*-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z*_-])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[\dXx](?![0-9A-Za-z_])"
)
_SEP = r"[ \-.]?"
_PHONE = re.compile(
    r"(?<![0-9A-Za-z*+_-])(?:(?:\+|00)?86[ \-]?)?(1[3-9]\d)"
    rf"{_SEP}(\d{{4}}|\*{{4}}){_SEP}(\d{{4}})(?![0-9A-Za-z*_])"
)
_NAME_CUE = re.compile(
    rf"(?:我叫|我的名字是|名字是|名字叫|姓名|收货人|收件人|联系人|[Nn]ame)\s*[:：]?\s*([{_HAN}]{{2,4}})"
)
_SURNAME_CUE = re.compile(
    rf"(?:客户|顾客|会员|买家|用户|我是)\s*[:：]?\s*({_SURNAME}[{_HAN}]{{1,2}})"
)
_HONORIFIC = re.compile(rf"({_SURNAME}[{_HAN}]{{1,2}}?)(?=先生|女士|小姐)")
_EN_NAME = re.compile(
    r"(?i:\bmy name is|\bmy name's)\s+([A-Za-z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+){0,2})"
)


def _trim_name(name: str) -> str:
    """The name part of the Han characters after a cue (at most 3, 4 with 欧阳-like surnames)."""
    name = re.split("先生|女士|小姐", name)[0]
    longest = 4 if name.startswith(_COMPOUND) else 3
    name = name[:longest]
    for i, char in enumerate(name[1:], start=1):
        if char in _STOP:
            return name[:i]
    return name


def _mask_word(word: str) -> str:
    return word[:1] + "*" * (len(word) - 1)


def _mask_name_value(value: str) -> str:
    """A name field's value: each word keeps its first character (John Smith → J*** S****)."""
    return re.sub(r"[^\s]+", lambda m: _mask_word(m.group()), value)


class Masker:
    """Masks personal data in text and JSON-able data, remembering what each token stood for.

    One masker serves one question (with its history and the tool results fed back), so
    :meth:`unmask` can restore values the model copies into tool arguments.

    Examples:
        >>> m = Masker()
        >>> m.text("我叫张三，手机 +86 138-1234-5678")
        '我叫张*，手机 138****5678'
        >>> m.unmask({"phone": "138****5678", "full_name": "张*"})
        {'phone': '13812345678', 'full_name': '张三'}
    """

    def __init__(self) -> None:
        self._originals: dict[str, str | None] = {}

    @property
    def originals(self) -> dict[str, str]:
        """Each unambiguous masked token and the original value it replaced."""
        return {token: value for token, value in self._originals.items() if value is not None}

    def _remember(self, original: str, token: str) -> str:
        if token != original:
            known = self._originals.setdefault(token, original)
            if known is not None and known != original:
                self._originals[token] = None  # two originals, one token: never unmask it
        return token

    # -- free text --------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """``text`` with phone numbers, e-mails, ID card numbers and cued names masked."""
        text = _EMAIL.sub(self._email, text)
        text = _ID_CARD.sub(lambda m: self._remember(m.group(), _mask_id(m.group())), text)
        text = _PHONE.sub(self._phone, text)
        # Until nothing changes: a match consumes text that may hold the next cue
        # (我叫张三姓名张三). Each round masks at least one Han character, so this ends.
        masked = None
        while masked != text:
            masked = text
            for pattern in (_NAME_CUE, _SURNAME_CUE, _HONORIFIC):
                text = pattern.sub(self._cued_name, text)
        return _EN_NAME.sub(self._english_name, text)

    def _email(self, found: re.Match[str]) -> str:
        local, domain = found.groups()
        return self._remember(found.group(), f"{local[0]}***@{domain}")

    def _phone(self, found: re.Match[str]) -> str:
        head, middle, tail = found.groups()
        token = f"{head}****{tail}"
        # Remember the bare number, so two spellings of one phone do not make it ambiguous.
        return token if middle == "****" else self._remember(head + middle + tail, token)

    def _cued_name(self, found: re.Match[str]) -> str:
        name = _trim_name(found.group(1))
        if len(name) < 2:
            return found.group()
        start = found.start(1) - found.start()
        whole = found.group()
        return whole[:start] + self._remember(name, _mask_word(name)) + whole[start + len(name) :]

    def _english_name(self, found: re.Match[str]) -> str:
        name = found.group(1)
        start = found.start(1) - found.start()
        return found.group()[:start] + self._remember(name, _mask_name_value(name))

    # -- data -------------------------------------------------------------------------------

    def data(self, value: Any) -> Any:
        """A copy of JSON-able ``value`` with personal data masked (rules: module docstring).

        Dicts, lists and tuples are walked; strings are masked by their key or as free text;
        anything else is returned unchanged.
        """
        return self._walk(value, parent=None)

    def _walk(self, value: Any, parent: str | None) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            member_like = parent in PERSON_CONTAINERS or any(
                str(key).lower() in PERSON_KEYS for key in value
            )
            return {
                key: self._field(str(key).lower(), item, member_like) for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._walk(item, parent) for item in value]
        return value

    def _field(self, key: str, value: Any, member_like: bool) -> Any:
        if not isinstance(value, str):
            return self._walk(value, parent=key)
        if key in NAME_KEYS or (key == "name" and member_like):
            return self._remember(value, _mask_name_value(value))
        if key in _PHONE_KEYS:
            # until nothing changes: hiding digits can open the word boundary a text rule
            # needs ("13800000000my name is …" has none before "my" until the 0 is a *).
            # Each round hides or drops characters, so this ends
            masked, before = _mask_digits(self.text(value)), value
            while masked != before:
                masked, before = _mask_digits(self.text(masked)), masked
            return self._remember(value, masked)
        if key in _ID_KEYS:
            return self._remember(value, _mask_id(value))
        if key in _ADDRESS_KEYS:
            return self._remember(value, value[:3] + "***" if len(value) > 3 else value)
        return self.text(value)

    # -- back ---------------------------------------------------------------------------------

    def unmask(self, value: Any) -> Any:
        """A copy of ``value`` with every masked token this masker made replaced by its original.

        Used on the tool arguments the model sends, never on anything sent out.
        """
        originals = self.originals
        if not originals:
            return value
        pattern = re.compile(
            "|".join(
                rf"(?<![*\d]){re.escape(token)}(?![*\d])"
                for token in sorted(originals, key=len, reverse=True)
            )
        )
        return _map_strings(value, lambda s: pattern.sub(lambda m: originals[m.group()], s))


def _map_strings(value: Any, func: Any) -> Any:
    if isinstance(value, str):
        return func(value)
    if isinstance(value, Mapping):
        return {key: _map_strings(item, func) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, func) for item in value]
    return value


def _mask_id(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else value


def _mask_digits(value: str) -> str:
    """Keep the first 3 and last 4 digits of a phone-like value with 8 or more digits."""
    positions = [i for i, char in enumerate(value) if char.isdigit()]
    if len(positions) < 8:
        return value
    hidden = set(positions[3:-4])
    return "".join("*" if i in hidden else char for i, char in enumerate(value))


def mask_text(text: str) -> str:
    """``text`` with personal data masked (a fresh :class:`Masker`, nothing remembered)."""
    return Masker().text(text)


def mask_data(value: Any) -> Any:
    """JSON-able ``value`` with personal data masked (a fresh :class:`Masker`)."""
    return Masker().data(value)

"""The masked forms of phones, e-mails and names that summaries and warnings show."""

from __future__ import annotations

from features.masking import mask_email, mask_name, mask_phone


def test_masks_show_no_full_phone_or_name():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "861******5678"  # 13 digits, 6 hidden
    assert mask_phone("1234") == "****"
    assert mask_phone("178****2440") == "178****2440"  # masked by its platform already
    assert mask_name("王小明") == "王**"
    assert mask_name("Helen Lau") == "H**** L**"
    assert mask_phone(None) is None and mask_name(float("nan")) is None


def test_an_email_keeps_its_first_letter_and_domain():
    assert mask_email("qianglin5458@163.com") == "q***********@163.com"
    assert mask_email("a@b.cn") == "a*@b.cn" and mask_email(None) is None

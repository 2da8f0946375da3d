"""How a person's phone, e-mail and name are shown where they must not be read whole.

Printed summaries, logs and warnings about member data show these forms; the butler agent's
masking of text sent to an LLM (``services.agent.masking``) finds personal data in free
text and is a different job.
"""

from __future__ import annotations


def mask_phone(phone: object) -> str | None:
    """``13812345678`` → ``138****5678``; short or empty values are masked whole, and one a
    platform masked already (``178****2440``) is shown as it is."""
    if phone is None or (isinstance(phone, float) and phone != phone):
        return None
    text = str(phone)
    digits = [c for c in text if c.isdigit()]
    if "*" in text and len(digits) <= 7:
        return text
    if len(digits) < 7:
        return "*" * len(text)
    return "".join(digits[:3]) + "*" * (len(digits) - 7) + "".join(digits[-4:])


def mask_email(email: object) -> str | None:
    """``qianglin5458@163.com`` → ``q***********@163.com``: the user name's first letter."""
    if email is None or (isinstance(email, float) and email != email):
        return None
    local, at, domain = str(email).partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}{at}{domain}"


def mask_name(name: object) -> str | None:
    """``王小明`` → ``王**``, ``Helen Lau`` → ``H**** L**``: the first letter of each word."""
    if name is None or (isinstance(name, float) and name != name):
        return None
    words = str(name).split()
    if len(words) == 1 and words[0] and not words[0].isascii():
        return words[0][0] + "*" * (len(words[0]) - 1)
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words if w)

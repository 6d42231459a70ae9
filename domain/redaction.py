"""Removal of customer personal data from free text that leaves its issue (defects, articles).

One function for every place that copies an issue's words elsewhere, so a Jira defect and a
knowledge article drop the same things: e-mail addresses, phone numbers and the names of the
people involved (the reporter and the organisation's contacts, given by the caller).
"""

import re
from collections.abc import Iterable

EMAIL_PLACEHOLDER = "[email removed]"
PHONE_PLACEHOLDER = "[phone removed]"
NAME_PLACEHOLDER = "[name removed]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# International or local numbers of 7+ digits with the usual separators (+49 30 1234567,
# (030) 123-4567, 138 0013 8000); versions (5.2.1) and dates have too few digits per group.
_PHONE = re.compile(r"(?<![\w.])(?:\+|\()?\d[\d ()./-]{5,}\d(?![\w.])")
_DIGITS = re.compile(r"\d")
_ISO_DATE = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _looks_like_phone(match: re.Match[str]) -> bool:
    text = match.group(0)
    digits = len(_DIGITS.findall(text))
    if digits < 7:
        return False
    # A dotted run (1.2.3.4, 2024.01.15) is a version, an address or a date, not a number;
    # an ISO date (2026-12-01 10:00) is a moment.
    if "." in text and " " not in text and "-" not in text:
        return False
    return _ISO_DATE.match(text.lstrip("+(")) is None


def _replace_phone(match: re.Match[str]) -> str:
    return PHONE_PLACEHOLDER if _looks_like_phone(match) else match.group(0)


def redact(text: str, names: Iterable[str] = ()) -> str:
    """The text without e-mail addresses, phone numbers and the given people's names.

    Each name is removed whole and, for a name of several words, word by word (a reporter
    "Jane Doe" signs "Jane" as often as "Jane Doe"); single words shorter than three
    characters are kept, they would remove too much. Names match case-insensitively on word
    boundaries (Chinese names anywhere: Chinese has no spaces).
    """
    result = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    result = _PHONE.sub(_replace_phone, result)
    candidates: set[str] = set()
    for name in names:
        cleaned = " ".join(name.split())
        if not cleaned:
            continue
        candidates.add(cleaned)
        candidates.update(part for part in cleaned.split(" ") if len(part) >= 3)
    for candidate in sorted(candidates, key=len, reverse=True):
        # Chinese has no spaces between words: a Chinese name matches wherever it stands.
        if _HAN.search(candidate):
            pattern = re.compile(re.escape(candidate))
        else:
            pattern = re.compile(rf"(?<!\w){re.escape(candidate)}(?!\w)", re.IGNORECASE)
        result = pattern.sub(NAME_PLACEHOLDER, result)
    return result

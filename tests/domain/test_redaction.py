"""Personal data never leaves an issue: e-mail addresses, phone numbers and people's names
are removed, while versions, dates and other numbers stay readable."""

import pytest

from domain.redaction import EMAIL_PLACEHOLDER, NAME_PLACEHOLDER, PHONE_PLACEHOLDER, redact


@pytest.mark.parametrize(
    "number", ["+49 30 1234567", "(030) 123-4567", "138 0013 8000", "0049-40-98765432"]
)
def test_phone_numbers_are_removed(number: str) -> None:
    assert redact(f"call me on {number} today") == f"call me on {PHONE_PLACEHOLDER} today"


@pytest.mark.parametrize(
    "kept",
    ["firmware 5.2.1", "at 2026-12-01 10:00", "address 192.168.10.254", "error 0x80004005", "3%"],
)
def test_versions_dates_addresses_and_codes_are_kept(kept: str) -> None:
    assert redact(kept) == kept


def test_email_addresses_are_removed() -> None:
    assert redact("write to jane.doe+it@acme.example.com") == f"write to {EMAIL_PLACEHOLDER}"


def test_names_are_removed_whole_and_word_by_word_case_insensitively() -> None:
    text = "Jane Doe reported it; jane says DOE knows, Al Li too. Janet and Al stay."
    assert redact(text, ["Jane Doe", "Al Li"]) == (
        f"{NAME_PLACEHOLDER} reported it; {NAME_PLACEHOLDER} says {NAME_PLACEHOLDER} knows, "
        f"{NAME_PLACEHOLDER} too. Janet and Al stay."
    )


def test_chinese_names_are_removed_too() -> None:
    assert redact("张伟说路由器丢包", ["张伟"]) == f"{NAME_PLACEHOLDER}说路由器丢包"

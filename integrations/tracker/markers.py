"""The trailing marker line that lets us recognise our own comments when they come back."""

import re

MARKER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_MARKER_ID = re.compile(rf"\A{MARKER_PATTERN}\Z")
# Written as "\[itr:<id>\]" so Jira wiki markup shows literal brackets instead of a link;
# read tolerantly because rich-text round trips may drop the escapes.
_TRAILING_MARKER = re.compile(rf"(?:\r?\n)*\\?\[itr:(?P<marker>{MARKER_PATTERN})\\?\]\s*\Z")


def validate_marker(marker: str) -> str:
    """Refuse markers that could not survive the round trip through Jira unchanged."""
    if not _MARKER_ID.match(marker):
        raise ValueError(f"invalid comment marker {marker!r}: use letters, digits and ._:-")
    return marker


def with_marker(body: str, marker: str) -> str:
    """Append the marker as the comment's last line."""
    return f"{body.rstrip()}\n\n\\[itr:{validate_marker(marker)}\\]"


def find_marker(body: str | None) -> str | None:
    """Return our marker when the comment body ends with one, else None."""
    if not body:
        return None
    match = _TRAILING_MARKER.search(body)
    return match.group("marker") if match else None


def strip_marker(body: str) -> str:
    """Remove our trailing marker so the text reads as written."""
    return _TRAILING_MARKER.sub("", body).rstrip()

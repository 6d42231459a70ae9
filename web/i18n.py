"""Languages, timezones and how dates and durations read in them (Babel).

The language comes from the switch (cookie), then the signed-in person's preference, then
`Accept-Language`; the timezone from the person's preference, then the browser (a cookie
set by `static/timezone.js`), then UTC. Catalogues: `web/translations/<locale>/LC_MESSAGES`
(`scripts/i18n` extracts, updates and compiles them).
"""

import datetime as dt
import math
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal
from babel.support import Translations

TRANSLATIONS = Path(__file__).parent / "translations"
LOCALES = ("en", "zh_Hans")
"""The languages the workspace speaks, by catalogue name; the first is the fallback."""
LOCALE_NAMES = {"en": "English", "zh_Hans": "简体中文"}
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it yet (translated on render)."""
    return message


def supported_locale(tag: str | None) -> str | None:
    """Our catalogue for a language tag (`zh-CN`, `zh-Hans`, `en-GB`...), or None."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        traditional = {"hant", "tw", "hk", "mo"}
        return None if traditional & set(parts[1:]) else "zh_Hans"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The best of our locales for an `Accept-Language` header (by q-value), or None."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        locale = supported_locale(tag)
        if locale is not None and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def choose_locale(switch: str | None, preference: str | None, accept_language: str | None) -> str:
    for choice in (switch, preference):
        if choice in LOCALES:
            return choice
    return negotiate(accept_language) or DEFAULT_LOCALE


def choose_timezone(preference: str | None, browser: str | None) -> ZoneInfo:
    for name in (preference, browser):
        if name and len(name) <= 64:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalogue of `locale` (English is the source language: its catalogue
    may stay empty, the msgids are the English texts)."""
    loaded = Translations.load(str(TRANSLATIONS), [locale], domain="messages")
    assert isinstance(loaded, Translations), f"no compiled catalogue for {locale}"
    return loaded


@dataclass(frozen=True)
class Formats:
    """Dates, times and durations for one viewer: their language and timezone."""

    locale: str
    timezone: ZoneInfo

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def datetime(self, value: dt.datetime | None, format: str = "medium") -> str:
        if value is None:
            return ""
        return format_datetime(value, format, tzinfo=self.timezone, locale=self.babel_locale)

    def day(self, value: dt.datetime) -> str:
        """The local day of an instant, short (a chart's axis, a period's bounds)."""
        return format_date(value.astimezone(self.timezone), "short", locale=self.babel_locale)

    def iso(self, value: dt.datetime | None) -> str:
        """For the machine-readable `datetime` attribute of `<time>` only."""
        return "" if value is None else value.isoformat()

    def duration(self, value: timedelta) -> str:
        """A wall-clock duration ("3 hours", "3小时")."""
        return format_timedelta(value, threshold=1.5, locale=self.babel_locale)

    def size(self, size: int) -> str:
        """A file size in kilobytes ("12 KB"), with the locale's digits and separators."""
        kilobytes = format_decimal(max(1, round(size / 1024)), locale=self.babel_locale)
        return translations(self.locale).gettext("%(size)s KB") % {"size": kilobytes}

    def business_left(self, value: timedelta) -> str:
        """Business time still left on a promise ("2 business hours left")."""
        gettext = translations(self.locale)
        number, hours = _business_units(value)
        if hours:
            text = gettext.ngettext(
                "%(num)d business hour left", "%(num)d business hours left", number
            )
        else:
            text = gettext.ngettext(
                "%(num)d business minute left", "%(num)d business minutes left", number
            )
        return text % {"num": number}

    def business_overdue(self, value: timedelta) -> str:
        """Business time past a broken promise, counting up ("overdue by 3 business hours")."""
        gettext = translations(self.locale)
        number, hours = _business_units(value)
        if hours:
            text = gettext.ngettext(
                "overdue by %(num)d business hour", "overdue by %(num)d business hours", number
            )
        else:
            text = gettext.ngettext(
                "overdue by %(num)d business minute",
                "overdue by %(num)d business minutes",
                number,
            )
        return text % {"num": number}


def _business_units(value: timedelta) -> tuple[int, bool]:
    """(number, in hours?): whole hours from one hour on, else minutes (at least one)."""
    seconds = max(0.0, value.total_seconds())
    if seconds >= 3600:
        return int(seconds // 3600), True
    return max(1, math.ceil(seconds / 60)), False

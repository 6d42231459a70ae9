"""English and Simplified Chinese: negotiation, the switch, formats, complete catalogues."""

from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.web.conftest import Web
from web.i18n import Formats, negotiate

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGUES = WEB / "translations"


def extracted_messages() -> set[str | tuple[str, ...]]:
    """Every string the templates and the web code show, as `scripts/i18n` extracts them."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_string_the_pages_show_has_a_chinese_translation() -> None:
    with (CATALOGUES / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale="zh_Hans")
    translated = {
        (m.id if isinstance(m.id, str) else tuple(m.id))
        for m in catalogue
        if m.id
        and "fuzzy" not in m.flags
        and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    messages = extracted_messages()
    assert len(messages) > 100
    assert sorted(map(str, messages - translated)) == []


def test_the_compiled_catalogues_match_their_sources() -> None:
    for locale in ("en", "zh_Hans"):
        folder = CATALOGUES / locale / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as f:
            catalogue = read_po(f, locale=locale)
        assert not catalogue.fuzzy, f"{locale}: a fuzzy catalogue is not compiled"
        compiled = BytesIO()
        write_mo(compiled, catalogue)
        assert compiled.getvalue() == (folder / "messages.mo").read_bytes(), (
            f"run scripts/i18n compile ({locale})"
        )


def test_accept_language_picks_simplified_chinese_or_english() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans"
    assert negotiate("zh-Hans-CN") == "zh_Hans"
    assert negotiate("de-DE,en;q=0.5") == "en"
    assert negotiate("fr,zh-TW;q=0.9") is None
    assert negotiate("en;q=0.2, zh;q=0.7") == "zh_Hans"


def test_business_durations_read_in_the_viewers_language() -> None:
    english = Formats("en", ZoneInfo("Europe/Berlin"))
    chinese = Formats("zh_Hans", ZoneInfo("Asia/Shanghai"))
    assert english.business_left(timedelta(hours=2, minutes=10)) == "2 business hours left"
    assert english.business_left(timedelta(minutes=1)) == "1 business minute left"
    assert chinese.business_left(timedelta(hours=2)) == "剩余 2 个工作小时"
    assert english.business_overdue(timedelta(hours=3)) == "overdue by 3 business hours"
    assert chinese.business_overdue(timedelta(minutes=30)) == "已超时 30 个工作分钟"


def test_dates_read_in_the_viewers_timezone_never_as_iso() -> None:
    moment = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    berlin = Formats("en", ZoneInfo("Europe/Berlin")).datetime(moment)
    assert berlin.replace("\u202f", " ") == "Dec 4, 2026, 10:30:00 AM"
    shanghai = Formats("zh_Hans", ZoneInfo("Asia/Shanghai")).datetime(moment)
    assert "2026年12月4日" in shanghai
    assert "17:30" in shanghai


async def test_the_switch_changes_the_language_and_remembers_it(web: Web) -> None:
    page = await web.http.get("/signin", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="zh-Hans">' in page.text
    assert "登录" in page.text
    await web.sign_in("jane", "demo-jane-acme")
    token = await web.csrf("/portal")
    switched = await web.http.post(
        "/language", data={"locale": "en", "next": "/portal", "csrf_token": token}
    )
    assert switched.status_code == 303
    english = await web.http.get("/portal", headers={"Accept-Language": "zh-CN"})
    assert "Our issues" in english.text
    web.http.cookies.delete("itr_locale")
    remembered = await web.http.get("/portal", headers={"Accept-Language": "zh-CN"})
    assert "Our issues" in remembered.text  # the signed-in person's preference

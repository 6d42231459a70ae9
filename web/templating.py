"""Renders pages: one Jinja2 environment, the viewer's catalogue installed for each render.

Rendering is synchronous (no await between installing the catalogue and rendering), so one
environment serves every request of the event loop safely.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config.settings import Settings
from web import agent_labels, labels
from web.deps import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, Viewer
from web.i18n import LOCALE_NAMES, LOCALES, translations

TEMPLATES = Path(__file__).parent / "templates"

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""HTML pages load only our own scripts and styles: no inline script can run."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        labels=labels, staff_labels=agent_labels, locales=LOCALES, locale_names=LOCALE_NAMES
    )
    return env


def html_lang(locale: str) -> str:
    return "zh-Hans" if locale == "zh_Hans" else locale


def render(
    request: Request,
    viewer: Viewer,
    settings: Settings,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page as the viewer reads it, with the headers every page carries."""
    env = environment()
    env.install_gettext_translations(translations(viewer.locale), newstyle=True)  # type: ignore[attr-defined]
    body = env.get_template(template).render(
        request=request,
        viewer=viewer,
        fmt=viewer.formats,
        lang=html_lang(viewer.locale),
        csrf_field=CSRF_FIELD,
        csrf_header=CSRF_HEADER,
        path=request.url.path,
        **(context or {}),
    )
    response = HTMLResponse(body, status_code=status_code)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Content-Language"] = html_lang(viewer.locale)
    response.headers["Vary"] = "Cookie, Accept-Language"
    if viewer.new_csrf_cookie:
        set_cookie(response, settings, CSRF_COOKIE, viewer.csrf_token, max_age=None)
    return response


def set_cookie(
    response: HTMLResponse | Any,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int | None,
    httponly: bool = True,
) -> None:
    """Every cookie of ours: SameSite=Lax, HttpOnly unless a script must read it, Secure
    outside development."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=httponly,
        samesite="lax",
        secure=settings.secure_cookies,
    )

"""Form input to the API's own request models, and their errors as translated field messages.

The pages validate with the same pydantic bodies the JSON API takes (`api.schemas`), so a
title too short is refused by one rule; only the wording of the message is the web's.
"""

from collections.abc import Mapping
from typing import Any

from babel.support import Translations
from pydantic import ValidationError

from api.errors import Problem

FieldErrors = dict[str, str]


def _message(error_type: str, context: Mapping[str, Any], fallback: str, t: Translations) -> str:
    if error_type == "missing":
        return t.gettext("Please fill in this field.")
    if error_type == "string_too_short":
        return t.gettext("Please write at least %(num)s characters.") % {
            "num": context.get("min_length", 1)
        }
    if error_type == "string_too_long":
        return t.gettext("Please write at most %(num)s characters.") % {
            "num": context.get("max_length", "")
        }
    if error_type in {"int_parsing", "int_type", "enum", "literal_error", "bool_parsing"}:
        return t.gettext("Please choose one of the options.")
    if error_type in {"greater_than_equal", "less_than_equal"}:
        return t.gettext("Please choose one of the options.")
    return fallback


def validation_errors(exc: ValidationError, t: Translations) -> FieldErrors:
    """{form field: message} for a pydantic error on a request body."""
    errors: FieldErrors = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        errors.setdefault(field, _message(error["type"], error.get("ctx") or {}, error["msg"], t))
    return errors


def problem_errors(problem: Problem, t: Translations) -> FieldErrors:
    """{form field: message} for a 422 the service answered (`body.product_id`: unknown)."""
    errors: FieldErrors = {}
    for error in problem.errors or []:
        location = str(error.get("loc", "form"))
        field = location.split(".")[-1] if location.startswith("body.") else "form"
        errors.setdefault(field, str(error.get("msg", problem.detail)))
    if not errors:
        errors["form"] = problem.detail
    return errors


def path_errors(exc: ValidationError, t: Translations) -> FieldErrors:
    """{dotted field path: message} for a nested body (`criteria.products`, `teams.2`): the
    admin forms name their fields by the body's paths, so an error lands at its field."""
    errors: FieldErrors = {}
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "form"
        errors.setdefault(field, _message(error["type"], error.get("ctx") or {}, error["msg"], t))
    return errors


def problem_path_errors(problem: Problem) -> FieldErrors:
    """{dotted field path: message} for a service's 422 (`body.teams.2` -> `teams.2`)."""
    errors: FieldErrors = {}
    for error in problem.errors or []:
        location = str(error.get("loc", "form"))
        field = location.removeprefix("body.") if location.startswith("body.") else "form"
        errors.setdefault(field, str(error.get("msg", problem.detail)))
    if not errors:
        errors["form"] = problem.detail
    return errors

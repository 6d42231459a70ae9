"""The admin pages (`/admin`: admins; managers read what the API lets them read): routing
rules with the dry run, teams, engineers and their presence, SLA calendars and policies,
API tokens; and an engineer's own page (`/workspace/me`) to set their presence.

Each form is validated by the JSON API's own body and sent to the same service; a field
error comes back at the field (named by its path in the body: `criteria.products`,
`teams.2`), a 409 with its reason. Who may do what is the services' and the routes' rule,
repeated here only as far as the JSON routes' `require` does it.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Principal
from api.deps import SessionDep, StateDep
from api.errors import Problem
from api.schemas import (
    DryRunBody,
    DryRunRead,
    PresenceBody,
    RoutingRuleCreate,
    RoutingRuleFields,
    RoutingRuleRead,
    TokenCreate,
    TokenCreated,
)
from api.services import dispatch as dispatch_service
from api.services import reference as reference_service
from api.services import sla_admin
from domain.enums import ContractLevel, Presence, Role, Severity
from web.deps import PageForbidden, PrincipalPage, ViewerDep, verify_csrf
from web.forms import FieldErrors, path_errors, problem_path_errors
from web.i18n import translations
from web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

ADMINISTERING = frozenset({Role.MANAGER, Role.ADMIN})
CRITERIA = (
    "products",
    "categories",
    "severities",
    "organisations",
    "contract_levels",
    "regions",
    "service_modes",
    "languages",
    "channels",
)
"""The routing criteria, each a comma-separated "any of" list in the form."""
TIERS = ("1", "2", "3")
DRY_RUN_FIELDS = ("issue_id", "product_id", "tier", "organisation_id", "category", "severity")


def administering(principal: PrincipalPage) -> Principal:
    if principal.role not in ADMINISTERING:
        raise PageForbidden()
    return principal


def admin_only(principal: PrincipalPage) -> Principal:
    if principal.role != Role.ADMIN:
        raise PageForbidden()
    return principal


AdminAreaDep = Annotated[Principal, Depends(administering)]
AdminDep = Annotated[Principal, Depends(admin_only)]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and len(v) <= 20_000}


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


# --- overview ---------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
async def overview(
    request: Request,
    viewer: ViewerDep,
    principal: AdminAreaDep,
    state: StateDep,
    session: SessionDep,
    done: str | None = None,
) -> HTMLResponse:
    context = {
        "rules": await dispatch_service.list_rules(session),
        "defaults": await dispatch_service.list_defaults(session),
        "teams": await reference_service.list_teams(session, None),
        "engineers": await reference_service.list_engineers(session, None, None, False),
        "calendars": await sla_admin.list_calendars(session),
        "policies": await sla_admin.list_policies(session),
        "presences": list(Presence),
        "is_admin": principal.role == Role.ADMIN,
        "done": done if done in {"saved", "deleted", "presence"} else None,
    }
    return render(request, viewer, state.settings, "admin/overview.html", context)


# --- routing rules ----------------------------------------------------------------------------


def rule_values(rule: RoutingRuleRead) -> dict[str, str]:
    """The form's fields of a stored rule."""
    values = {"id": rule.id, "name": rule.name, "position": str(rule.position)}
    criteria = rule.criteria.model_dump(mode="json")
    values.update({f"criteria.{name}": ", ".join(map(str, criteria[name])) for name in CRITERIA})
    values.update({f"teams.{tier}": rule.teams.get(tier, "") for tier in TIERS})
    return values


def _at_fields(errors: FieldErrors) -> FieldErrors:
    """A criterion's list item (`criteria.severities.0`) is shown at the criterion's field."""
    shown: FieldErrors = {}
    for path, message in errors.items():
        parts = path.split(".")
        key = ".".join(parts[:2]) if parts[0] == "criteria" else path
        shown.setdefault(key, message)
    return shown


def _integer(text: str) -> int | str:
    """A form's number as the JSON body carries it (left as text when it is none)."""
    try:
        return int(text)
    except ValueError:
        return text


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def rule_document(values: dict[str, str]) -> dict[str, Any]:
    """The JSON body the API takes, from the form's fields (empty lists and tiers left out)."""
    criteria = {name: _listed(values.get(f"criteria.{name}", "")) for name in CRITERIA}
    return {
        "name": values.get("name", ""),
        "position": _integer(values.get("position", "")),
        "criteria": criteria,
        "teams": {tier: values[f"teams.{tier}"] for tier in TIERS if values.get(f"teams.{tier}")},
    }


def _rule_page(
    request: Request,
    viewer: Any,
    state: Any,
    *,
    rule_id: str | None,
    values: dict[str, str],
    errors: FieldErrors,
    refusal: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "rule_id": rule_id,
        "values": values,
        "errors": errors,
        "refusal": refusal,
        "criteria": CRITERIA,
        "tiers": TIERS,
    }
    return render(request, viewer, state.settings, "admin/rule.html", context, status_code)


@router.get("/admin/rules/new", response_class=HTMLResponse)
async def new_rule(
    request: Request, viewer: ViewerDep, principal: AdminDep, state: StateDep
) -> HTMLResponse:
    return _rule_page(request, viewer, state, rule_id=None, values={}, errors={})


@router.get("/admin/rules/{rule_id}", response_class=HTMLResponse)
async def edit_rule(
    request: Request,
    rule_id: str,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> HTMLResponse:
    rule = await dispatch_service.get_rule(session, rule_id)
    return _rule_page(request, viewer, state, rule_id=rule_id, values=rule_values(rule), errors={})


@router.post("/admin/rules", response_model=None)
async def create_rule(
    request: Request,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    return await _save_rule(request, viewer, state, session, None)


@router.post("/admin/rules/{rule_id}", response_model=None)
async def update_rule(
    request: Request,
    rule_id: str,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    return await _save_rule(request, viewer, state, session, rule_id)


async def _save_rule(
    request: Request, viewer: Any, state: Any, session: Any, rule_id: str | None
) -> Response:
    values = await _form(request)
    t = translations(viewer.locale)
    document = rule_document(values)
    try:
        if rule_id is None:
            body = RoutingRuleCreate.model_validate({"id": values.get("id", ""), **document})
            await dispatch_service.create_rule(session, body)
        else:
            fields = RoutingRuleFields.model_validate(document)
            await dispatch_service.update_rule(session, rule_id, fields)
    except ValidationError as exc:
        return _rule_page(
            request, viewer, state, rule_id=rule_id, values=values,
            errors=_at_fields(path_errors(exc, t)), status_code=422,
        )  # fmt: skip
    except Problem as problem:
        if problem.status == 404:
            raise
        if problem.status == 422:
            errors = _at_fields(problem_path_errors(problem))
            return _rule_page(
                request, viewer, state, rule_id=rule_id, values=values, errors=errors,
                status_code=422,
            )  # fmt: skip
        return _rule_page(
            request, viewer, state, rule_id=rule_id, values=values, errors={},
            refusal=problem.detail, status_code=problem.status,
        )  # fmt: skip
    return _redirect("/admin?done=saved")


@router.post("/admin/rules/{rule_id}/delete", response_model=None)
async def delete_rule(rule_id: str, principal: AdminDep, session: SessionDep) -> Response:
    await dispatch_service.delete_rule(session, rule_id)
    return _redirect("/admin?done=deleted")


# --- dry run ----------------------------------------------------------------------------------


@router.get("/admin/dry-run", response_class=HTMLResponse)
async def dry_run_form(
    request: Request, viewer: ViewerDep, principal: AdminAreaDep, state: StateDep
) -> HTMLResponse:
    context: dict[str, Any] = {"values": {}, "errors": {}, "result": None}
    return render(request, viewer, state.settings, "admin/dry_run.html", context)


@router.post("/admin/dry-run", response_class=HTMLResponse)
async def dry_run(
    request: Request,
    viewer: ViewerDep,
    principal: AdminAreaDep,
    state: StateDep,
    session: SessionDep,
) -> HTMLResponse:
    """Who would get this issue, and why: nothing is written."""
    values = await _form(request)
    t = translations(viewer.locale)
    errors: FieldErrors = {}
    result: DryRunRead | None = None
    try:
        body = DryRunBody.model_validate(
            {
                name: _integer(values[name]) if name in ("tier", "severity") else values[name]
                for name in DRY_RUN_FIELDS
                if values.get(name)
            }
        )
        result = await dispatch_service.dry_run(session, body)
    except ValidationError as exc:
        errors = path_errors(exc, t)
    except Problem as problem:
        if problem.status == 404:
            errors = {"issue_id": problem.detail}
        elif problem.status == 422:
            errors = problem_path_errors(problem)
        else:
            raise
    context = {"values": values, "errors": errors, "result": result}
    code = 422 if errors else status.HTTP_200_OK
    return render(request, viewer, state.settings, "admin/dry_run.html", context, code)


# --- presence ---------------------------------------------------------------------------------


async def _set_presence(
    request: Request, session: Any, principal: Principal, engineer_id: str
) -> bool:
    """False when the form named no presence the API knows (nothing is changed)."""
    values = await _form(request)
    try:
        body = PresenceBody.model_validate({"presence": values.get("presence", "")})
    except ValidationError:
        return False
    await reference_service.set_presence(session, principal, engineer_id, body.presence)
    return True


def _invalid_page(request: Request, viewer: Any, state: Any) -> HTMLResponse:
    return render(request, viewer, state.settings, "error.html", {"error": "invalid"}, 422)


@router.post("/admin/engineers/{engineer_id}/presence", response_model=None)
async def set_presence(
    request: Request,
    engineer_id: str,
    viewer: ViewerDep,
    principal: AdminAreaDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    """A manager of the engineer's team, or an admin (the service says who may)."""
    if not await _set_presence(request, session, principal, engineer_id):
        return _invalid_page(request, viewer, state)
    return _redirect("/admin?done=presence#engineers")


@router.get("/workspace/me", response_class=HTMLResponse)
async def my_page(
    request: Request,
    viewer: ViewerDep,
    principal: PrincipalPage,
    state: StateDep,
    session: SessionDep,
    done: str | None = None,
) -> HTMLResponse:
    if principal.engineer_id is None:
        raise PageForbidden()
    me = await reference_service.get_engineer(session, principal.engineer_id)
    context = {"me": me, "presences": list(Presence), "done": done == "presence"}
    return render(request, viewer, state.settings, "admin/me.html", context)


@router.post("/workspace/me/presence", response_model=None)
async def set_my_presence(
    request: Request,
    viewer: ViewerDep,
    principal: PrincipalPage,
    state: StateDep,
    session: SessionDep,
) -> Response:
    if principal.engineer_id is None:
        raise PageForbidden()
    if not await _set_presence(request, session, principal, principal.engineer_id):
        return _invalid_page(request, viewer, state)
    return _redirect("/workspace/me?done=presence")


# --- SLA policies ---------------------------------------------------------------------------


POLICY_FIELDS = ("first_response", "resolution", "calendar", "warnings")
"""What the page edits of a policy (targets in hours); tier budgets and breach actions are
kept as they are (the JSON API's `PUT /sla/policies/...` edits everything)."""


def policy_values(policy: Any) -> dict[str, str]:
    return {
        "first_response": f"{policy.first_response.total_seconds() / 3600:g}",
        "resolution": f"{policy.resolution.total_seconds() / 3600:g}",
        "calendar": policy.calendar,
        "warnings": ", ".join(str(w) for w in policy.warnings),
    }


def _hours(text: str) -> float | str:
    """Hours as seconds for the document (left as text when it is no number: refused)."""
    try:
        return float(text) * 3600
    except ValueError:
        return text


def policy_document(current: Any, values: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = current.model_dump(mode="json")
    document.update(
        {
            "first_response": _hours(values.get("first_response", "")),
            "resolution": _hours(values.get("resolution", "")),
            "calendar": values.get("calendar", ""),
            "warnings": [_integer(w) for w in _listed(values.get("warnings", ""))],
        }
    )
    return document


async def _policy_page(
    request: Request,
    viewer: Any,
    state: Any,
    session: Any,
    key: tuple[ContractLevel, Severity],
    values: dict[str, str],
    errors: FieldErrors,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "level": key[0],
        "severity": key[1],
        "values": values,
        "errors": errors,
        "calendars": [c.calendar.name for c in await sla_admin.list_calendars(session)],
    }
    return render(request, viewer, state.settings, "admin/policy.html", context, status_code)


@router.get("/admin/sla/policies/{level}/{severity}", response_class=HTMLResponse)
async def edit_policy(
    request: Request,
    level: ContractLevel,
    severity: Severity,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> HTMLResponse:
    current = await sla_admin.get_policy(session, level, severity)
    values = policy_values(current.policy)
    return await _policy_page(request, viewer, state, session, (level, severity), values, {})


@router.post("/admin/sla/policies/{level}/{severity}", response_model=None)
async def save_policy(
    request: Request,
    level: ContractLevel,
    severity: Severity,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    """Replace the policy's targets through the SLA admin service (its validation, its
    calendar check); an error comes back at its field."""
    values = await _form(request)
    current = await sla_admin.get_policy(session, level, severity)
    try:
        document = policy_document(current.policy, values)
        await sla_admin.put_policy(session, level, severity, document)
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = _at_fields(problem_path_errors(problem))
        shown = {k.split(".")[0]: v for k, v in errors.items()}
        return await _policy_page(
            request, viewer, state, session, (level, severity), values, shown, 422
        )
    return _redirect("/admin?done=saved#sla")


# --- tokens -----------------------------------------------------------------------------------


@router.get("/admin/tokens", response_class=HTMLResponse)
async def token_form(
    request: Request,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
    done: str | None = None,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "values": {},
        "errors": {},
        "created": None,
        "roles": list(Role),
        "tokens": await reference_service.list_tokens(session, False),
        "revoked": done == "revoked",
    }
    return render(request, viewer, state.settings, "admin/tokens.html", context)


@router.post("/admin/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    viewer: ViewerDep,
    principal: AdminDep,
    state: StateDep,
    session: SessionDep,
) -> HTMLResponse:
    """Issue a token and show it once (only its hash is stored)."""
    values = await _form(request)
    t = translations(viewer.locale)
    errors: FieldErrors = {}
    created: TokenCreated | None = None
    try:
        body = TokenCreate.model_validate({k: v for k, v in values.items() if v and k in {
            "name", "role", "organisation_id", "engineer_id", "contact_email"}})  # fmt: skip
        created = await reference_service.create_token(session, body)
    except ValidationError as exc:
        errors = path_errors(exc, t)
    except Problem as problem:
        if problem.status == 422:
            errors = problem_path_errors(problem)
        elif problem.status == 409:
            errors = {"form": problem.detail}
        else:
            raise
    context = {
        "values": values,
        "errors": errors,
        "created": created,
        "roles": list(Role),
        "tokens": await reference_service.list_tokens(session, False),
        "revoked": False,
    }
    code = 422 if errors else status.HTTP_201_CREATED
    return render(request, viewer, state.settings, "admin/tokens.html", context, code)


@router.post("/admin/tokens/{token_id}/revoke", response_model=None)
async def revoke_token(token_id: str, principal: AdminDep, session: SessionDep) -> Response:
    """Revoke now; a token already revoked is a 409 with the reason (the error page)."""
    await reference_service.revoke_token(session, token_id)
    return _redirect("/admin/tokens?done=revoked")

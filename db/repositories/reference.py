"""Reference data: organisations, contracts, products, teams, engineers and API tokens."""

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ContractRow,
    EngineerRow,
    IssueRow,
    OrganisationRow,
    ProductRow,
    TeamManagerRow,
    TeamMemberRow,
    TeamProductRow,
    TeamRow,
    TokenRow,
    utcnow,
)
from db.repositories._dialect import insert_if_absent
from domain.enums import OPEN_STATES, ContractLevel, IssueState, Role, Tier, WarrantyStatus
from domain.models import Audience, Entitlement, OwnerChoice

LEVEL_RANK: dict[ContractLevel, int] = {
    ContractLevel.BASIC: 1,
    ContractLevel.STANDARD: 2,
    ContractLevel.PREMIUM: 3,
}
CLOSED_STATES: tuple[IssueState, ...] = tuple(s for s in IssueState if s not in OPEN_STATES)


class Recipient(BaseModel):
    """A person a notification goes to, as the read model knows them (email may be unknown)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: str
    name: str
    email: str | None = None


def hash_token(raw_token: str) -> str:
    """SHA-256 hex of a bearer token: what is stored and looked up, so a leak reveals no token."""
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


# --- organisations and contracts --------------------------------------------------------------


async def create_organisation(session: AsyncSession, id: str, name: str) -> OrganisationRow:
    """Add a customer organisation."""
    row = OrganisationRow(id=id, name=name, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def get_organisation(session: AsyncSession, organisation_id: str) -> OrganisationRow | None:
    """The organisation, e.g. to check a customer token still points somewhere."""
    return await session.get(OrganisationRow, organisation_id)


async def list_organisations(session: AsyncSession) -> list[OrganisationRow]:
    """All organisations by id, for admin views and intake validation."""
    result = await session.scalars(sa.select(OrganisationRow).order_by(OrganisationRow.id))
    return list(result)


async def create_contract(
    session: AsyncSession,
    id: str,
    organisation_id: str,
    level: ContractLevel,
    starts_on: date,
    warranty_end: date,
    sla_overrides: dict[str, Any] | None = None,
) -> ContractRow:
    """Add a support contract for an organisation (it covers all the organisation's products)."""
    row = ContractRow(
        id=id,
        organisation_id=organisation_id,
        level=level,
        starts_on=starts_on,
        warranty_end=warranty_end,
        sla_overrides=sla_overrides,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_contract(session: AsyncSession, contract_id: str) -> ContractRow | None:
    """The contract, whichever organisation holds it (contract ids are global)."""
    return await session.get(ContractRow, contract_id)


async def list_contracts(
    session: AsyncSession, organisation_id: str | None = None
) -> list[ContractRow]:
    """Contracts, optionally of one organisation, for admin views."""
    query = sa.select(ContractRow).order_by(ContractRow.organisation_id, ContractRow.id)
    if organisation_id is not None:
        query = query.where(ContractRow.organisation_id == organisation_id)
    return list(await session.scalars(query))


async def find_entitlement(
    session: AsyncSession, organisation_id: str, product_id: str, on: date
) -> Entitlement:
    """The contract deciding an issue's entitlement on `on`.

    Contracts cover every product of the organisation, so `product_id` does not narrow the
    search. Among contracts started by `on`, one still in warranty wins over an expired one;
    then the highest level; then the latest warranty end.
    """
    contracts = await session.scalars(
        sa.select(ContractRow).where(
            ContractRow.organisation_id == organisation_id, ContractRow.starts_on <= on
        )
    )
    best = max(
        contracts,
        key=lambda c: (on <= c.warranty_end, LEVEL_RANK[c.level], c.warranty_end, c.id),
        default=None,
    )
    if best is None:
        return Entitlement(contract_id=None, level=None, warranty_status=WarrantyStatus.NO_CONTRACT)
    status = (
        WarrantyStatus.IN_WARRANTY if on <= best.warranty_end else WarrantyStatus.OUT_OF_WARRANTY
    )
    return Entitlement(
        contract_id=best.id,
        level=best.level,
        warranty_status=status,
        warranty_end=best.warranty_end,
    )


# --- products and teams -------------------------------------------------------------------


async def create_product(
    session: AsyncSession, id: str, name: str, current_version: str | None = None
) -> ProductRow:
    """Add a supported product."""
    row = ProductRow(id=id, name=name, current_version=current_version)
    session.add(row)
    await session.flush()
    return row


async def get_product(session: AsyncSession, product_id: str) -> ProductRow | None:
    """The product, so intake can refuse issues about unknown products."""
    return await session.get(ProductRow, product_id)


async def list_products(session: AsyncSession) -> list[ProductRow]:
    """All products by id."""
    return list(await session.scalars(sa.select(ProductRow).order_by(ProductRow.id)))


async def create_team(
    session: AsyncSession,
    id: str,
    name: str,
    tier: Tier,
    product_ids: Iterable[str] = (),
    manager_id: str | None = None,
) -> TeamRow:
    """Add a team and link it to the products it supports (the manager usually comes later)."""
    row = TeamRow(id=id, name=name, tier=tier, manager_id=manager_id)
    session.add(row)
    await session.flush()
    for product_id in product_ids:
        await link_team_product(session, id, product_id)
    return row


async def link_team_product(session: AsyncSession, team_id: str, product_id: str) -> None:
    """Declare that a team supports a product (dispatch prefers linked teams)."""
    session.add(TeamProductRow(team_id=team_id, product_id=product_id))
    await session.flush()


async def set_team_manager(session: AsyncSession, team_id: str, engineer_id: str | None) -> None:
    """Set the (primary) manager once the engineer exists (teams and engineers refer to each
    other); they are one of the team's managers too."""
    await session.execute(
        sa.update(TeamRow).where(TeamRow.id == team_id).values(manager_id=engineer_id)
    )
    if engineer_id is not None:
        await insert_if_absent(
            session,
            TeamManagerRow,
            {"team_id": team_id, "engineer_id": engineer_id},
            [TeamManagerRow.team_id, TeamManagerRow.engineer_id],
        )


async def get_team(session: AsyncSession, team_id: str) -> TeamRow | None:
    """The team, e.g. to find its manager (reloaded: an update may have just changed it)."""
    return await session.get(TeamRow, team_id, populate_existing=True)


async def list_teams(session: AsyncSession, tier: Tier | None = None) -> list[TeamRow]:
    """Teams by tier then id, optionally of one tier."""
    query = sa.select(TeamRow).order_by(TeamRow.tier, TeamRow.id)
    if tier is not None:
        query = query.where(TeamRow.tier == tier)
    return list(await session.scalars(query))


async def team_product_ids(session: AsyncSession, team_id: str) -> list[str]:
    """The products a team supports, sorted."""
    result = await session.scalars(
        sa.select(TeamProductRow.product_id)
        .where(TeamProductRow.team_id == team_id)
        .order_by(TeamProductRow.product_id)
    )
    return list(result)


# --- engineers --------------------------------------------------------------------------------


async def create_engineer(
    session: AsyncSession,
    id: str,
    name: str,
    email: str,
    tier: Tier,
    team_id: str,
    is_manager: bool = False,
    active: bool = True,
) -> EngineerRow:
    """Add an engineer (or, with is_manager, a manager) to a team."""
    row = EngineerRow(
        id=id,
        name=name,
        email=email,
        tier=tier,
        team_id=team_id,
        is_manager=is_manager,
        active=active,
    )
    session.add(row)
    await session.flush()
    session.add(TeamMemberRow(team_id=team_id, engineer_id=id))
    await session.flush()
    return row


async def get_engineer(session: AsyncSession, engineer_id: str) -> EngineerRow | None:
    """The engineer, so manual assignment can check who is named (reloaded, like get_team)."""
    return await session.get(EngineerRow, engineer_id, populate_existing=True)


async def list_engineers(
    session: AsyncSession,
    team_id: str | None = None,
    tier: Tier | None = None,
    active_only: bool = False,
) -> list[EngineerRow]:
    """Engineers by id, optionally narrowed to a team's members, a tier or active ones."""
    query = sa.select(EngineerRow).order_by(EngineerRow.id)
    if team_id is not None:
        members = sa.select(TeamMemberRow.engineer_id).where(TeamMemberRow.team_id == team_id)
        query = query.where(EngineerRow.id.in_(members))
    if tier is not None:
        query = query.where(EngineerRow.tier == tier)
    if active_only:
        query = query.where(EngineerRow.active.is_(True))
    return list(await session.scalars(query))


async def least_loaded_engineer(
    session: AsyncSession, product_id: str, tier: Tier, exclude_ids: Sequence[str] = ()
) -> OwnerChoice | None:
    """The active non-manager at `tier` owning the fewest open issues, ties broken by id.

    Engineers of teams linked to the product are preferred; when none of them is available
    (no linked team at that tier, or all excluded or inactive) any team at the tier is used,
    because an owner who must learn the product beats an issue nobody owns.
    """
    linked_teams = sa.select(TeamProductRow.team_id).where(TeamProductRow.product_id == product_id)
    chosen = await _least_loaded(session, tier, exclude_ids, linked_teams)
    if chosen is None:
        chosen = await _least_loaded(session, tier, exclude_ids, None)
    return chosen


async def _least_loaded(
    session: AsyncSession,
    tier: Tier,
    exclude_ids: Sequence[str],
    team_ids: sa.Select[str] | None,
) -> OwnerChoice | None:
    open_issues = sa.func.count(IssueRow.id)
    query = (
        sa.select(EngineerRow.id, EngineerRow.name)
        .join(TeamRow, TeamRow.id == EngineerRow.team_id)
        .outerjoin(
            IssueRow,
            sa.and_(IssueRow.owner_id == EngineerRow.id, IssueRow.state.not_in(CLOSED_STATES)),
        )
        .where(
            TeamRow.tier == tier,
            EngineerRow.active.is_(True),
            EngineerRow.is_manager.is_(False),
        )
        .group_by(EngineerRow.id, EngineerRow.name)
        .order_by(open_issues, EngineerRow.id)
        .limit(1)
    )
    if exclude_ids:
        query = query.where(EngineerRow.id.not_in(list(exclude_ids)))
    if team_ids is not None:
        query = query.where(EngineerRow.team_id.in_(team_ids))
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return OwnerChoice(engineer_id=row.id, engineer_name=row.name, tier=tier)


# --- API tokens -------------------------------------------------------------------------------


async def create_token(
    session: AsyncSession,
    name: str,
    role: Role,
    raw_token: str,
    organisation_id: str | None = None,
    engineer_id: str | None = None,
    contact_name: str | None = None,
    contact_email: str | None = None,
    token_id: str | None = None,
) -> TokenRow:
    """Register a bearer token by its hash; the raw token is never stored."""
    if role == Role.CUSTOMER and organisation_id is None:
        raise ValueError("a customer token must be bound to an organisation")
    if role in (Role.ENGINEER, Role.MANAGER) and engineer_id is None:
        raise ValueError(f"a {role.value} token must be bound to an engineer")
    row = TokenRow(
        id=token_id or f"tok_{secrets.token_hex(8)}",
        name=name,
        token_hash=hash_token(raw_token),
        role=role,
        organisation_id=organisation_id,
        engineer_id=engineer_id,
        contact_name=contact_name or name,
        contact_email=contact_email,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def find_token(session: AsyncSession, raw_token: str) -> TokenRow | None:
    """The live (not revoked) token matching a presented bearer token."""
    result = await session.scalars(
        sa.select(TokenRow).where(
            TokenRow.token_hash == hash_token(raw_token), TokenRow.revoked_at.is_(None)
        )
    )
    return result.first()


async def get_token(session: AsyncSession, token_id: str) -> TokenRow | None:
    """A token by id (revoked ones included), for admin views."""
    return await session.get(TokenRow, token_id)


async def list_tokens(session: AsyncSession, include_revoked: bool = False) -> list[TokenRow]:
    """Tokens by id; revoked ones only when asked."""
    query = sa.select(TokenRow).order_by(TokenRow.id)
    if not include_revoked:
        query = query.where(TokenRow.revoked_at.is_(None))
    return list(await session.scalars(query))


async def revoke_token(session: AsyncSession, token_id: str, at: datetime | None = None) -> bool:
    """Revoke a token; False when it does not exist or was already revoked."""
    result = await session.execute(
        sa.update(TokenRow)
        .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )
    return bool(cast(CursorResult[Any], result).rowcount)


# --- notification recipients --------------------------------------------------------------------


async def resolve_recipients(
    session: AsyncSession, issue_id: str, audience: Audience
) -> list[Recipient]:
    """Addresses for an audience, deduplicated in audience order (owner, manager, reporter, named).

    Managers: the owner's team manager; with no owner (or a team without manager), the
    managers of tier-1 teams linked to the product; failing that every active manager, so an
    alert about an unowned issue always reaches someone.
    """
    issue = await session.get(IssueRow, issue_id)
    found: list[Recipient] = []
    if audience.owner and issue is not None and issue.owner_id is not None:
        found.extend(await _engineers_as_recipients(session, [issue.owner_id]))
    if audience.owner_manager:
        found.extend(await _managers_for(session, issue))
    if audience.team_id is not None:
        found.extend(await _team_manager(session, audience.team_id))
    if audience.dispatchers:
        found.extend(await _dispatchers(session))
    if audience.reporter and issue is not None:
        found.append(await _reporter_of(session, issue))
    if audience.engineer_id is not None:
        found.extend(await _engineers_as_recipients(session, [audience.engineer_id]))
    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.id, recipient)
    return list(unique.values())


def _as_recipient(engineer: EngineerRow) -> Recipient:
    kind = "manager" if engineer.is_manager else "engineer"
    return Recipient(kind=kind, id=engineer.id, name=engineer.name, email=engineer.email)


async def _engineers_as_recipients(
    session: AsyncSession, engineer_ids: Sequence[str]
) -> list[Recipient]:
    result = await session.scalars(
        sa.select(EngineerRow)
        .where(EngineerRow.id.in_(list(engineer_ids)))
        .order_by(EngineerRow.id)
    )
    return [_as_recipient(engineer) for engineer in result]


async def _managers_for(session: AsyncSession, issue: IssueRow | None) -> list[Recipient]:
    active_manager = sa.and_(EngineerRow.is_manager.is_(True), EngineerRow.active.is_(True))
    if issue is not None and issue.owner_id is not None:
        owner = await session.get(EngineerRow, issue.owner_id)
        if owner is not None:
            managers_of_team = sa.select(TeamManagerRow.engineer_id).where(
                TeamManagerRow.team_id == owner.team_id
            )
            primary = sa.select(TeamRow.manager_id).where(TeamRow.id == owner.team_id)
            result = await session.scalars(
                sa.select(EngineerRow)
                .where(
                    sa.or_(EngineerRow.id.in_(primary), EngineerRow.id.in_(managers_of_team)),
                    active_manager,
                )
                .order_by(EngineerRow.id)
            )
            managers = [_as_recipient(m) for m in result]
            if managers:
                return managers
    if issue is not None:
        # By id, not DISTINCT rows: PostgreSQL cannot compare the JSON columns.
        managers_of_product = (
            sa.select(TeamRow.manager_id)
            .join(TeamProductRow, TeamProductRow.team_id == TeamRow.id)
            .where(TeamRow.tier == Tier.FRONTLINE, TeamProductRow.product_id == issue.product_id)
        )
        result = await session.scalars(
            sa.select(EngineerRow)
            .where(EngineerRow.id.in_(managers_of_product), active_manager)
            .order_by(EngineerRow.id)
        )
        managers = [_as_recipient(m) for m in result]
        if managers:
            return managers
    result = await session.scalars(
        sa.select(EngineerRow).where(active_manager).order_by(EngineerRow.id)
    )
    return [_as_recipient(m) for m in result]


async def _dispatchers(session: AsyncSession) -> list[Recipient]:
    """Holders of live dispatcher tokens: as engineers when the token names one."""
    tokens = await session.scalars(
        sa.select(TokenRow)
        .where(TokenRow.role == Role.DISPATCHER, TokenRow.revoked_at.is_(None))
        .order_by(TokenRow.id)
    )
    found: list[Recipient] = []
    for token in tokens:
        if token.engineer_id is not None:
            found.extend(await _engineers_as_recipients(session, [token.engineer_id]))
        else:
            found.append(
                Recipient(
                    kind="dispatcher",
                    id=token.id,
                    name=token.contact_name,
                    email=token.contact_email,
                )
            )
    return found


async def _reporter_of(session: AsyncSession, issue: IssueRow) -> Recipient:
    """The reporter; an email is known only when they reported with an API token of their own."""
    token = await session.get(TokenRow, issue.reporter_id)
    email = token.contact_email if token is not None else None
    return Recipient(
        kind=issue.reporter_kind.value, id=issue.reporter_id, name=issue.reporter_name, email=email
    )


# --- the organisation model (teams, memberships) ------------------------------------------------


async def update_team(session: AsyncSession, team_id: str, values: dict[str, Any]) -> None:
    """Rewrite a team's editable columns (routing attributes, name, manager)."""
    await session.execute(sa.update(TeamRow).where(TeamRow.id == team_id).values(**values))


async def set_team_products(
    session: AsyncSession, team_id: str, product_ids: Iterable[str]
) -> None:
    """Replace the products a team supports."""
    await session.execute(sa.delete(TeamProductRow).where(TeamProductRow.team_id == team_id))
    for product_id in product_ids:
        session.add(TeamProductRow(team_id=team_id, product_id=product_id))
    await session.flush()


async def delete_team(session: AsyncSession, team_id: str) -> None:
    await session.execute(sa.delete(TeamRow).where(TeamRow.id == team_id))


async def team_member_ids(session: AsyncSession, team_id: str) -> list[str]:
    result = await session.scalars(
        sa.select(TeamMemberRow.engineer_id)
        .where(TeamMemberRow.team_id == team_id)
        .order_by(TeamMemberRow.engineer_id)
    )
    return list(result)


async def team_ids_of(session: AsyncSession, engineer_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every team of each engineer (primary included), sorted."""
    result = await session.execute(
        sa.select(TeamMemberRow.engineer_id, TeamMemberRow.team_id)
        .where(TeamMemberRow.engineer_id.in_(list(engineer_ids)))
        .order_by(TeamMemberRow.engineer_id, TeamMemberRow.team_id)
    )
    teams: dict[str, list[str]] = {}
    for engineer_id, team_id in result:
        teams.setdefault(engineer_id, []).append(team_id)
    return teams


async def set_memberships(session: AsyncSession, engineer_id: str, team_ids: Iterable[str]) -> None:
    """Replace the engineer's team memberships."""
    await session.execute(sa.delete(TeamMemberRow).where(TeamMemberRow.engineer_id == engineer_id))
    for team_id in sorted(set(team_ids)):
        session.add(TeamMemberRow(team_id=team_id, engineer_id=engineer_id))
    await session.flush()


async def update_engineer(session: AsyncSession, engineer_id: str, values: dict[str, Any]) -> None:
    """Rewrite an engineer's editable columns (profile, presence, capacity, substitute...)."""
    await session.execute(
        sa.update(EngineerRow).where(EngineerRow.id == engineer_id).values(**values)
    )


async def managed_team_ids(session: AsyncSession, manager_id: str) -> list[str]:
    """The teams this engineer manages (as primary manager or one of several)."""
    result = await session.scalars(
        sa.select(TeamRow.id)
        .where(
            sa.or_(
                TeamRow.manager_id == manager_id,
                TeamRow.id.in_(
                    sa.select(TeamManagerRow.team_id).where(
                        TeamManagerRow.engineer_id == manager_id
                    )
                ),
            )
        )
        .order_by(TeamRow.id)
    )
    return list(result)


async def team_manager_ids(session: AsyncSession, team_id: str) -> list[str]:
    """Every manager of the team, sorted."""
    result = await session.scalars(
        sa.select(TeamManagerRow.engineer_id)
        .where(TeamManagerRow.team_id == team_id)
        .order_by(TeamManagerRow.engineer_id)
    )
    return list(result)


async def set_team_managers(
    session: AsyncSession, team_id: str, primary: str | None, others: Iterable[str]
) -> None:
    """Replace the team's managers: the primary (`teams.manager_id`) and the others."""
    await session.execute(sa.delete(TeamManagerRow).where(TeamManagerRow.team_id == team_id))
    await set_team_manager(session, team_id, primary)
    for engineer_id in sorted(set(others) - {primary}):
        session.add(TeamManagerRow(team_id=team_id, engineer_id=engineer_id))
    await session.flush()


# --- the teams a caller acts for (issue 9: ownership rules) -----------------------------------


@dataclass(frozen=True)
class EngineerTeams:
    """The teams an engineer works in and manages, and their tier."""

    team_ids: tuple[str, ...] = ()
    managed_team_ids: tuple[str, ...] = ()
    tier: Tier | None = None


async def engineer_teams(session: AsyncSession, engineer_id: str) -> EngineerTeams:
    """What the API passes to the domain with each command of this engineer: every team
    they belong to (the primary one first) and every team they manage."""
    engineer = await session.get(EngineerRow, engineer_id)
    if engineer is None:
        return EngineerTeams()
    members = (await team_ids_of(session, [engineer_id])).get(engineer_id, [])
    teams = [engineer.team_id, *(t for t in members if t != engineer.team_id)]
    managed = await managed_team_ids(session, engineer_id)
    return EngineerTeams(team_ids=tuple(teams), managed_team_ids=tuple(managed), tier=engineer.tier)


async def _team_manager(session: AsyncSession, team_id: str) -> list[Recipient]:
    """The managers of the queue an unowned issue waits in (primary and others)."""
    team = await session.get(TeamRow, team_id)
    ids = set(await team_manager_ids(session, team_id))
    if team is not None and team.manager_id is not None:
        ids.add(team.manager_id)
    found = await _engineers_as_recipients(session, sorted(ids))
    return found

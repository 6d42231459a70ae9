"""Demo reference data (config/demo_seed.yaml) loaded into an empty database on first start."""

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrganisationRow
from db.passwords import hash_password
from db.repositories import reference, users
from db.repositories.sla import load_sla_policies
from domain.enums import ContractLevel, Role, Tier


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContractSpec(_Spec):
    id: str
    level: ContractLevel
    starts_in_days: int
    warranty_ends_in_days: int


class OrganisationSpec(_Spec):
    id: str
    name: str
    contract: ContractSpec | None = None


class ProductSpec(_Spec):
    id: str
    name: str
    current_version: str | None = None


class PersonSpec(_Spec):
    id: str
    name: str
    email: str


class TeamSpec(_Spec):
    id: str
    name: str
    tier: Tier
    products: tuple[str, ...] = ()
    manager: PersonSpec
    engineers: tuple[PersonSpec, ...] = Field(min_length=1)


class TokenSpec(_Spec):
    id: str
    token: str = Field(min_length=8)
    role: Role
    organisation: str | None = None
    engineer: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None


class UserSpec(_Spec):
    """A person of the web workspace; engineers and managers take their name from the team."""

    id: str
    username: str
    password: str = Field(min_length=8)
    role: Role
    organisation: str | None = None
    engineer: str | None = None
    display_name: str | None = None
    email: str | None = None
    locale: str | None = None


class DemoSeed(_Spec):
    """The whole demo data set, validated before anything is written."""

    organisations: tuple[OrganisationSpec, ...]
    products: tuple[ProductSpec, ...]
    teams: tuple[TeamSpec, ...]
    tokens: tuple[TokenSpec, ...]
    users: tuple[UserSpec, ...] = ()

    def who(self, token: TokenSpec) -> str:
        """A human description of a token's holder, for the startup banner and the README."""
        if token.engineer is not None:
            for team in self.teams:
                if team.manager.id == token.engineer:
                    return f"{team.manager.name}, manager of {team.name}"
                for engineer in team.engineers:
                    if engineer.id == token.engineer and token.role == Role.FIELD_ENGINEER:
                        return f"{engineer.name}, field engineer ({team.name})"
                    if engineer.id == token.engineer:
                        return f"{engineer.name}, tier-{int(team.tier)} engineer ({team.name})"
        if token.organisation is not None:
            organisation = next(o for o in self.organisations if o.id == token.organisation)
            return f"{token.contact_name or 'customer'} ({organisation.name})"
        return token.contact_name or token.role.value


def load_demo_seed(path: Path | None = None) -> DemoSeed:
    """The demo data from `path`, or the config/demo_seed.yaml shipped with the package."""
    if path is None:
        text = resources.files("config").joinpath("demo_seed.yaml").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return DemoSeed.model_validate(yaml.safe_load(text))


def sla_policies_path() -> Path:
    """The config/sla_policies.yaml shipped with the package, as a file path."""
    return Path(str(resources.files("config").joinpath("sla_policies.yaml")))


def demo_users(seed: DemoSeed | None = None) -> list[tuple[str, str, str, str]]:
    """(username, password, role, who) of every demo user, without touching the database."""
    seed = seed or load_demo_seed()
    return [(u.username, u.password, u.role.value, _user_who(seed, u)) for u in seed.users]


def _user_who(seed: DemoSeed, user: UserSpec) -> str:
    as_token = TokenSpec(
        id=user.id,
        token=user.password,
        role=user.role,
        organisation=user.organisation,
        engineer=user.engineer,
        contact_name=user.display_name,
    )
    return seed.who(as_token)


@lru_cache(maxsize=64)
def _demo_password_hash(password: str) -> str:
    """Hashed once per process: argon2 is slow on purpose, and tests seed many databases."""
    return hash_password(password)


def demo_tokens(seed: DemoSeed | None = None) -> list[tuple[str, str, str]]:
    """(token, role, who) of every demo token, without touching the database."""
    seed = seed or load_demo_seed()
    return [(t.token, t.role.value, seed.who(t)) for t in seed.tokens]


async def seed_demo_data(
    session: AsyncSession, today: date | None = None, seed: DemoSeed | None = None
) -> list[tuple[str, str, str]]:
    """Load the demo data unless organisations exist; returns the tokens created ([] if none).

    Contract dates are offsets from `today`, so the demo never depends on a calendar date.
    The caller commits. Run it from one process: a concurrent seeder fails on the primary
    keys instead of duplicating anything. SLA calendars and policies missing from the
    database are added on every call, so a database seeded before they existed gets them.
    """
    await load_sla_policies(session, sla_policies_path())
    if await session.scalar(sa.select(sa.exists().select_from(OrganisationRow))):
        return []
    seed = seed or load_demo_seed()
    today = today or datetime.now(UTC).date()

    for organisation in seed.organisations:
        await reference.create_organisation(session, organisation.id, organisation.name)
        contract = organisation.contract
        if contract is not None:
            await reference.create_contract(
                session,
                contract.id,
                organisation.id,
                contract.level,
                starts_on=today + timedelta(days=contract.starts_in_days),
                warranty_end=today + timedelta(days=contract.warranty_ends_in_days),
            )
    for product in seed.products:
        await reference.create_product(session, product.id, product.name, product.current_version)
    for team in seed.teams:
        await reference.create_team(session, team.id, team.name, team.tier, team.products)
        await reference.create_engineer(
            session,
            team.manager.id,
            team.manager.name,
            team.manager.email,
            team.tier,
            team.id,
            is_manager=True,
        )
        await reference.set_team_manager(session, team.id, team.manager.id)
        for engineer in team.engineers:
            await reference.create_engineer(
                session, engineer.id, engineer.name, engineer.email, team.tier, team.id
            )

    created: list[tuple[str, str, str]] = []
    for token in seed.tokens:
        contact_name, contact_email = token.contact_name, token.contact_email
        if token.engineer is not None:
            holder = await reference.get_engineer(session, token.engineer)
            if holder is None:
                raise ValueError(f"demo token {token.id} names unknown engineer {token.engineer}")
            contact_name, contact_email = holder.name, holder.email
        who = seed.who(token)
        await reference.create_token(
            session,
            name=who,
            role=token.role,
            raw_token=token.token,
            organisation_id=token.organisation,
            engineer_id=token.engineer,
            contact_name=contact_name or who,
            contact_email=contact_email,
            token_id=token.id,
        )
        created.append((token.token, token.role.value, who))
    for user in seed.users:
        name, email = user.display_name, user.email
        if user.engineer is not None:
            person = await reference.get_engineer(session, user.engineer)
            if person is None:
                raise ValueError(f"demo user {user.id} names unknown engineer {user.engineer}")
            name, email = name or person.name, email or person.email
        await users.create_user(
            session,
            user_id=user.id,
            username=user.username,
            password_hash=_demo_password_hash(user.password),
            role=user.role,
            display_name=name or user.username,
            organisation_id=user.organisation,
            engineer_id=user.engineer,
            email=email,
            locale=user.locale,
        )
    return created

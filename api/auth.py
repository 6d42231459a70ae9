"""Bearer-token authentication and the role rules of every endpoint."""

from dataclasses import dataclass

from api.errors import Problem, forbidden
from domain.enums import ActorKind, Role, Tier
from domain.models import Actor, ActorScope

STAFF = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN, Role.DISPATCHER})
ORGANISATION_STAFF = STAFF | {Role.FIELD_ENGINEER, Role.WAREHOUSE}
"""Everyone working for the support organisation: who may read queues and workloads."""
# Who routes work: assigns, reassigns and hands issues over whoever owns them (managers for
# their teams' issues, the domain decides).
DISPATCHING = frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN})
CUSTOMER_SIDE = frozenset({Role.CUSTOMER, Role.INTEGRATION})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """The caller, as its token describes it."""

    token_id: str
    role: Role
    name: str
    organisation_id: str | None
    engineer_id: str | None
    # From the database, for the domain's ownership rules: the teams the caller works in
    # (engineers.team_id), the teams it manages (teams.manager_id) and its tier.
    team_ids: tuple[str, ...] = ()
    managed_team_ids: tuple[str, ...] = ()
    tier: Tier | None = None

    @property
    def actor(self) -> Actor:
        """How the caller appears on the timeline (engineers by their engineer id); staff
        carry their teams, which the domain checks ownership against."""
        scope = None
        if self.role not in CUSTOMER_SIDE:
            scope = ActorScope(
                team_ids=self.team_ids, managed_team_ids=self.managed_team_ids, tier=self.tier
            )
        return Actor(
            kind=ActorKind(self.role.value),
            id=self.engineer_id or self.token_id,
            name=self.name,
            scope=scope,
        )

    def require(self, roles: frozenset[Role], action: str) -> None:
        if self.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise forbidden(f"role '{self.role.value}' cannot {action} (allowed: {allowed})")

    def can_see_organisation(self, organisation_id: str) -> bool:
        return self.role != Role.CUSTOMER or self.organisation_id == organisation_id


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail)

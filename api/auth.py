"""Bearer-token authentication and the role rules of every endpoint."""

from dataclasses import dataclass

from api.errors import Problem, forbidden
from domain.enums import ActorKind, Role
from domain.models import Actor

STAFF = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN})
ORGANISATION_STAFF = STAFF | {Role.DISPATCHER, Role.FIELD_ENGINEER, Role.WAREHOUSE}
"""Everyone working for the support organisation: who may read queues and workloads."""
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

    @property
    def actor(self) -> Actor:
        """How the caller appears on the timeline (engineers by their engineer id)."""
        return Actor(
            kind=ActorKind(self.role.value),
            id=self.engineer_id or self.token_id,
            name=self.name,
        )

    def require(self, roles: frozenset[Role], action: str) -> None:
        if self.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise forbidden(f"role '{self.role.value}' cannot {action} (allowed: {allowed})")

    def can_see_organisation(self, organisation_id: str) -> bool:
        return self.role != Role.CUSTOMER or self.organisation_id == organisation_id


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail)

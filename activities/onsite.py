"""Activities of on-site service: project visits and part requests, choose a field engineer."""

from datetime import UTC, datetime

from temporalio import activity

from db.repositories import onsite as onsite_repo
from db.session import Database
from domain.onsite_contracts import (
    FieldEngineer,
    FieldEngineerAnswer,
    FieldEngineerQuery,
    PartProjection,
    VisitProjection,
)


def pick_field_engineer(
    candidates: list[FieldEngineer], region: str | None, load: dict[str, int]
) -> FieldEngineerAnswer:
    """The customer's region first (when both sides have one), then the fewest visits
    ahead, then the engineer id: the same data always gives the same engineer."""
    if not candidates:
        return FieldEngineerAnswer(why="no active field engineer")

    def rank(engineer: FieldEngineer) -> tuple[int, int, str]:
        local = region is not None and engineer.region == region
        return (0 if local else 1, load.get(engineer.engineer_id, 0), engineer.engineer_id)

    chosen = min(candidates, key=rank)
    local = region is not None and chosen.region == region
    if region is None:
        why = "the customer's region is unknown"
    elif local:
        why = f"in the customer's region {region}"
    else:
        why = f"nobody in the customer's region {region}"
    visits = load.get(chosen.engineer_id, 0)
    return FieldEngineerAnswer(engineer=chosen, why=f"{why}; {visits} visit(s) ahead")


class OnsiteActivities:
    """Bound to one Database; registered on the worker as bound methods."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn(name="itr.record_visit")
    async def record_visit(self, projection: VisitProjection) -> None:
        """Insert or move the visit forward; an older step (a retry) writes nothing."""
        async with self._db.transaction() as session:
            await onsite_repo.record_visit(
                session,
                projection.visit,
                projection.organisation_id,
                projection.seq,
                projection.dispatched_by_name,
            )

    @activity.defn(name="itr.record_part")
    async def record_part(self, projection: PartProjection) -> None:
        async with self._db.transaction() as session:
            await onsite_repo.record_part(
                session,
                projection.part,
                projection.organisation_id,
                projection.seq,
                projection.requested_by_name,
            )

    @activity.defn(name="itr.choose_field_engineer")
    async def choose_field_engineer(self, query: FieldEngineerQuery) -> FieldEngineerAnswer:
        async with self._db.transaction() as session:
            candidates = await onsite_repo.field_engineers(session)
            region = await onsite_repo.organisation_region(session, query.organisation_id)
            load = await onsite_repo.open_visit_counts(session, datetime.now(UTC))
        return pick_field_engineer(candidates, region, load)

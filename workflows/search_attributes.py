"""Custom search attributes, so `temporal workflow list --query` finds issues by their state."""

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from domain.models import IssueStatus

ITR_STATE = SearchAttributeKey.for_keyword("ItrState")
ITR_SEVERITY = SearchAttributeKey.for_int("ItrSeverity")
ITR_TIER = SearchAttributeKey.for_int("ItrTier")
ITR_CUSTOMER = SearchAttributeKey.for_keyword("ItrCustomer")
ITR_OWNER = SearchAttributeKey.for_keyword("ItrOwner")
ITR_NEXT_DEADLINE = SearchAttributeKey.for_datetime("ItrNextDeadline")
ITR_BREACHED = SearchAttributeKey.for_bool("ItrBreached")
# on_track, at_risk (a warning fired), breached, paused (waiting), stopped (promise kept), none
ITR_SLA = SearchAttributeKey.for_keyword("ItrSla")

ALL_KEYS = (
    ITR_STATE,
    ITR_SEVERITY,
    ITR_TIER,
    ITR_CUSTOMER,
    ITR_OWNER,
    ITR_NEXT_DEADLINE,
    ITR_BREACHED,
    ITR_SLA,
)


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    names = {
        "KEYWORD": "Keyword",
        "INT": "Int",
        "DATETIME": "Datetime",
        "BOOL": "Bool",
    }
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={names[key.indexed_value_type.name]}"]
    return flags


def updates_for(status: IssueStatus) -> list[SearchAttributeUpdate[Any]]:
    """The attribute values describing `status` (unset where the value is absent)."""
    owner = status.owner.engineer_id if status.owner else None
    deadline = status.next_deadline
    return [
        ITR_STATE.value_set(status.state.value),
        ITR_SEVERITY.value_set(int(status.severity)),
        ITR_TIER.value_set(int(status.tier)),
        ITR_CUSTOMER.value_set(status.organisation_id),
        ITR_BREACHED.value_set(status.breached),
        ITR_SLA.value_set(sla_state(status)),
        ITR_OWNER.value_set(owner) if owner else ITR_OWNER.value_unset(),
        ITR_NEXT_DEADLINE.value_set(deadline) if deadline else ITR_NEXT_DEADLINE.value_unset(),
    ]


def sla_state(status: IssueStatus) -> str:
    """One word for dashboards and `temporal workflow list --query "ItrSla='at_risk'"`."""
    sla = status.sla
    if sla is None:
        return "none"
    if sla.breached:
        return "breached"
    if sla.at_risk:
        return "at_risk"
    if sla.paused:
        return "paused"
    if any(c.running for c in sla.clocks):
        return "on_track"
    return "stopped"

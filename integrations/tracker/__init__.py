"""The defect-tracker port: what escalation to R&D needs, whatever tracker R&D uses."""

from integrations.tracker.errors import (
    DefectNotFoundError,
    TrackerError,
    TrackerPermanentError,
    TrackerTransientError,
)
from integrations.tracker.markers import find_marker, strip_marker, with_marker
from integrations.tracker.port import (
    DEFECT_OUTCOMES,
    DefectDraft,
    DefectMeaning,
    DefectRef,
    DefectSnapshot,
    DefectTracker,
    FieldChange,
    TrackerComment,
    TrackerEvent,
    TrackerEventKind,
    dedupe_key_for,
)

__all__ = [
    "DEFECT_OUTCOMES",
    "DefectDraft",
    "DefectMeaning",
    "DefectNotFoundError",
    "DefectRef",
    "DefectSnapshot",
    "DefectTracker",
    "FieldChange",
    "TrackerComment",
    "TrackerError",
    "TrackerEvent",
    "TrackerEventKind",
    "TrackerPermanentError",
    "TrackerTransientError",
    "dedupe_key_for",
    "find_marker",
    "strip_marker",
    "with_marker",
]

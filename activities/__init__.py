"""Temporal activities: every side effect of an issue workflow, each idempotent."""

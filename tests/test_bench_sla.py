"""The pure arithmetic of bench.sla_lateness: what a polling checker would see."""

import pytest

from bench.sla_lateness import Breach, poll_lateness, pooled_poll_lateness, random_phases


def test_a_poll_notices_a_deadline_at_the_first_poll_at_or_after_it() -> None:
    # Polls at 100, 130, 160, ...: deadlines on a poll, just after one, just before the next.
    assert poll_lateness([100.0, 101.0, 129.5, 130.0], 30.0, 100.0) == pytest.approx(
        [0.0, 29.0, 0.5, 0.0]
    )


def test_a_phase_after_the_deadline_still_counts_forward() -> None:
    assert poll_lateness([95.0], 30.0, 100.0) == pytest.approx([5.0])


def test_random_phases_are_reproducible_and_within_one_interval() -> None:
    phases = random_phases(1000.0, 30.0, 200, seed=7)
    assert phases == random_phases(1000.0, 30.0, 200, seed=7)
    assert all(1000.0 <= p < 1030.0 for p in phases)


def test_pooled_lateness_has_one_sample_per_deadline_and_phase() -> None:
    pooled = pooled_poll_lateness([10.0, 20.0], 30.0, [0.0, 15.0])
    assert pooled == pytest.approx([20.0, 10.0, 5.0, 25.0])


def test_a_breach_is_late_from_its_deadline() -> None:
    breach = Breach(issue_id="ITR-1", due=100.0, recorded=100.25, delivered=100.5)
    assert breach.timer_lateness == pytest.approx(0.25)
    assert breach.action_lateness == pytest.approx(0.5)

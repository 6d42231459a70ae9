"""bench.fault_run: its pure arithmetic always; the whole run at N=3 on request.

The whole run starts a dev server, the API, a worker process and the Jira test server and
lasts about two minutes even at N=3 (the SLA targets are seconds long and the worker takes
seconds to start again after each SIGKILL), so it runs only with ITR_TEST_FAULT_RUN=1.
"""

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fault_run import COUNTERS, Outage, overlap, plan_faults, plan_issues
from bench.timer_canary import CanaryTimer, late_spans

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_outage_overlap_counts_only_the_part_inside_the_interval() -> None:
    outages = [Outage("worker", 90.0, 110.0), Outage("temporal", 130.0, 140.0)]
    assert overlap(100.0, 135.0, outages) == pytest.approx(15.0)


def test_overlapping_outages_are_not_counted_twice() -> None:
    outages = [Outage("worker", 100.0, 120.0), Outage("temporal", 110.0, 130.0)]
    assert overlap(0.0, 1000.0, outages) == pytest.approx(30.0)


def test_an_event_recorded_before_any_outage_has_no_overlap() -> None:
    assert overlap(10.0, 20.0, [Outage("worker", 30.0, 40.0)]) == 0.0


def test_the_same_seed_plans_the_same_faults_in_time_order() -> None:
    first = plan_faults(random.Random(7), 150.0, kills=4, tracker_outage=30.0)
    assert first == plan_faults(random.Random(7), 150.0, kills=4, tracker_outage=30.0)
    assert [f.at for f in first] == sorted(f.at for f in first)
    kinds = [f.kind for f in first]
    assert kinds.count("worker_kill") == 4
    assert kinds.count("temporal_restart") == 1
    assert [f.pause for f in first if f.kind == "tracker_outage"] == [30.0]


def test_no_tracker_outage_is_planned_when_its_length_is_zero() -> None:
    planned = plan_faults(random.Random(1), 100.0, kills=2, tracker_outage=0.0)
    assert "tracker_outage" not in [f.kind for f in planned]


def test_the_same_seed_plans_the_same_lifecycles() -> None:
    args = argparse.Namespace(
        issues=20, spread=12.0, first_response=20.0, resolution=60.0, rnd_share=0.3
    )
    first = plan_issues(args, random.Random(3), "run")
    again = plan_issues(args, random.Random(3), "run")
    assert first == again
    assert [p.opens_at for p in first] == sorted(p.opens_at for p in first)
    assert len({p.key for p in first}) == 20


@pytest.mark.skipif(
    os.environ.get("ITR_TEST_FAULT_RUN") != "1",
    reason="about two minutes: set ITR_TEST_FAULT_RUN=1 to run the whole fault run at N=3",
)
def test_a_small_fault_run_loses_and_duplicates_nothing() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fault_run",
            "--issues",
            "3",
            "--worker-kills",
            "2",
            "--tracker-outage",
            "10",
            "--rnd-share",
            "0.7",
            "--seed",
            "5",
            # Lateness depends on the machine's load; here only a gross delay (a lost timer,
            # a clock blocked for minutes) may fail the smoke test.
            "--tolerance",
            "60",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = done.stdout + done.stderr
    lines = set(done.stdout.splitlines())
    for counter in COUNTERS:
        assert f"{counter} 0" in lines, output
    assert "verdict OK" in lines, output
    assert done.returncode == 0, output


def test_only_canary_timers_fired_past_the_margin_count_as_the_server_late() -> None:
    timers = [CanaryTimer(10.0, 10.1), CanaryTimer(11.0, 14.0), CanaryTimer(12.0, 12.6)]
    assert late_spans(timers) == [CanaryTimer(11.0, 14.0), CanaryTimer(12.0, 12.6)]
    assert late_spans(timers, late_after=1.0) == [CanaryTimer(11.0, 14.0)]

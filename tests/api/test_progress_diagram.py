"""The progress diagram's SVG: valid, accessible, the path in order with the current stage
marked, translated by the caller, and without internal stages or names for customers."""

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from api.progress_diagram import render_progress_svg
from domain.issue_path import issue_path, public_path
from tests.domain.test_issue_path import dispatch_journey
from tests.domain.test_lifecycle import T0, reported_case
from tests.support.journeys import long_journey

SVG = "{http://www.w3.org/2000/svg}"
NAMES = {"alice": "Alice Martin", "frank": "Frank Weber", "rita": "Rita Rnd"}


def clock(moment: datetime) -> str:
    return moment.strftime("%d.%m. %H:%M")


def draw(*, public: bool, gettext: object = None) -> ET.Element:
    visits = issue_path(long_journey(reported_case(), T0).events)
    svg = render_progress_svg(
        public_path(visits) if public else visits,
        issue_id="ITR-1",
        public=public,
        gettext=gettext or (lambda text: text),  # type: ignore[arg-type]
        format_time=clock,
        owner_names=None if public else NAMES,
    )
    return ET.fromstring(svg)


def stages(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "stage" in (g.get("class") or "").split()]


def texts(root: ET.Element) -> str:
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_the_diagram_is_an_accessible_svg_that_scales_with_its_view_box() -> None:
    root = draw(public=False)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox", "").startswith("0 0 320 ")
    assert root.find(f"{SVG}title") is not None
    desc = root.find(f"{SVG}desc")
    assert desc is not None and (desc.text or "").startswith("Now: Escalated.")
    assert root.get("aria-labelledby") == "diagram-title diagram-desc"
    sizes = [float(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")]
    assert min(sizes) >= 10  # about 12 px on a 390 px phone


def test_the_path_stages_are_drawn_in_order_and_only_the_current_is_marked() -> None:
    root = draw(public=False)
    drawn = [(g.get("data-state"), g.get("data-lane")) for g in stages(root)]
    assert drawn == [
        ("new", "tier_1"),
        ("accepted", "tier_1"),
        ("assigned", "tier_1"),
        ("in_progress", "tier_1"),
        ("waiting_customer", "customer"),
        ("in_progress", "tier_1"),
        ("escalated", "tier_2"),
        ("waiting_customer", "customer"),
        ("escalated", "tier_2"),
        ("escalated", "tier_3"),
        ("escalated", "tier_2"),
    ]
    current = [g for g in stages(root) if "current" in (g.get("class") or "")]
    assert current == [stages(root)[-1]]
    words = texts(root)
    for expected in ("Tier 1", "Tier 2", "Tier 3 / R&D", "Customer", "visit 3", "owner: Frank"):
        assert expected in words
    assert "waiting for R&D" in words and "target missed" in words
    assert clock(T0) in words


def test_the_customer_variant_hides_internal_stages_lanes_and_names() -> None:
    root = draw(public=True)
    lanes = {g.get("data-lane") for g in stages(root)}
    assert lanes == {"support", "customer"}
    words = texts(root) + " ".join(el.text or "" for el in root.iter() if el.tag != f"{SVG}text")
    for hidden in ("Alice", "Frank", "Rita", "Tier", "R&D", "budget", "Resolved", "owner"):
        assert hidden not in words, hidden
    assert "With our specialists" in words and "Our support team" in words


def shouting(text: str) -> str:
    """A stand-in translation: capitals, placeholders kept."""
    return re.sub(r"[^{}]+(?=\{|$)", lambda m: m.group(0).upper(), text)


def test_every_text_goes_through_the_callers_gettext_and_every_time_its_formatter() -> None:
    root = draw(public=False, gettext=shouting)
    owners = " ".join(NAMES.values())
    for node in root.iter(f"{SVG}text"):
        words = [w for w in (node.text or "").split() if w not in owners]
        assert all(w == w.upper() for w in words), node.text
    assert shouting("{clock}: target missed") == "{clock}: TARGET MISSED"


def test_staff_read_queue_waits_offers_and_hand_backs_and_customers_no_name_of_them() -> None:
    visits = issue_path(dispatch_journey().events)
    names = {**NAMES, "frank": "Frank Weber"}

    def svg(public: bool) -> ET.Element:
        return ET.fromstring(
            render_progress_svg(
                public_path(visits) if public else visits,
                issue_id="ITR-1",
                public=public,
                gettext=lambda text: text,
                format_time=clock,
                owner_names=None if public else names,
            )
        )

    staff = texts(svg(False))
    for line in ("queued: nobody available", "claimed by Alice", "offered to Frank Weber"):
        assert line in staff
    assert "handed back to Alice" in staff
    public = svg(True)
    shown = texts(public) + " ".join(d.text or "" for d in public.iter(f"{SVG}desc"))
    for word in ("Alice", "Frank", "queue", "offer", "handed"):
        assert word not in shown

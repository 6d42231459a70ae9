"""The issue's progress diagram as SVG: swimlanes, the lifecycle's states, and the path the
issue took, drawn from `domain.lifecycle_graph` and `domain.issue_path` (no JavaScript).

Lanes are columns and time runs downwards, so the picture keeps its width on a phone: the
`viewBox` is 320 units wide and the smallest text 10 units, about 12 px at 390 px. Texts
come through the caller's `gettext` and times through its `format_time`, so the web layer
draws it in the reader's language and time zone; the API passes English and UTC. Every
shape that means something has a text label, and `<title>`/`<desc>` say it in words.
"""

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.enums import EventKind, IssueState, SlaClockKind
from domain.issue_path import DispatchMark, SlaMark, StageVisit
from domain.lifecycle_graph import LANES, PUBLIC_LANES, STATES, Lane, public_lane

Gettext = Callable[[str], str]
FormatTime = Callable[[datetime], str]

WIDTH = 320
HEADER = 30
GAP = 14
CARD_PAD = 4
LINE = 13
SMALL = 10
LABEL = 11
CHAR = 0.56
"""Average glyph width per unit of font size, to wrap lines without a font engine."""
CHAR_BOLD = 0.6

LANE_FILL = {
    Lane.TIER_1: "#eef4fb",
    Lane.TIER_2: "#f1effa",
    Lane.TIER_3: "#fbf0ea",
    Lane.CUSTOMER: "#edf7ef",
    Lane.SUPPORT: "#eef4fb",
}
CARD_STROKE = "#5b6b7f"
CURRENT_STROKE = "#b45309"
WAITING_FILL = "#fff7d6"
WARNING_TEXT = "#8a5a00"
BREACH_TEXT = "#b3261e"
TEXT = "#1f2933"
MUTED = "#52606d"


@dataclass(frozen=True)
class DiagramTexts:
    """Everything the picture says, translated once per drawing."""

    lanes: dict[Lane, str]
    states: dict[IssueState, str]
    clocks: dict[SlaClockKind, str]
    lifecycle: str
    path: str
    now: str
    visit: str
    waiting_rnd: str
    owner: str
    unowned: str
    warning: str
    breach: str
    title: str
    summary: str
    step: str
    waiting_owner: dict[str, str]
    """Staff: the stage's issue waits unowned ("queue") or for an offer's answer ("offer")."""
    dispatch: dict[EventKind, str]
    """Staff: how the issue was routed; {name} is the engineer concerned."""


DISPATCH_SHOWN = 3
"""A card shows the latest few routing marks (the timeline has them all)."""


def _texts(_: Gettext, public: bool) -> DiagramTexts:
    if public:
        lanes = {Lane.SUPPORT: _("Our support team"), Lane.CUSTOMER: _("You")}
        states = {
            IssueState.NEW: _("Received"),
            IssueState.ACCEPTED: _("Registered"),
            IssueState.ASSIGNED: _("Assigned"),
            IssueState.IN_PROGRESS: _("In progress"),
            IssueState.ESCALATED: _("With our specialists"),
            IssueState.WAITING_CUSTOMER: _("Waiting for your answer"),
            IssueState.RESOLVED: _("Resolved"),
            IssueState.AWAITING_CONFIRMATION: _("Waiting for your confirmation"),
            IssueState.CLOSED: _("Closed"),
            IssueState.CANCELLED: _("Cancelled"),
        }
    else:
        lanes = {
            Lane.TIER_1: _("Tier 1"),
            Lane.TIER_2: _("Tier 2"),
            Lane.TIER_3: _("Tier 3 / R&D"),
            Lane.CUSTOMER: _("Customer"),
        }
        states = {
            IssueState.NEW: _("New"),
            IssueState.ACCEPTED: _("Accepted"),
            IssueState.ASSIGNED: _("Assigned"),
            IssueState.IN_PROGRESS: _("In progress"),
            IssueState.ESCALATED: _("Escalated"),
            IssueState.WAITING_CUSTOMER: _("Waiting for the customer"),
            IssueState.RESOLVED: _("Resolved"),
            IssueState.AWAITING_CONFIRMATION: _("Awaiting confirmation"),
            IssueState.CLOSED: _("Closed"),
            IssueState.CANCELLED: _("Cancelled"),
        }
    return DiagramTexts(
        lanes=lanes,
        states=states,
        clocks={
            SlaClockKind.FIRST_RESPONSE: _("first response"),
            SlaClockKind.RESOLUTION: _("resolution"),
            SlaClockKind.TIER_1: _("tier 1 budget"),
            SlaClockKind.TIER_2: _("tier 2 budget"),
            SlaClockKind.TIER_3: _("tier 3 budget"),
        },
        lifecycle=_("Lifecycle"),
        path=_("Path of this issue"),
        now=_("now"),
        visit=_("visit {number}"),
        waiting_rnd=_("waiting for R&D"),
        owner=_("owner: {name}"),
        unowned=_("no owner"),
        warning=_("{clock} at {percent}%"),
        breach=_("{clock}: target missed"),
        title=_("Progress of issue {issue}"),
        summary=_("Now: {stage}. Path: {steps}."),
        step=_("{stage} ({lane}) since {time}"),
        waiting_owner={
            "queue": _("waiting in the team's queue"),
            "offer": _("offered, awaiting an answer"),
        },
        dispatch={
            EventKind.QUEUED: _("queued: nobody available"),
            EventKind.OFFERED: _("offered to {name}"),
            EventKind.OFFER_DECLINED: _("{name} declined"),
            EventKind.OFFER_EXPIRED: _("offer to {name} expired"),
            EventKind.CLAIMED: _("claimed by {name}"),
            EventKind.OFFER_ACCEPTED: _("{name} accepted"),
            EventKind.HANDED_BACK: _("handed back to {name}"),
            EventKind.HANDED_OVER: _("handed over from {name}"),
        },
    )


def _dispatch_text(texts: DiagramTexts, mark: DispatchMark, names: Mapping[str, str]) -> str:
    engineer = mark.engineer_id or "?"
    return texts.dispatch[mark.kind].format(name=names.get(engineer, engineer))


def _wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """Greedy word wrap by estimated glyph width; a word longer than a line is cut. Text
    without spaces (Chinese) wraps per glyph, each counted as two."""
    if " " not in text and any(ord(ch) > 0x2E80 for ch in text):
        return _wrap_glyphs(text, width, size)
    limit = max(int(width / (size * (CHAR_BOLD if bold else CHAR))), 4)
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > limit:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[: limit - 1] + "…")
            word = ""
        if not word:
            continue
        candidate = f"{current} {word}".strip()
        if len(candidate) <= limit:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines or [""]


def _wrap_glyphs(text: str, width: float, size: float) -> list[str]:
    per_line = max(int(width / size), 2)
    return [text[i : i + per_line] for i in range(0, len(text), per_line)] or [""]


def _text(
    parent: ET.Element,
    x: float,
    y: float,
    content: str,
    *,
    size: float = SMALL,
    weight: str | None = None,
    fill: str = TEXT,
    anchor: str = "middle",
) -> None:
    node = ET.SubElement(
        parent,
        "text",
        {
            "x": f"{x:g}",
            "y": f"{y:g}",
            "font-size": f"{size:g}",
            "fill": fill,
            "text-anchor": anchor,
        },
    )
    if weight:
        node.set("font-weight", weight)
    node.text = content


@dataclass(frozen=True)
class _Card:
    visit: StageVisit
    x: float
    y: float
    width: float
    lines: list[tuple[str, float, str | None, str]]
    """(text, size, weight, colour) per line."""

    @property
    def height(self) -> float:
        return CARD_PAD * 2 + sum(
            LINE if size <= SMALL else LINE + 1 for _, size, _, _ in self.lines
        )


def render_progress_svg(
    visits: Sequence[StageVisit],
    *,
    issue_id: str,
    public: bool,
    gettext: Gettext,
    format_time: FormatTime,
    owner_names: Mapping[str, str] | None = None,
) -> str:
    """The diagram for staff (four lanes, owners, every SLA mark) or, with `public`, for the
    customer (`visits` already reduced by `domain.issue_path.public_path`)."""
    texts = _texts(gettext, public)
    lanes = PUBLIC_LANES if public else LANES
    lane_width = WIDTH / len(lanes)
    column = {lane: index for index, lane in enumerate(lanes)}
    names = owner_names or {}

    def lane_x(lane: Lane) -> float:
        return column[lane] * lane_width

    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "role": "img",
            "aria-labelledby": "diagram-title diagram-desc",
            "font-family": "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'PingFang SC', "
            "'Microsoft YaHei', sans-serif",
        },
    )
    title = ET.SubElement(root, "title", {"id": "diagram-title"})
    title.text = texts.title.format(issue=issue_id)
    desc = ET.SubElement(root, "desc", {"id": "diagram-desc"})
    defs = ET.SubElement(root, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        {
            "id": "arrow",
            "viewBox": "0 0 10 10",
            "refX": "9",
            "refY": "5",
            "markerWidth": "6",
            "markerHeight": "6",
            "orient": "auto-start-reverse",
        },
    )
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": CARD_STROKE})
    background = ET.SubElement(root, "g", {"class": "lanes"})
    content = ET.SubElement(root, "g", {"class": "content"})

    # --- the lifecycle: each lane's states, the visited ones filled, the current outlined ----
    visited = {(v.state, v.lane) for v in visits}
    current = visits[-1] if visits and visits[-1].current else None
    y: float = HEADER + 6
    _text(content, 6, y + 8, texts.lifecycle, size=LABEL, weight="bold", anchor="start")
    y += 16
    chip_rows: dict[Lane, list[IssueState]] = {lane: [] for lane in lanes}
    for node in STATES:
        if public and not node.public:
            continue
        for lane in node.lanes:
            shown = public_lane(lane) if public else lane
            if node.state not in chip_rows[shown]:
                chip_rows[shown].append(node.state)
    map_top = y
    map_bottom = y
    for lane, states in chip_rows.items():
        cy = map_top
        for state in states:
            chip_lines = _wrap(texts.states[state], lane_width - 12, SMALL)
            height = 6 + LINE * len(chip_lines)
            is_current = current is not None and current.state == state and current.lane == lane
            group = ET.SubElement(content, "g", {"class": "state"})
            ET.SubElement(
                group,
                "rect",
                {
                    "x": f"{lane_x(lane) + 4:g}",
                    "y": f"{cy:g}",
                    "width": f"{lane_width - 8:g}",
                    "height": f"{height:g}",
                    "rx": "4",
                    "fill": "#ffffff" if (state, lane) in visited else "none",
                    "stroke": CURRENT_STROKE if is_current else CARD_STROKE,
                    "stroke-width": "2" if is_current else "0.6",
                    "stroke-dasharray": "" if (state, lane) in visited else "3 2",
                },
            )
            for index, line in enumerate(chip_lines):
                _text(
                    group,
                    lane_x(lane) + lane_width / 2,
                    cy + 3 + LINE * (index + 1) - 3,
                    line,
                    fill=TEXT if (state, lane) in visited else MUTED,
                    weight="bold" if is_current else None,
                )
            cy += height + 4
        map_bottom = max(map_bottom, cy)

    # --- the path: one card per visit, in its lane, top to bottom --------------------------
    y = map_bottom + 10
    _text(content, 6, y + 8, texts.path, size=LABEL, weight="bold", anchor="start")
    y += 18
    cards: list[_Card] = []
    card_width = lane_width - 6
    for visit in visits:
        lines: list[tuple[str, float, str | None, str]] = []
        label = texts.states[visit.state]
        if visit.visit > 1:
            label = f"{label} · {texts.visit.format(number=visit.visit)}"
        lines += [
            (part, LABEL, "bold", TEXT) for part in _wrap(label, card_width - 8, LABEL, bold=True)
        ]
        lines += [
            (part, SMALL, None, MUTED)
            for part in _wrap(format_time(visit.entered_at), card_width - 6, SMALL)
        ]
        if not public:
            owner = (
                texts.owner.format(name=names.get(visit.owner_id, visit.owner_id))
                if visit.owner_id
                else texts.unowned
            )
            lines += [(part, SMALL, None, MUTED) for part in _wrap(owner, card_width - 6, SMALL)]
        if not public:
            routed = [_dispatch_text(texts, m, names) for m in visit.dispatch[-DISPATCH_SHOWN:]]
            for text in routed:
                lines += [(p, SMALL, None, MUTED) for p in _wrap(text, card_width - 6, SMALL)]
            if visit.waiting_owner is not None:
                waiting = texts.waiting_owner[visit.waiting_owner]
                lines += [
                    (p, SMALL, "bold", TEXT)
                    for p in _wrap(waiting, card_width - 8, SMALL, bold=True)
                ]
        if visit.waiting_for == "rnd" and not public:
            lines += [
                (p, SMALL, "bold", TEXT)
                for p in _wrap(texts.waiting_rnd, card_width - 8, SMALL, bold=True)
            ]
        for mark in _latest_per_clock(visit.marks):
            lines += [
                (p, SMALL, "bold", BREACH_TEXT if mark.breached else WARNING_TEXT)
                for p in _wrap(_mark_text(texts, mark), card_width - 8, SMALL, bold=True)
            ]
        if visit.current:
            lines.append((f"● {texts.now}", SMALL, "bold", CURRENT_STROKE))
        card = _Card(visit, lane_x(visit.lane) + 3, y, card_width, lines)
        cards.append(card)
        y += card.height + GAP
    for index, card in enumerate(cards):
        _draw_card(content, card, index + 1)
        if index:
            before = cards[index - 1]
            ET.SubElement(
                content,
                "path",
                {
                    "d": f"M {before.x + before.width / 2:g} {before.y + before.height:g} "
                    f"L {card.x + card.width / 2:g} {card.y - 1:g}",
                    "stroke": CARD_STROKE,
                    "stroke-width": "1.4",
                    "fill": "none",
                    "marker-end": "url(#arrow)",
                },
            )
    total_height = y + 4

    # --- lanes under everything: columns with their names ----------------------------------
    for lane in lanes:
        ET.SubElement(
            background,
            "rect",
            {
                "x": f"{lane_x(lane):g}",
                "y": "0",
                "width": f"{lane_width:g}",
                "height": f"{total_height:g}",
                "fill": LANE_FILL[lane],
                "stroke": "#ffffff",
                "stroke-width": "2",
            },
        )
        for index, line in enumerate(_wrap(texts.lanes[lane], lane_width - 6, LABEL)[:2]):
            _text(
                background,
                lane_x(lane) + lane_width / 2,
                13 + index * 12,
                line,
                size=LABEL,
                weight="bold",
            )
    root.set("viewBox", f"0 0 {WIDTH} {total_height:g}")
    root.set("width", "100%")
    root.set("preserveAspectRatio", "xMidYMin meet")
    desc.text = _summary(texts, visits, format_time, None if public else names)
    return ET.tostring(root, encoding="unicode")


def _draw_card(parent: ET.Element, card: _Card, number: int) -> None:
    visit = card.visit
    group = ET.SubElement(
        parent,
        "g",
        {
            "class": "stage current" if visit.current else "stage",
            "data-state": visit.state.value,
            "data-lane": visit.lane.value,
            "data-step": str(number),
        },
    )
    ET.SubElement(
        group,
        "rect",
        {
            "x": f"{card.x:g}",
            "y": f"{card.y:g}",
            "width": f"{card.width:g}",
            "height": f"{card.height:g}",
            "rx": "5",
            "fill": WAITING_FILL if visit.waiting_for == "customer" else "#ffffff",
            "stroke": CURRENT_STROKE if visit.current else CARD_STROKE,
            "stroke-width": "2.5" if visit.current else "1",
        },
    )
    y = card.y + CARD_PAD
    for text, size, weight, colour in card.lines:
        y += LINE if size <= SMALL else LINE + 1
        _text(
            group,
            card.x + 5,
            y - 3,
            text,
            size=size,
            weight=weight,
            fill=colour,
            anchor="start",
        )


def _latest_per_clock(marks: Sequence[SlaMark]) -> list[SlaMark]:
    """Each clock's furthest mark in the visit: a breach says more than the warnings
    before it (the SLA history lists them all)."""
    latest: dict[SlaClockKind, SlaMark] = {}
    for mark in marks:
        latest[mark.clock] = mark
    return list(latest.values())


def _mark_text(texts: DiagramTexts, mark: SlaMark) -> str:
    clock = texts.clocks[mark.clock]
    if mark.breached:
        return "✕ " + texts.breach.format(clock=clock)
    return "⚠ " + texts.warning.format(clock=clock, percent=mark.percent)


def _summary(
    texts: DiagramTexts,
    visits: Sequence[StageVisit],
    format_time: FormatTime,
    names: Mapping[str, str] | None,
) -> str:
    """The path in words, for screen readers (the `<desc>`); owners for staff (`names`)."""
    steps = []
    for visit in visits:
        step = texts.step.format(
            stage=texts.states[visit.state],
            lane=texts.lanes[visit.lane],
            time=format_time(visit.entered_at),
        )
        if names is not None and visit.owner_id:
            step += ", " + texts.owner.format(name=names.get(visit.owner_id, visit.owner_id))
        if names is not None and visit.waiting_owner is not None:
            step += ", " + texts.waiting_owner[visit.waiting_owner]
        steps.append(step)
    stage = texts.states[visits[-1].state] if visits else "-"
    return texts.summary.format(stage=stage, steps="; ".join(steps))

"""`hub report`: one self-contained HTML page people look at (var/report/index.html).

Sections: supplier scorecards, alerts by type and status (now and over time), open exceptions
with who must act, a batch genealogy picture, pipeline health per partner, and the last data
quality run. Charts are drawn by matplotlib and inlined as SVG: the page needs no network, no
CDN and no script, so it opens from disk, from the Airflow plugin or as a mail attachment.

``collect`` reads the store into ``ReportData`` (plain data); ``render`` turns that into HTML and
never touches the store, so tests feed it hand-made data. Every value from the data goes through
``html.escape`` (supplier names and messages come from partners), and matplotlib's mathtext is off
so a ``$`` in a name is text, not a formula.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

#: statuses in the order charts stack them
ALERT_STATUSES = ("open", "acknowledged", "resolved", "closed")
UNRESOLVED = ("open", "acknowledged")
STATUS_COLOURS = {"open": "#d62728", "acknowledged": "#ff7f0e", "resolved": "#2ca02c", "closed": "#7f7f7f"}
KIND_COLOURS = {"batch": "#1f77b4", "lot": "#1f77b4", "production_order": "#ff7f0e", "receipt": "#2ca02c",
                "inspection": "#9467bd", "shipment_notice": "#8c564b"}
#: days of alert history drawn
HISTORY_DAYS = 60
#: batches drawn in the genealogy section, nodes per tree
GENEALOGY_BATCHES = 4
GENEALOGY_MAX_NODES = 30
GENEALOGY_CANDIDATES = 200


# ------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AlertView:
    alert_id: str
    alert_type: str
    severity: str
    status: str
    responsible_party: str
    message: str
    due: Optional[dt.datetime] = None
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertChange:
    """One stored version of an alert: from ``at`` on, it had this status."""

    at: dt.datetime
    alert_id: str
    alert_type: str
    status: str


@dataclass(frozen=True)
class QuarantineView:
    row_id: int
    partner: Optional[str]
    reason_code: str
    location: str
    message: str
    created_at: Optional[dt.datetime] = None


@dataclass(frozen=True)
class PartnerHealth:
    partner: str
    files_in: int = 0
    processed: int = 0
    duplicates: int = 0
    events_in: int = 0
    quarantined: int = 0
    pushed: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class TreeNode:
    """A genealogy node (the shape of ``collaboration.trace.TraceNode``)."""

    kind: str
    id: str
    label: str = ""
    children: tuple["TreeNode", ...] = ()

    @classmethod
    def from_trace(cls, node: Any) -> "TreeNode":
        # iterative: a genealogy can be deeper than Python's recursion limit
        built: dict[int, TreeNode] = {}
        stack: list[tuple[Any, bool]] = [(node, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                built[id(current)] = cls(current.kind, str(current.id), str(current.label or ""),
                                         tuple(built[id(c)] for c in current.children))
                continue
            stack.append((current, True))
            stack.extend((child, False) for child in current.children)
        return built[id(node)]


@dataclass
class ReportData:
    generated_at: dt.datetime
    #: ``SupplierScore.as_dict()`` rows
    scorecards: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    alert_history: list[AlertChange] = field(default_factory=list)
    quarantine: list[QuarantineView] = field(default_factory=list)
    genealogy: list[TreeNode] = field(default_factory=list)
    pipeline: list[PartnerHealth] = field(default_factory=list)
    #: validation/quality.py's last_run.json, if a run happened
    quality: Optional[dict[str, Any]] = None
    #: link from the report to the GX Data Docs page (relative to the report)
    data_docs_href: Optional[str] = None
    #: section -> why it is empty (a module missing, a read that failed)
    unavailable: dict[str, str] = field(default_factory=dict)


def _utc(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def collect(store: Any, *, now: dt.datetime, quality_dir: Optional[Path] = None) -> ReportData:
    """Everything the page shows, read from the store (and var/gx/last_run.json)."""
    data = ReportData(generated_at=_utc(now))
    with store.session() as session:
        _collect_scorecards(session, data)
        _collect_alerts(session, data)
        _collect_quarantine(session, data)
        _collect_genealogy(session, data)
        data.pipeline = pipeline_health(session)
    if quality_dir is not None:
        last = quality_dir / "last_run.json"
        if last.is_file():
            try:
                data.quality = json.loads(last.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                data.unavailable["quality"] = f"{last} unreadable: {exc}"
    return data


def _collect_scorecards(session: Any, data: ReportData) -> None:
    try:
        from collaboration.scorecard import scorecards_from_store
    except ImportError as exc:
        data.unavailable["scorecards"] = f"collaboration.scorecard not available ({exc})"
        return
    from hub.errors import HubError

    try:
        data.scorecards = [s.as_dict() for s in scorecards_from_store(session, as_of=data.generated_at)]
    except HubError as exc:  # e.g. a broken scorecard config: the rest of the page still helps
        data.unavailable["scorecards"] = exc.as_line()


def _collect_alerts(session: Any, data: ReportData) -> None:
    from sqlalchemy import select

    from canonical_model.store import documents
    from canonical_model.store.tables import DocumentRow

    data.alerts = [AlertView(a.alert_id, a.alert_type, a.severity, a.status, a.responsible_party, a.message,
                             _utc(a.due), tuple(f"{s.type} {s.key}" for s in a.subjects))
                   for a in documents.current(session, "Alert")]
    # every stored version is a status as of its creation (the audit log records the same moments)
    rows = session.execute(select(DocumentRow.created_at, DocumentRow.business_key, DocumentRow.body)
                           .where(DocumentRow.doc_type == "Alert").order_by(DocumentRow.id))
    data.alert_history = [AlertChange(_utc(at), key, str(body.get("alert_type")), str(body.get("status", "open")))
                          for at, key, body in rows]


def _collect_quarantine(session: Any, data: ReportData) -> None:
    from canonical_model.store import quarantine

    data.quarantine = [QuarantineView(r.id, r.partner, r.reason_code, r.location, r.message, _utc(r.created_at))
                       for r in quarantine.list_rows(session, "open")]


def _collect_genealogy(session: Any, data: ReportData) -> None:
    try:
        from collaboration.trace import Genealogy, trace
    except ImportError as exc:
        data.unavailable["genealogy"] = f"collaboration.trace not available ({exc})"
        return
    genealogy = Genealogy.from_store(session)
    # a trace per batch is cheap, but not for every batch of a big plant: the first ones suffice for a picture
    trees = [TreeNode.from_trace(trace(genealogy, batch_id, "forward"))
             for batch_id in genealogy.batch_ids()[:GENEALOGY_CANDIDATES]]
    data.genealogy = pick_trees(trees)


def pick_trees(trees: Sequence[TreeNode], limit: int = GENEALOGY_BATCHES) -> list[TreeNode]:
    """The batches worth a picture: those that went furthest (most nodes), then by id."""
    return sorted(trees, key=lambda t: (-_size(t), t.id))[:limit]


def _size(tree: TreeNode) -> int:
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.children)
    return count


def pipeline_health(session: Any) -> list[PartnerHealth]:
    """Per partner (or target system): payloads in, events in, open quarantine, outbox state."""
    from sqlalchemy import func, select

    from canonical_model.store.tables import EventRow, InboxRow, OutboxRow, QuarantineRow

    counts: dict[str, Counter] = defaultdict(Counter)
    for partner, status, n in session.execute(select(InboxRow.partner, InboxRow.status, func.count())
                                              .group_by(InboxRow.partner, InboxRow.status)):
        c = counts[partner]
        c["files_in"] += n
        if status in ("processed", "partially_processed"):
            c["processed"] += n
        elif status == "duplicate":
            c["duplicates"] += n
    for partner, source, n in session.execute(select(EventRow.partner, EventRow.source, func.count())
                                              .group_by(EventRow.partner, EventRow.source)):
        counts[partner or source]["events_in"] += n
    for partner, n in session.execute(select(QuarantineRow.partner, func.count())
                                      .where(QuarantineRow.status == "open").group_by(QuarantineRow.partner)):
        counts[partner or "(no partner)"]["quarantined"] += n
    # supplier pushes carry their partner in the payload; pushes to a system are that system's
    who = func.coalesce(OutboxRow.payload["partner"].as_string(), OutboxRow.target)
    for partner, status, n in session.execute(select(who, OutboxRow.status, func.count())
                                              .group_by(who, OutboxRow.status)):
        counts[partner][{"sent": "pushed", "failed": "failed"}.get(status, "pending")] += n
    return [PartnerHealth(partner=p, **{k: int(v) for k, v in c.items()}) for p, c in sorted(counts.items())]


# ----------------------------------------------------------------------------------------- charts


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    # no pyplot: no global figure registry, safe in a web server thread
    return Figure(figsize=(width, height), dpi=96, layout="constrained")


_RC = {"text.parse_math": False, "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
       "axes.spines.right": False}


def _chart(draw: Any, chart_id: str, title: str, *args: Any) -> str:
    """Run ``draw(fig, *args)`` under the report's rc settings and return an inline ``<figure>``."""
    import matplotlib

    with matplotlib.rc_context({**_RC, "svg.hashsalt": chart_id}):
        fig = draw(*args)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and DOCTYPE: inline SVG in HTML5
    # matplotlib names elements figure_1, axes_1...: make them unique per chart on one page
    svg = re.sub(r'(id="|url\(#|href="#)', lambda m: f"{m.group(1)}{chart_id}-", svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(title)}" class="chart-svg" ', 1)
    return (f'<figure class="chart" data-chart="{_e(chart_id)}">{svg}'
            f"<figcaption>{_e(title)}</figcaption></figure>")


def _whole_numbers(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _latest_scores(scorecards: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in scorecards:
        if row.get("score") is None:
            continue
        known = latest.get(row["supplier_id"])
        if known is None or row["month"] > known["month"]:
            latest[row["supplier_id"]] = dict(row)
    return [latest[k] for k in sorted(latest)]


def draw_scores(scorecards: Sequence[Mapping[str, Any]]) -> Any:
    rows = _latest_scores(scorecards)
    fig = _figure(7, 0.45 * len(rows) + 1.2)
    ax = fig.add_subplot()
    names = [_short(f"{r['supplier_id']} ({r['month']})") for r in rows]
    scores = [float(r["score"]) for r in rows]
    bars = ax.barh(names, scores, color="#1f77b4")
    for bar, row in zip(bars, rows):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, str(row.get("grade") or ""), va="center")
    ax.set_xlim(0, 110)
    ax.invert_yaxis()
    ax.set_xlabel("score (latest month)")
    return fig


def draw_score_trend(scorecards: Sequence[Mapping[str, Any]]) -> Any:
    series: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in sorted(scorecards, key=lambda r: (r["supplier_id"], r["month"])):
        if row.get("score") is not None:
            series[row["supplier_id"]].append((row["month"], float(row["score"])))
    months = sorted({m for points in series.values() for m, _ in points})
    fig = _figure(7, 3)
    ax = fig.add_subplot()
    for supplier, points in sorted(series.items()):
        ax.plot([months.index(m) for m, _ in points], [s for _, s in points], marker="o", label=_short(supplier))
    ax.set_xticks(range(len(months)), months)
    ax.set_ylim(0, 105)
    ax.set_ylabel("score")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def draw_alerts_by_type(alerts: Sequence[AlertView]) -> Any:
    types = sorted({a.alert_type for a in alerts})
    fig = _figure(7, 0.4 * len(types) + 1.3)
    ax = fig.add_subplot()
    left = [0] * len(types)
    for status in ALERT_STATUSES:
        counts = [sum(1 for a in alerts if a.alert_type == t and a.status == status) for t in types]
        if any(counts):
            ax.barh([_short(t) for t in types], counts, left=left, color=STATUS_COLOURS[status], label=status)
            left = [l + c for l, c in zip(left, counts)]
    ax.invert_yaxis()
    _whole_numbers(ax.xaxis)
    ax.set_xlabel("alerts")
    ax.legend(fontsize=8)
    return fig


def alert_timeline(history: Sequence[AlertChange], now: dt.datetime,
                   days: int = HISTORY_DAYS) -> tuple[list[dt.date], dict[str, list[int]], dict[str, list[int]]]:
    """Per day (at its end, UTC): alerts per status, and unresolved alerts per type."""
    if not history:
        return [], {}, {}
    first = min(c.at for c in history).date()
    # a change stamped after `now` (another clock) still shows
    last = max(_utc(now).date(), max(c.at for c in history).date())
    start = max(first, last - dt.timedelta(days=days - 1))
    dates = [start + dt.timedelta(days=n) for n in range((last - start).days + 1)]
    ordered = sorted(history, key=lambda c: c.at)
    by_status: dict[str, list[int]] = {s: [] for s in ALERT_STATUSES}
    by_type: dict[str, list[int]] = {t: [] for t in sorted({c.alert_type for c in history})}
    state: dict[str, AlertChange] = {}
    position = 0
    for day in dates:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        while position < len(ordered) and ordered[position].at < end:
            state[ordered[position].alert_id] = ordered[position]
            position += 1
        statuses = Counter(c.status for c in state.values())
        types = Counter(c.alert_type for c in state.values() if c.status in UNRESOLVED)
        for status in by_status:
            by_status[status].append(statuses.get(status, 0))
        for alert_type in by_type:
            by_type[alert_type].append(types.get(alert_type, 0))
    return dates, by_status, by_type


def draw_alert_timeline(history: Sequence[AlertChange], now: dt.datetime) -> Any:
    dates, by_status, by_type = alert_timeline(history, now)
    if len(dates) == 1:
        # one day of history: a step plot over a single x is invisible (and matplotlib then spans
        # years of axis); show that day as a bar-wide step from the day before to the day after
        day = dates[0]
        dates = [day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]
        by_status = {k: [0, v[0], v[0]] for k, v in by_status.items()}
        by_type = {k: [0, v[0], v[0]] for k, v in by_type.items()}
    fig = _figure(7, 4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    statuses = [s for s in ALERT_STATUSES if any(by_status[s])] or ["open"]
    top.stackplot(dates, [by_status[s] for s in statuses], labels=statuses,
                  colors=[STATUS_COLOURS[s] for s in statuses], step="post")
    top.set_ylabel("alerts by status")
    _whole_numbers(top.yaxis)
    _whole_numbers(bottom.yaxis)
    top.legend(loc="upper left", fontsize=8)
    for alert_type, counts in by_type.items():
        bottom.step(dates, counts, where="post", label=_short(alert_type))
    bottom.set_ylabel("unresolved by type")
    bottom.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return fig


def _tree_layout(tree: TreeNode, max_nodes: int) -> tuple[list[tuple[TreeNode, int, float]], list[tuple[int, int]], int]:
    """(node, depth, row) per drawn node, (parent, child) index pairs, and how many nodes were left out.

    The nodes nearest the batch are kept (breadth first); leaves take consecutive rows and a parent
    sits between its first and last child. Iterative: genealogies can be deep.
    """
    kept: list[tuple[TreeNode, int, Optional[int]]] = []
    queue: deque[tuple[TreeNode, int, Optional[int]]] = deque([(tree, 0, None)])
    dropped = 0
    while queue:
        node, depth, parent = queue.popleft()
        if len(kept) >= max_nodes:
            dropped += _size(node)
            continue
        kept.append((node, depth, parent))
        queue.extend((child, depth + 1, len(kept) - 1) for child in node.children)
    children: dict[int, list[int]] = defaultdict(list)
    for index, (_, _, parent) in enumerate(kept):
        if parent is not None:
            children[parent].append(index)
    rows = [0.0] * len(kept)
    next_row = 0
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        index, done = stack.pop()
        kids = children[index]
        if not done:
            stack.append((index, True))
            stack.extend((child, False) for child in reversed(kids))
        elif kids:
            rows[index] = (rows[kids[0]] + rows[kids[-1]]) / 2
        else:
            rows[index] = float(next_row)
            next_row += 1
    placed = [(node, depth, rows[i]) for i, (node, depth, _) in enumerate(kept)]
    edges = [(parent, child) for parent, kids in children.items() for child in kids]
    return placed, edges, dropped


def draw_genealogy(trees: Sequence[TreeNode]) -> Any:
    layouts = [_tree_layout(t, GENEALOGY_MAX_NODES) for t in trees]
    rows = [max((p[2] for p in placed), default=0) + 1 for placed, _, _ in layouts]
    depth = max((max((p[1] for p in placed), default=0) for placed, _, _ in layouts), default=0) + 1
    fig = _figure(max(6.0, 2.4 * depth), 0.55 * sum(rows) + 0.6 * len(trees) + 0.5)
    axes = fig.subplots(len(trees), 1, squeeze=False, height_ratios=[r + 1 for r in rows])[:, 0]
    for ax, tree, (placed, edges, dropped) in zip(axes, trees, layouts):
        for parent, child in edges:
            (_, d1, r1), (_, d2, r2) = placed[parent], placed[child]
            ax.plot([d1, d2], [r1, r2], color="#999999", linewidth=1, zorder=1)
        for node, d, r in placed:
            colour = KIND_COLOURS.get(node.kind, "#17becf")
            ax.scatter([d], [r], s=120, color=colour, zorder=2)
            ax.annotate(_short(f"{node.kind}: {node.id}", 34), (d, r), xytext=(8, 4), textcoords="offset points",
                        fontsize=8)
        title = f"batch {tree.id}" + (f" ({dropped} more nodes not drawn)" if dropped else "")
        ax.set_title(_short(title, 90), loc="left", fontsize=9)
        ax.set_xlim(-0.3, depth - 0.2)
        ax.set_ylim(max((p[2] for p in placed), default=0) + 0.7, -0.7)
        ax.axis("off")
    return fig


PIPELINE_SERIES = (("files_in", "files in", "#1f77b4"), ("events_in", "events in", "#17becf"),
                   ("quarantined", "quarantined (open)", "#d62728"), ("pushed", "pushed", "#2ca02c"),
                   ("pending", "waiting in outbox", "#ff7f0e"), ("failed", "push failed", "#8c564b"))


def draw_pipeline(pipeline: Sequence[PartnerHealth]) -> Any:
    fig = _figure(7, 0.55 * len(pipeline) + 1.4)
    ax = fig.add_subplot()
    height = 0.8 / len(PIPELINE_SERIES)
    for n, (attr, label, colour) in enumerate(PIPELINE_SERIES):
        ax.barh([i + n * height for i in range(len(pipeline))], [getattr(p, attr) for p in pipeline],
                height=height, color=colour, label=label)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(pipeline))], [_short(p.partner) for p in pipeline])
    ax.invert_yaxis()
    _whole_numbers(ax.xaxis)
    ax.set_xlabel("count")
    ax.legend(fontsize=8, loc="lower right")
    return fig


# ----------------------------------------------------------------------------------------- render


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{_e(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _when(value: Optional[dt.datetime]) -> str:
    return "" if value is None else _utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _section(anchor: str, title: str, body: str, data: ReportData) -> str:
    why = data.unavailable.get(anchor)
    note = f'<p class="note">{_e(why)}</p>' if why else ""
    return f'<section id="{_e(anchor)}"><h2>{_e(title)}</h2>{note}{body}</section>'


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def render_scorecards(data: ReportData) -> str:
    if not data.scorecards:
        return _empty("No supplier scores yet (no deliveries, inspections or answers in the store).")
    charts = ""
    if _latest_scores(data.scorecards):
        charts += _chart(draw_scores, "scores", "Supplier score, latest month", data.scorecards)
    if len({r["month"] for r in data.scorecards}) > 1:
        charts += _chart(draw_score_trend, "score-trend", "Supplier score by month", data.scorecards)
    columns = ("supplier_id", "month", "score", "grade", "otif", "lot_acceptance", "ppm", "response_hours_median",
               "asn_accuracy", "deliveries", "lots")
    rows = [[r.get(c) if r.get(c) is not None else "–" for c in columns]
            for r in sorted(data.scorecards, key=lambda r: (r["supplier_id"], r["month"]))]
    return charts + _table(("supplier", "month", "score", "grade", "OTIF", "lot acceptance", "ppm",
                            "response h (median)", "ASN accuracy", "deliveries", "lots"), rows, "scorecards")


def render_alerts(data: ReportData) -> str:
    if not data.alerts:
        return _empty("No alerts.")
    out = _chart(draw_alerts_by_type, "alerts-by-type", "Alerts by type and status (now)", data.alerts)
    if data.alert_history:
        out += _chart(draw_alert_timeline, "alerts-over-time", "Alerts over time (end of each day, UTC)",
                      data.alert_history, data.generated_at)
    return out


def render_exceptions(data: ReportData) -> str:
    now = data.generated_at
    open_alerts = sorted((a for a in data.alerts if a.status in UNRESOLVED),
                         key=lambda a: (a.due is None, a.due or now, a.alert_id))
    alert_rows = [(a.responsible_party, a.alert_type, a.severity, a.status,
                   _when(a.due) + (" (overdue)" if a.due and a.due < now else ""), "; ".join(a.subjects), a.message)
                  for a in open_alerts]
    out = "<h3>Open alerts</h3>" + (_table(("responsible", "type", "severity", "status", "due", "about", "message"),
                                           alert_rows, "exceptions") if alert_rows else _empty("No open alerts."))
    by_owner = Counter(a.responsible_party for a in open_alerts)
    if by_owner:
        out += "<p>Open per responsible party: " + ", ".join(
            f"<strong>{_e(k)}</strong> {n}" for k, n in sorted(by_owner.items())) + "</p>"
    q_rows = [(q.row_id, q.partner or "(no partner)", q.reason_code, q.location, q.message[:200], _when(q.created_at))
              for q in data.quarantine]
    out += "<h3>Open quarantine (integration team, with the partner named)</h3>" + (
        _table(("id", "partner", "reason", "where", "message", "since"), q_rows, "quarantine")
        if q_rows else _empty("Nothing in quarantine."))
    return out


def render_genealogy(data: ReportData) -> str:
    if not data.genealogy:
        return _empty("No batches in the store yet.")
    return _chart(draw_genealogy, "genealogy", "Batch genealogy, forward: what each batch became", data.genealogy)


def render_pipeline(data: ReportData) -> str:
    if not data.pipeline:
        return _empty("Nothing received or sent yet.")
    rows = [(p.partner, p.files_in, p.processed, p.duplicates, p.events_in, p.quarantined, p.pushed, p.pending,
             p.failed) for p in data.pipeline]
    return (_chart(draw_pipeline, "pipeline", "Pipeline health per partner", data.pipeline)
            + _table(("partner", "files in", "processed", "duplicates", "events in", "quarantined (open)",
                      "pushed", "waiting", "failed"), rows, "pipeline"))


def render_quality(data: ReportData) -> str:
    link = (f'<p><a href="{_e(data.data_docs_href)}">Great Expectations Data Docs (every run)</a></p>'
            if data.data_docs_href else "")
    run = data.quality
    if not run:
        return _empty("No data quality run yet (DAG data_quality).") + link
    results = run.get("results") or []
    failed = [r for r in results if not r.get("success")]
    verdict = "all passed" if not failed else f"{len(failed)} of {len(results)} expectations failed"
    out = f'<p class="{"ok" if not failed else "bad"}">Last run {_e(run.get("at"))}: {_e(verdict)}</p>' + link
    if failed:
        out += _table(("table", "column", "rule", "observed", "examples"),
                      [(r.get("table"), r.get("column"), r.get("description") or r.get("expectation"),
                        r.get("observed"), ", ".join(map(str, r.get("unexpected_examples") or [])))
                       for r in failed], "quality")
    return out


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
nav a{margin-right:1rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4}
figure.chart{margin:1rem 0}figure.chart svg{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#555}
.empty,.note{color:#777;font-style:italic}.bad{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}
"""

SECTIONS = (("scorecards", "Supplier scorecards", render_scorecards),
            ("alerts", "Alerts by type and status", render_alerts),
            ("exceptions", "Open exceptions and who acts", render_exceptions),
            ("genealogy", "Batch genealogy", render_genealogy),
            ("pipeline", "Pipeline health per partner", render_pipeline),
            ("quality", "Data quality", render_quality))


def render(data: ReportData) -> str:
    """The whole page; self-contained (inline CSS and SVG, no script, no external resource)."""
    nav = "".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title, _ in SECTIONS)
    body = "".join(_section(anchor, title, draw(data), data) for anchor, title, draw in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        # nothing on this page may load from elsewhere or run script, whatever a partner put in a name
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>mes-hub report {_e(_when(data.generated_at))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>mes-hub report</h1><p>Generated {_e(_when(data.generated_at))}</p><nav>{nav}</nav>{body}"
        "</body></html>\n")


def write_report(store: Any, out_dir: Path, *, now: Optional[dt.datetime] = None,
                 quality_dir: Optional[Path] = None) -> Path:
    """Collect, render and write ``out_dir/index.html`` (atomically); returns its path."""
    now = now or dt.datetime.now(dt.timezone.utc)
    data = collect(store, now=now, quality_dir=quality_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data.quality and data.quality.get("docs_index"):
        data.data_docs_href = Path(os.path.relpath(data.quality["docs_index"], out_dir.resolve())).as_posix()
    target = out_dir / "index.html"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    os.replace(tmp, target)
    return target

"""The HTML report: charts present, values escaped, data read from a real store, the CLI and the Airflow plugin."""
from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from canonical_model.documents import Alert, Party, SubjectRef
from canonical_model.store import documents, outbox, quarantine
from canonical_model.store.tables import EventRow, InboxRow
from hub.report_html import (AlertChange, AlertView, PartnerHealth, ReportData, TreeNode, _tree_layout, alert_timeline,
                             collect, pipeline_health, render, write_report)

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
HOSTILE = '<img src=x onerror=alert(1)>$x$'


def sample_data(supplier: str = HOSTILE) -> ReportData:
    """Hand-made data touching every section; the hostile supplier name goes everywhere a name can."""
    day = dt.timedelta(days=1)
    return ReportData(
        generated_at=NOW,
        scorecards=[{"supplier_id": "SUP-1", "month": "2026-01", "score": "80.0", "grade": "B", "otif": "0.9"},
                    {"supplier_id": "SUP-1", "month": "2026-02", "score": "91.5", "grade": "A"},
                    {"supplier_id": supplier, "month": "2026-02", "score": "55.0", "grade": "C"}],
        alerts=[AlertView("A-1", "SHORT_SHIPMENT", "warning", "open", supplier, "short <b>by 5</b>", NOW - day,
                          ("PurchaseOrder PO-1",)),
                AlertView("A-2", "RECEIPT_QTY_MISMATCH", "warning", "resolved", "warehouse", "counted 9")],
        alert_history=[AlertChange(NOW - 5 * day, "A-1", "SHORT_SHIPMENT", "open"),
                       AlertChange(NOW - 4 * day, "A-2", "RECEIPT_QTY_MISMATCH", "open"),
                       AlertChange(NOW - 2 * day, "A-2", "RECEIPT_QTY_MISMATCH", "resolved")],
        genealogy=[TreeNode("batch", f"{supplier}:L1", "", (
            TreeNode("production_order", "MO-1", "", (TreeNode("batch", "FG-1"),)), TreeNode("production_order", "MO-2")))],
        pipeline=[PartnerHealth(supplier, files_in=5, processed=4, quarantined=1, pushed=3),
                  PartnerHealth("wms", pushed=2, pending=1)],
        quality={"at": NOW.isoformat(), "success": False, "results": [
            {"table": "receipt_lines", "column": "unmatched_asn", "expectation": "expect_column_values_to_be_null",
             "description": "referential integrity", "success": False, "observed": "1 of 1 rows unexpected",
             "unexpected_examples": [f"{supplier}/ASN-404"]}]},
        data_docs_href="../gx/gx/uncommitted/data_docs/local_site/index.html",
    )


def test_every_section_has_its_chart_and_the_page_is_self_contained():
    page = render(sample_data())
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)">', page)
    assert charts == ["scores", "score-trend", "alerts-by-type", "alerts-over-time", "genealogy", "pipeline"]
    assert page.count("<svg ") == 6
    # nothing loaded from elsewhere, nothing run
    assert "<script" not in page and "<link" not in page and " src=" not in page.replace(" src=x", "")
    assert "default-src 'none'" in page
    # ids stay unique with six matplotlib figures on one page
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [i for i, n in ids.items() if n > 1] == []
    assert 'href="../gx/gx/uncommitted/data_docs/local_site/index.html"' in page


def test_hostile_values_are_text_everywhere_not_markup():
    page = render(sample_data())
    assert "<img" not in page and "<b>by 5</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;$x$" in page  # tables, quality examples
    assert "short &lt;b&gt;by 5&lt;/b&gt;" in page
    # in the charts too (matplotlib writes the SVG text escaped), and `$x$` is not typeset as maths
    svg_text = "".join(re.findall(r"<svg .*?</svg>", page, flags=re.S))
    assert "&lt;img src=x onerror=alert(1)&gt;$x$" in svg_text


def test_an_empty_store_renders_every_section_with_a_plain_sentence():
    page = render(ReportData(generated_at=NOW, unavailable={"genealogy": "collaboration.trace not available"}))
    assert "<svg" not in page
    for sentence in ("No supplier scores yet", "No alerts.", "Nothing in quarantine.", "No batches in the store yet.",
                     "Nothing received or sent yet.", "No data quality run yet", "collaboration.trace not available"):
        assert sentence in page


def test_one_day_of_alert_history_is_drawn_around_that_day():
    from matplotlib.dates import num2date

    from hub.report_html import draw_alert_timeline

    fig = draw_alert_timeline([AlertChange(NOW, "A-1", "SHORT_SHIPMENT", "open"),
                               AlertChange(NOW, "A-2", "NO_ASN", "open")], NOW)
    bottom = fig.axes[1]
    (first, *_), (last, *_) = bottom.get_lines()[0].get_xydata()[[0, -1]]
    # the day before (0 open) to the day after: a visible step, not a single invisible point
    assert (num2date(last) - num2date(first)).days == 2
    assert sorted(line.get_ydata()[-1] for line in bottom.get_lines()) == [1, 1]
    low, high = bottom.get_xlim()
    assert (num2date(high) - num2date(low)).days < 10


def test_alert_timeline_counts_each_day_at_its_end():
    dates, by_status, by_type = alert_timeline(sample_data().alert_history, NOW)
    assert dates[0] == dt.date(2026, 3, 5) and dates[-1] == dt.date(2026, 3, 10) and len(dates) == 6
    # 5th: A-1 open; 6th, 7th: open; from the 8th A-2 resolved
    assert by_status["open"] == [1, 2, 2, 1, 1, 1]
    assert by_status["resolved"] == [0, 0, 0, 1, 1, 1]
    assert by_type == {"RECEIPT_QTY_MISMATCH": [0, 1, 1, 0, 0, 0], "SHORT_SHIPMENT": [1, 1, 1, 1, 1, 1]}


def test_tree_layout_puts_parents_between_children_and_counts_what_it_leaves_out():
    tree = sample_data("S").genealogy[0]
    placed, edges, dropped = _tree_layout(tree, max_nodes=10)
    rows = {node.id: (depth, row) for node, depth, row in placed}
    assert rows == {"S:L1": (0, 0.5), "MO-1": (1, 0.0), "MO-2": (1, 1.0), "FG-1": (2, 0.0)}
    assert dropped == 0 and len(edges) == 3
    placed, edges, dropped = _tree_layout(tree, max_nodes=2)
    assert [n.id for n, _, _ in placed] == ["S:L1", "MO-1"] and dropped == 2  # MO-2 and FG-1


def seed_store(store) -> None:
    later = NOW + dt.timedelta(hours=1)
    with store.session() as s:
        documents.upsert(s, Party(party_id="SUP-1", role="supplier", name="Supplier <One>"))
        documents.upsert(s, Alert(alert_id="A-1", alert_type="SHORT_SHIPMENT", responsible_party="SUP-1",
                                  message="short", subjects=[SubjectRef(type="PurchaseOrder", key="PO-1")]))
        for name, status in (("a.edi", "processed"), ("b.edi", "duplicate"), ("c.edi", "quarantined")):
            s.add(InboxRow(channel="sftp", partner="SUP-1", name=name, sha256=name * 10, size=1, status=status))
        s.add(EventRow(source="wms", kind="receipt", delivery_id="d-1", raw_sha256="e" * 64, size=1))
        quarantine.add(s, reason_code="PO_NOT_FOUND", location="c.edi:12", message="no PO-9", partner="SUP-1",
                       raw_sha256="c" * 64)
        row, _ = outbox.enqueue(s, target="supplier_sftp", operation="ORDERS", idempotency_key="k1",
                                payload={"partner": "SUP-1"})
        outbox.mark_sent(row, None)
        outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="k2", payload={"asn_no": "x"})
        failed, _ = outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="k3", payload={})
        outbox.mark_failed(failed, "400")
    with store.session() as s:
        documents.upsert(s, Alert(alert_id="A-1", alert_type="SHORT_SHIPMENT", responsible_party="SUP-1",
                                  message="short", status="resolved"))


def test_pipeline_health_counts_per_partner_from_the_store(sqlite_store):
    seed_store(sqlite_store)
    with sqlite_store.session() as s:
        health = pipeline_health(s)
    assert health == [
        PartnerHealth("SUP-1", files_in=3, processed=1, duplicates=1, quarantined=1, pushed=1),
        PartnerHealth("wms", events_in=1, pending=1, failed=1),
    ]


def test_collect_reads_alerts_with_their_history_and_the_open_quarantine(sqlite_store):
    seed_store(sqlite_store)
    data = collect(sqlite_store, now=NOW)
    assert [(a.alert_id, a.status) for a in data.alerts] == [("A-1", "resolved")]
    assert [c.status for c in data.alert_history] == ["open", "resolved"]
    assert [(q.partner, q.reason_code, q.location) for q in data.quarantine] == [("SUP-1", "PO_NOT_FOUND", "c.edi:12")]
    page = render(data)
    assert "PO_NOT_FOUND" in page and 'data-chart="pipeline"' in page


def report_app() -> typer.Typer:
    from hub.cli_report import report

    app = typer.Typer()
    app.command("report")(report)
    app.command("noop")(lambda: None)  # two commands, so `report` is addressed by name as in hub/cli.py
    return app


def test_cli_writes_the_report_and_prints_its_path(sqlite_store, tmp_path: Path, monkeypatch):
    seed_store(sqlite_store)
    monkeypatch.setenv("HUB_DATABASE_URL", str(sqlite_store.engine.url))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(report_app(), ["report"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "var" / "report" / "index.html"
    assert result.output.strip() == str(target)
    assert 'data-chart="alerts-by-type"' in target.read_text()
    again = CliRunner().invoke(report_app(), ["report", "--out", str(tmp_path / "elsewhere")])
    assert again.exit_code == 0 and (tmp_path / "elsewhere" / "index.html").is_file()


def test_cli_exits_2_when_the_folder_cannot_be_written(sqlite_store, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", str(sqlite_store.engine.url))
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(report_app(), ["report", "--out", str(blocker)])
    assert result.exit_code == 2
    assert "REPORT_NOT_WRITTEN" in result.output


# ------------------------------------------------------------------------------ the Airflow plugin


def load_plugin():
    spec = importlib.util.spec_from_file_location("hub_report_plugin", REPO / "plugins" / "hub_report_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def plugin_client(tmp_path: Path):
    from fastapi.testclient import TestClient

    plugin = load_plugin()
    var = tmp_path / "var"
    (var / "report").mkdir(parents=True)
    (var / "report" / "index.html").write_text("<p>the report</p>")
    docs = var / plugin.DOCS_SUBPATH / "local_site"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<p>data docs</p>")
    (var / "secrets.json").write_text("{}")
    app = plugin.create_app(var)
    return plugin, app, TestClient(app)


def test_plugin_refuses_callers_airflow_has_not_signed_in(plugin_client):
    _, _, client = plugin_client
    assert client.get("/report/").status_code == 401
    assert client.get("/gx/gx/uncommitted/data_docs/local_site/index.html").status_code == 401


def test_plugin_serves_the_report_and_data_docs_and_nothing_else_of_var(plugin_client):
    plugin, app, client = plugin_client
    app.dependency_overrides[plugin.signed_in] = lambda: None
    assert client.get("/report/").text == "<p>the report</p>"
    assert client.get("/gx/gx/uncommitted/data_docs/local_site/index.html").text == "<p>data docs</p>"
    home = client.get("/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "report/"
    for escape in ("/report/../secrets.json", "/report/..%2Fsecrets.json", "/report/%2e%2e/secrets.json"):
        assert client.get(escape).status_code == 404, escape
    assert client.get("/report/missing.html").status_code == 404


def test_plugin_says_how_to_make_a_report_when_there_is_none(tmp_path: Path):
    from fastapi.testclient import TestClient

    plugin = load_plugin()
    app = plugin.create_app(tmp_path / "nothing")
    app.dependency_overrides[plugin.signed_in] = lambda: None
    answer = TestClient(app).get("/report/")
    assert answer.status_code == 404 and "hub report" in answer.text


def test_airflow_loads_the_plugin_with_a_relative_nav_link(tmp_path: Path):
    code = ("import json; from airflow import plugins_manager as pm; plugins, errors = pm._get_plugins(); "
            "p = [p for p in plugins if p.name == 'hub_report'][0]; "
            "print(json.dumps({'errors': {k: str(v) for k, v in errors.items()}, 'views': p.external_views, "
            "'prefixes': [a['url_prefix'] for a in p.fastapi_apps]}))")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "HUB_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}
    assert info["prefixes"] == ["/hub-report"]
    view = info["views"][0]
    assert view["href"] == "hub-report/report/" and view["destination"] == "nav" and view["url_route"] == "hub_report"


def test_plugin_file_lookup_never_leaves_its_folder(tmp_path: Path):
    from fastapi import HTTPException

    plugin = load_plugin()
    (tmp_path / "report").mkdir()
    (tmp_path / "secrets.json").write_text("{}")
    for escape in ("../secrets.json", "/etc/passwd", "sub/../../secrets.json"):
        with pytest.raises(HTTPException) as caught:
            plugin.serve_file(tmp_path / "report", escape)
        assert caught.value.status_code == 404

"""The demo story through Airflow, twice: the second run must change nothing; then on U9."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.runtime import free_port_base

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def hub(var: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(HUB_VAR_DIR=str(var), **settings)
    return subprocess.run([str(Path(sys.executable).with_name("hub")), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def run_demo(var: Path, base: int, **settings: str) -> subprocess.CompletedProcess:
    return hub(var, "demo", HUB_PORT_BASE=str(base), **settings)


def table(stdout: str) -> dict[str, tuple[int, str]]:
    """The stage table: the lines after its header, up to the first blank line (the epilogue follows)."""
    rows = {}
    for line in stdout.splitlines()[2:]:
        if not line.strip():
            break
        parts = [p for p in line.split("  ") if p.strip()]
        rows[parts[0].strip()] = (int(parts[1]), parts[2].strip() if len(parts) > 2 else "")
    return rows


def test_demo_story_runs_through_airflow_and_is_idempotent(tmp_path: Path):
    base = free_port_base()
    # with JSON logs (issue 9): they are checked for context and secrets at the end
    first = run_demo(tmp_path / "var", base, HUB_LOG_FORMAT="json")
    assert first.returncode == 0, first.stderr[-3000:]
    counts = table(first.stdout)
    assert counts["master data pulled (ERP)"] == (7, "2 supplier(s), 4 material(s), 1 BOM(s)")
    assert counts["POs pulled (ERP)"][0] == 3
    assert counts["ORDERS sent (SFTP)"] == (3, "")
    # 3 good DESADVs + 1 for an unknown PO + 1 identical re-drop (recognised, not processed),
    # and SUP-001's CONTRLs for the two DELFOR versions
    assert counts["supplier files in"] == (6, "1 duplicate drop(s) ignored")
    assert counts["ASNs stored"][0] == 3
    # one CONTRL per interchange processed (3 ASNs + the one for an unknown PO; not the re-drop)
    assert counts["acknowledgements sent (CONTRL/997)"] == (4, "")
    # the ASN for an unknown PO: both of its lines, each with its own location
    assert counts["quarantined"] == (2, "PO_NOT_FOUND 2")
    assert counts["expected receipts pushed (WMS)"] == (3, "")
    assert counts["receipts stored"] == (3, "6 batch record(s)")
    assert counts["receipts posted (ERP)"] == (3, "")
    # the lab's rejection of a consumed lot, the short line, and what MRP finds short for the orders
    alerts = counts["alerts open"][1]
    assert "INSPECTION_FAILED 1" in alerts and "SHORT_SHIPMENT 1" in alerts and "MATERIAL_SHORTAGE" in alerts
    # planning (issue 7): MRP from the MES's orders through the ERP's BOM, one schedule per supplier,
    # v1 as the baseline, v2 after the plan change inside the firm zone, approved through Airflow's
    # API; SUP-001 gets DELFOR and acknowledges with CONTRL, SUP-002 uses the portal
    assert counts["delivery schedules sent"] == (
        4, "DS-SUP-001 v1 DELFOR, v2 DELFOR; DS-SUP-002 v1 SCHEDULE_PORTAL, v2 SCHEDULE_PORTAL")
    assert counts["plan changes approved (Airflow)"] == (2, "by airflow:planner")
    assert counts["schedule acknowledgements"] == (4, "DS-SUP-001 v1, v2; DS-SUP-002 v1, v2")
    assert counts["purchase tasks proposed (MRP)"][0] > 0
    # the MES, the supplier portal and the ingress API (issue 6)
    assert counts["production orders (MES)"][0] == 3
    assert counts["supplier answers (portal webhook)"] == (1, "")  # SUP-001 accepted CGDD000101 online
    # jiandaoyun: the purchase task answer and two schedule acknowledgements; wms: a receipt, five
    # QC releases (one lot stays on hold) and the lab's rejection
    assert counts["events in (ingress API)"] == (10, "jiandaoyun 3, wms 7")
    # traceability: the received supplier lot is linked to the production order that consumed it
    assert "SUP-001:BCGDD000101-1 -> MO-2026-0002" in counts["batches consumed by production orders"][1]
    for dag_id in ("erp_sync", "mes_sync", "plan_run", "supplier_orders_out", "supplier_portal", "supplier_inbound",
                   "supplier_acks", "wms_expected_receipts", "events", "wms_receipts_to_erp", "wms_sync"):
        assert f"DAG {dag_id}: success" in first.stderr
    assert "the planner approved 1 firm-zone change request(s) through the Airflow API" in first.stderr
    # the epilogue (issue 8): open alerts with their party, the trace of the rejected lot to the
    # order that consumed it, the scorecards, the schedule's audit trail, the report page
    epilogue = first.stdout.split("\n\n", 1)[1]
    assert "INSPECTION_FAILED:SUP-001:BCGDD000101-1" in epilogue and " quality " in epilogue
    assert "affected: 1 production order (MO-2026-0002), 1 finished lot (FG-3.01.0007-0002)" in epilogue
    # genealogy to finished goods (the MES's produced lots)
    assert counts["finished lots (MES)"] == (2, "MO-2026-0001 -> FG-3.01.0007-0001, MO-2026-0002 -> FG-3.01.0007-0002")
    assert "OTIF %" in epilogue and "\nSUP-001 " in epilogue and "\nSUP-002 " in epilogue
    for action in ("schedule_proposed", "schedule_sent", "schedule_acknowledged", "schedule_approved"):
        assert action in epilogue
    assert (tmp_path / "var" / "report" / "index.html").is_file()
    # what-if on the demo data (acceptance of issue 7): a late SUP-001 delays the order its
    # acknowledged schedule covers
    whatif = hub(tmp_path / "var", "whatif", "--late", "SUP-001", "--days", "5")
    assert whatif.returncode == 0, whatif.stderr
    assert "MO-2026-0003" in whatif.stdout and "1 production order affected" in whatif.stdout

    second = run_demo(tmp_path / "var", base, HUB_LOG_FORMAT="json")
    assert second.returncode == 0, second.stderr[-3000:]
    assert table(second.stdout) == counts

    # the same story on a plant running Yonyou U9 (classic SOAP): one setting, the same table
    on_u9 = run_demo(tmp_path / "var-u9", base, HUB_ERP="u9")
    assert on_u9.returncode == 0, on_u9.stderr[-3000:]
    assert "u9 :" in on_u9.stderr and "kingdee :" not in on_u9.stderr
    assert table(on_u9.stdout) == counts

    assert_logs_are_json_with_context_and_hold_no_secret(tmp_path / "var", first.stdout + first.stderr)


def assert_logs_are_json_with_context_and_hold_no_secret(var: Path, printed: str) -> None:
    """Issue 9: no configured secret (var/secrets.json and Airflow's login passwords, raw or
    percent-encoded) in any log the demo wrote, nor in what it printed; the ingress API's log is
    JSON lines with the event's source and sha256; Airflow's task log carries the flows' context."""
    import json

    from hub.airflow_auth import passwords
    from hub.logs import find_secrets_in, find_secrets_in_logs, log_files, secret_forms

    assert find_secrets_in_logs(var) == []
    logins = {f"airflow password of {user}": value for user, value in passwords(var / "airflow").items()}
    assert find_secrets_in(log_files(var), logins) == []
    secrets = {**json.loads((var / "secrets.json").read_text()), **logins}
    assert [name for name, value in secrets.items() if any(form in printed for form in secret_forms(value))] == []
    ingress = [json.loads(line) for line in (var / "logs" / "ingress-api.log").read_text().splitlines()]
    stored = [line for line in ingress if line["logger"] == "hub.api" and "stored as event" in line["message"]]
    assert stored and all(line["partner"] in ("jiandaoyun", "wms") and len(line["sha256"]) == 64 for line in stored)
    assert "doc_key=ShipmentNotice:SUP-001/" in (var / "logs" / "dags.log").read_text()


"""The demo story through Airflow, twice: the second run must change nothing."""
from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port_base() -> int:
    """A base whose service ports are free (hub.runtime.Ports: simulators, SFTP, ingress API)."""
    for _ in range(50):
        # below the ephemeral range (32768+), so no client socket of another process can hold them
        base = random.randrange(20000, 32000, 200)
        try:
            for offset in (1, 3, 4, 5, 11, 22, 100):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def run_demo(var: Path, base: int, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(HUB_VAR_DIR=str(var), HUB_PORT_BASE=str(base), **settings)
    return subprocess.run([str(Path(sys.executable).with_name("hub")), "demo"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def table(stdout: str) -> dict[str, tuple[int, str]]:
    rows = {}
    for line in stdout.splitlines()[2:]:
        parts = [p for p in line.split("  ") if p.strip()]
        rows[parts[0].strip()] = (int(parts[1]), parts[2].strip() if len(parts) > 2 else "")
    return rows


def test_demo_story_runs_through_airflow_and_is_idempotent(tmp_path: Path):
    base = free_port_base()
    first = run_demo(tmp_path / "var", base)
    assert first.returncode == 0, first.stderr[-3000:]
    counts = table(first.stdout)
    assert counts["master data pulled (ERP)"] == (5, "2 supplier(s), 3 material(s)")
    assert counts["POs pulled (ERP)"][0] == 3
    assert counts["ORDERS sent (SFTP)"] == (3, "")
    # 3 good DESADVs + 1 for an unknown PO + 1 identical re-drop (recognised, not processed)
    assert counts["supplier files in"] == (4, "1 duplicate drop(s) ignored")
    assert counts["ASNs stored"][0] == 3
    # one CONTRL per interchange processed (3 ASNs + the one for an unknown PO; not the re-drop)
    assert counts["acknowledgements sent (CONTRL/997)"] == (4, "")
    # the ASN for an unknown PO: both of its lines, each with its own location
    assert counts["quarantined"] == (2, "PO_NOT_FOUND 2")
    assert counts["expected receipts pushed (WMS)"] == (3, "")
    assert counts["receipts stored"] == (3, "6 batch record(s)")
    assert counts["receipts posted (ERP)"] == (3, "")
    assert counts["alerts open"] == (1, "SHORT_SHIPMENT 1")
    # the MES, the supplier portal and the ingress API (issue 6)
    assert counts["production orders (MES)"][0] == 3
    assert counts["supplier answers (portal webhook)"] == (1, "")  # SUP-001 accepted CGDD000101 online
    assert counts["events in (ingress API)"] == (3, "jiandaoyun 1, wms 2")  # the signed webhook, a receipt, a QC release
    # traceability: the received supplier lot is linked to the production order that consumed it
    assert "SUP-001:BCGDD000101-1 -> MO-2026-0002" in counts["batches consumed by production orders"][1]
    for dag_id in ("erp_sync", "mes_sync", "supplier_orders_out", "supplier_portal", "supplier_inbound",
                   "supplier_acks", "wms_expected_receipts", "events", "wms_receipts_to_erp"):
        assert f"DAG {dag_id}: success" in first.stderr

    second = run_demo(tmp_path / "var", base)
    assert second.returncode == 0, second.stderr[-3000:]
    assert table(second.stdout) == counts

    # the same story on a plant running Yonyou U9 (classic SOAP): one setting, the same table
    on_u9 = run_demo(tmp_path / "var-u9", base, HUB_ERP="u9")
    assert on_u9.returncode == 0, on_u9.stderr[-3000:]
    assert "u9 :" in on_u9.stderr and "kingdee :" not in on_u9.stderr
    assert table(on_u9.stdout) == counts

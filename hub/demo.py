"""The demo story, end to end through Airflow on the embedded default.

Kingdee (simulated) holds purchase orders -> the hub pulls them -> sends EDIFACT ORDERS to each
supplier's SFTP folder -> the suppliers (simulated, over SFTP) answer with DESADVs, one line
short, one ASN for an unknown PO, one file dropped twice -> the hub collects, validates and
stores ASNs, quarantines the bad one, alerts on the short line -> pushes expected receipts to
the WMS (simulated) -> the warehouse counts the goods -> the hub stores receipts and batches
and posts stock receipts to Kingdee. Every hub step runs as an Airflow DAG (``airflow dags
test``), each in its own process with its log under ``var/logs``.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from hub import runtime

DAG_ORDER = ("erp_sync", "supplier_orders_out", "supplier_inbound", "supplier_acks",
             "wms_expected_receipts", "wms_receipts_to_erp")


class DemoFailed(RuntimeError):
    pass


def airflow(*args: str, log: Path) -> None:
    airflow_bin = Path(sys.executable).with_name("airflow")
    with open(log, "ab") as out:
        code = subprocess.call([str(airflow_bin), *args], cwd=runtime.REPO_ROOT, env=os.environ.copy(),
                               stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise DemoFailed(f"`airflow {' '.join(args)}` exited {code}; last lines of {log}:\n" + "\n".join(tail))


def run(var: Path | None = None, ports: runtime.Ports | None = None, echo=print) -> list[tuple[str, int, str]]:
    var = var or runtime.var_dir()
    ports = ports or runtime.Ports.from_env()
    runtime.apply_environment(var, ports)
    # the story drops its files before the inbound DAG runs: an idle partner need not be awaited long
    os.environ.setdefault("AIRFLOW_VAR_HUB_SFTP_WAIT_SECONDS", "5")
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    echo(f"airflow metadata: {var / 'airflow'} (db migrate)")
    airflow("db", "migrate", log=logs / "airflow-db-migrate.log")

    from canonical_model.store import open_store
    from hub.report import stage_table

    store = open_store()
    try:
        with runtime.services(var, ports, logs):
            echo(f"services up: {', '.join(runtime.service_names(ports))} (logs in {logs})")
            for dag_id in DAG_ORDER[:2]:
                run_dag(dag_id, logs, echo)
            uploaded = play_suppliers(echo)
            wait_for_min_file_age(uploaded, echo)
            for dag_id in DAG_ORDER[2:5]:
                run_dag(dag_id, logs, echo)
            play_warehouse(store, ports, echo)
            run_dag(DAG_ORDER[5], logs, echo)
        return stage_table(store)
    finally:
        store.dispose()


def run_dag(dag_id: str, logs: Path, echo) -> None:
    started = time.monotonic()
    airflow("dags", "test", dag_id, log=logs / f"dag-{dag_id}.log")
    echo(f"  DAG {dag_id}: success ({time.monotonic() - started:.1f}s)")


def play_suppliers(echo) -> int:
    """Each supplier answers the ORDERS waiting in its folder (simulated partner, real SFTP)."""
    from hub.partners import load_partners
    from simulators.supplier import SupplierScenario, respond_to_orders

    total = 0
    for n, profile in enumerate(sorted(load_partners().values(), key=lambda p: p.partner_id)):
        scenario = SupplierScenario(partner_id=profile.partner_id, our_id=profile.edi.their_id,
                                    hub_id=profile.edi.our_id, short_supplier=n == 0, sloppy_supplier=n == 1)
        names = respond_to_orders(profile.sftp_config(), scenario,
                                  today=dt.date.today())
        echo(f"  supplier {profile.partner_id} uploaded {len(names)} file(s)")
        total += len(names)
    return total


def wait_for_min_file_age(uploaded: int, echo) -> None:
    """Files younger than the partner's minimum age are (rightly) not collected yet."""
    from hub.partners import load_partners

    if uploaded:
        age = max(p.inbound.min_file_age_seconds for p in load_partners().values())
        echo(f"  waiting {age + 1}s: files must reach the partners' minimum file age before collection")
        time.sleep(age + 1)


def play_warehouse(store, ports: runtime.Ports, echo) -> None:
    """The warehouse counts every inbound the hub announced and has no receipt for yet."""
    from sqlalchemy import select

    from canonical_model.store import documents
    from canonical_model.store.tables import OutboxRow
    from simulators.wms.server import operate_receiving

    base = f"http://127.0.0.1:{ports.wms}"
    token = os.environ["WMS_SIM_TOKEN"]
    with store.session() as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.target == "wms", OutboxRow.status == "sent")).all()
        todo = [r.result["asn_code"] for r in rows
                if documents.get(s, "Receipt", f"RCV-{r.result['asn_code']}") is None]
    for asn_code in todo:
        operate_receiving(base, token, asn_code)
    echo(f"  warehouse received {len(todo)} inbound(s)")

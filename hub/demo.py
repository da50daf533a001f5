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
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hub import runtime


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
            for dag_id in ("erp_sync", "mes_sync", "supplier_orders_out", "supplier_portal"):
                run_dag(dag_id, logs, echo)
            play_portal_supplier(store, ports, echo)
            uploaded = play_suppliers(echo)
            wait_for_min_file_age(uploaded, echo)
            for dag_id in ("supplier_inbound", "supplier_acks", "wms_expected_receipts"):
                run_dag(dag_id, logs, echo)
            play_warehouse(store, ports, echo)
            for dag_id in ("events", "wms_receipts_to_erp"):
                run_dag(dag_id, logs, echo)
            play_quality(store, ports, echo)
            for dag_id in ("events", "mes_sync"):
                run_dag(dag_id, logs, echo)
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
    if todo:
        # this WMS also pushes what it counted: the first inbound reaches the hub as an event
        # through the ingress API (the others are polled; both give the same Receipt id)
        from adapters.wms.hook import WmsHook

        with store.session() as s:
            row = s.scalars(select(OutboxRow).where(OutboxRow.target == "wms", OutboxRow.status == "sent",
                                                    OutboxRow.operation == "create_inbound")
                            .order_by(OutboxRow.id)).first()
        asn_key, asn_code = row.payload["asn_no"], row.result["asn_code"]
        with WmsHook.from_conn_id() as wms:
            counted = wms.get_receipt(asn_code, asn_key)
        lines = [{"sku": line["sku"], "lot": line.get("lot"), "qty_received": line["qty_received"],
                  "bin": line.get("bin")} for line in counted["lines"]]
        event = {"type": "receipt", "receipt": {"asn_no": asn_key, "asn_code": asn_code, "complete": True,
                                                "received_at": counted.get("received_at"), "lines": lines}}
        status = post_event(ports, "/events/wms", runtime.load_secrets(runtime.var_dir())["wms_ingress_token"], event)
        echo(f"  WMS pushed receipt {asn_code} to the ingress API: HTTP {status}")


def post_event(ports: runtime.Ports, path: str, token: str, body: dict) -> int:
    import requests

    response = requests.post(f"http://127.0.0.1:{ports.ingress}{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    if response.status_code >= 300:
        raise DemoFailed(f"ingress {path} answered HTTP {response.status_code}: {response.text[:300]}")
    return response.status_code


def play_portal_supplier(store, ports: runtime.Ports, echo) -> None:
    """SUP-001 opens its first purchase task in the portal and accepts it; Jiandaoyun sends the
    signed webhook to the hub's ingress API (the simulator signs it with the webhook secret)."""
    import requests

    from canonical_model.store import documents

    with store.session() as s:
        if any(r.source is not None and r.source.system == "jiandaoyun" for r in documents.current(s, "OrderResponse")):
            echo("  supplier SUP-001 already answered its purchase task in the portal")
            return
    base = f"http://127.0.0.1:{ports.jiandaoyun}/__sim"
    form = runtime.JIANDAOYUN_FORMS["purchase_task_form"]
    records = requests.get(f"{base}/records", params={"entry_id": form}, timeout=10).json()["records"]
    mine = [r for r in records if "SUP-001" in json.dumps(r, ensure_ascii=False)]
    if not mine:
        raise DemoFailed(f"no purchase task for SUP-001 in the portal (found {len(records)} task(s))")
    answer = requests.post(f"{base}/ui/update", timeout=10, json={
        "entry_id": form, "data_id": mine[0]["_id"], "data": {"response": "接受"}}).json()
    echo(f"  supplier SUP-001 accepted purchase task {mine[0].get('hub_key', mine[0]['_id'])} in the portal: "
         f"webhook HTTP {answer.get('push', {}).get('status')}")


def play_quality(store, ports: runtime.Ports, echo) -> None:
    """QC releases the received bearing batch (1.02.0033 from SUP-001) that production order MO-2026-0002 needs."""
    from canonical_model.store import documents

    with store.session() as s:
        batches = [b for b in documents.current(s, "Batch") if b.material_id == "1.02.0033" and b.supplier_id == "SUP-001"
                   and b.status == "quarantined"]
    token = runtime.load_secrets(runtime.var_dir())["wms_ingress_token"]
    for batch in batches[:1]:
        event = {"type": "qc", "qc": {"supplier_id": batch.supplier_id, "batch_number": batch.supplier_batch_number,
                                      "status": "released"}}
        status = post_event(ports, "/events/wms", token, event)
        echo(f"  QC released batch {batch.batch_id} (WMS event via the ingress API: HTTP {status})")

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
import queue
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from hub import airflow_auth, runtime


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


EXECUTORS = ("embedded", "celery")


def run(var: Path | None = None, ports: runtime.Ports | None = None, echo=print,
        executor: str = "embedded") -> list[tuple[str, int, str]]:
    """The story; ``executor`` embedded runs each DAG in one runner process (``dag.test()``), celery
    hands each run to Airflow's scheduler and Celery workers on PostgreSQL and Redis (``hub.cluster``)."""
    if executor not in EXECUTORS:
        raise DemoFailed(f"unknown executor {executor!r}: one of {', '.join(EXECUTORS)}")
    var = var or runtime.var_dir()
    ports = ports or runtime.Ports.from_env()
    if executor == "celery":
        prepare_celery(ports, echo)
    runtime.apply_environment(var, ports)
    airflow_auth.seed_passwords(var / "airflow")  # else Airflow generates them and prints them to its log
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
        with runtime.services(var, ports, logs), ExitStack() as stack:
            echo(f"services up: {', '.join(runtime.service_names(ports))} (logs in {logs})")
            api = start_airflow_api(ports, logs, stack)
            dags = stack.enter_context(dag_runner(executor, api, var, ports, logs, echo, stack))
            dags.run("erp_sync", "mes_sync")
            run_plan(dags, api, var, ports, echo)
            dags.run("supplier_orders_out", "supplier_portal")
            play_portal_supplier(store, ports, echo)
            play_portal_schedule(ports, echo)
            uploaded = play_suppliers(echo)
            wait_for_min_file_age(uploaded, echo)
            dags.run("supplier_inbound", "supplier_acks", "wms_expected_receipts")
            play_warehouse(store, ports, echo)
            dags.run("events", "wms_receipts_to_erp")
            play_quality(store, ports, echo)
            play_plan_change(ports, echo)
            dags.run("events", "mes_sync", "wms_sync")
            run_plan(dags, api, var, ports, echo)
            play_portal_schedule(ports, echo)
            uploaded = play_suppliers(echo)
            wait_for_min_file_age(uploaded, echo)
            play_production(ports, echo)
            play_lab_result(store, ports, echo)
            dags.run("supplier_inbound", "supplier_acks", "mes_sync", "events")
        return stage_table(store)
    finally:
        store.dispose()


class DagRunner:
    """One ``hub.dag_runner`` process for the whole story: each DAG runs as ``airflow dags test``
    would run it, without paying Airflow's start-up again for every run. Its log: ``var/logs/dags.log``."""

    def __init__(self, log: Path, echo) -> None:
        self.log, self.echo = log, echo
        read_fd, write_fd = os.pipe()
        self._out = open(log, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "hub.dag_runner", "--results-fd", str(write_fd)],
                                        cwd=runtime.REPO_ROOT, env=os.environ.copy(), stdin=subprocess.PIPE,
                                        stdout=self._out, stderr=subprocess.STDOUT, pass_fds=(write_fd,))
        os.close(write_fd)
        self._results: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(os.fdopen(read_fd, "r"),), daemon=True).start()

    def _read(self, results) -> None:
        for line in results:
            self._results.put(json.loads(line))
        self._results.put(None)  # the runner is gone

    def __enter__(self) -> "DagRunner":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()

    def start(self, dag_id: str) -> None:
        self.process.stdin.write(f"{dag_id}\n".encode())
        self.process.stdin.flush()

    def result(self, timeout: float | None = None) -> dict | None:
        """The next finished run; None when ``timeout`` passed first."""
        try:
            outcome = self._results.get(timeout=timeout)
        except queue.Empty:
            return None
        if outcome is None:
            raise DemoFailed(f"the DAG runner exited {self.process.poll()}; last lines of {self.log}:\n" + self._tail())
        if outcome["state"] != "success":
            raise DemoFailed(f"DAG {outcome['dag_id']} ended {outcome['state']}"
                             f"{': ' + outcome['error'] if outcome['error'] else ''}; last lines of {self.log}:\n"
                             + self._tail())
        return outcome

    def run(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            self.start(dag_id)
            outcome = self.result()
            self.echo(f"  DAG {dag_id}: success ({outcome['seconds']:.1f}s)")

    def _tail(self) -> str:
        self._out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])


def prepare_celery(ports: runtime.Ports, echo) -> None:
    """Point every process of the story at PostgreSQL and Redis, and make the DAGs wait for the
    story's triggers (``HUB_DAG_SCHEDULES=manual``; unpaused, or triggered runs would never start)."""
    from hub import cluster

    settings = cluster.CelerySettings.from_env()
    cluster.use(settings, ports)
    os.environ.update({"HUB_DAG_SCHEDULES": "manual", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                       "HUB_CELERY_WORKERS": str(settings.workers)})
    echo(f"CeleryExecutor: {settings.workers} worker(s), broker {settings.broker.split('@')[-1]}, "
         f"metadata and store on PostgreSQL")


def dag_runner(executor: str, api: subprocess.Popen, var: Path, ports: runtime.Ports, logs: Path, echo,
               stack: ExitStack):
    if executor == "embedded":
        return DagRunner(logs / "dags.log", echo)
    from hub import cluster

    processes = stack.enter_context(cluster.components(logs, int(os.environ["HUB_CELERY_WORKERS"])))
    runtime.wait_for_port(ports.airflow_api, api, "airflow api-server", timeout=180)
    password = airflow_auth.passwords(var / "airflow")["admin"]
    return cluster.RestDagRunner(f"http://127.0.0.1:{ports.airflow_api}", "admin", password, echo,
                                 {**processes, "airflow-api-server": api})


def start_airflow_api(ports: runtime.Ports, logs: Path, stack: ExitStack) -> subprocess.Popen:
    """Airflow's api-server on the demo's metadata DB: the planner answers approvals through it.
    Started early: it needs 10-20 s to listen, which the first DAG runs cover. Stopped with ``stack``."""
    airflow_bin = Path(sys.executable).with_name("airflow")
    log = stack.enter_context(open(logs / "airflow-api-server.log", "ab"))
    # one worker: the demo's planner is the only client; its own process group, so stopping it
    # stops the uvicorn worker it forks as well
    process = subprocess.Popen([str(airflow_bin), "api-server", "--host", "127.0.0.1", "--port",
                                str(ports.airflow_api), "--workers", "1"], cwd=runtime.REPO_ROOT,
                               env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(runtime.stop_process_group, process)
    return process


PLAN_COMMENT = "MO-2026-0003 raised to 400 by production control; suppliers informed by phone"


def run_plan(dags: DagRunner, api: subprocess.Popen, var: Path, ports: runtime.Ports, echo) -> None:
    """``plan_run``; when it waits for approval, the planner approves it through Airflow's REST API
    (as a person would in the UI's Required Actions)."""
    from hub.airflow_hitl import AirflowHitlClient, answer_while_running

    runtime.wait_for_port(ports.airflow_api, api, "airflow api-server", timeout=180)
    client = AirflowHitlClient(f"http://127.0.0.1:{ports.airflow_api}", "planner",
                               airflow_auth.passwords(var / "airflow")["planner"])
    dags.start("plan_run")
    finished: list[dict] = []

    def running() -> bool:
        outcome = dags.result(timeout=0.5)
        if outcome is not None:
            finished.append(outcome)
        return not finished

    answered = answer_while_running(client, "plan_run", running,
                                    decide=lambda task: ("Approve", {"comment": PLAN_COMMENT}), poll_seconds=0.5)
    approvals = f"; the planner approved {len(answered)} firm-zone change request(s) through the Airflow API" \
        if answered else ""
    echo(f"  DAG plan_run: success ({finished[0]['seconds']:.1f}s){approvals}")


def play_plan_change(ports: runtime.Ports, echo) -> None:
    """Production control raises MO-2026-0003 (next week, inside the suppliers' firm zone) in the MES."""
    import requests

    answer = requests.post(f"http://127.0.0.1:{ports.opcenter}/__sim/order-plan", timeout=10,
                           json={"order": "MO-2026-0003", "quantity": 400})
    if answer.status_code != 200:
        raise DemoFailed(f"the Opcenter simulator refused the plan change: HTTP {answer.status_code} {answer.text[:200]}")
    echo("  production control raised MO-2026-0003 from 300 to 400 in the MES")


def play_suppliers(echo) -> int:
    """Each supplier answers the ORDERS waiting in its folder (simulated partner, real SFTP)."""
    from hub.partners import load_partners
    from simulators.supplier import SupplierScenario, acknowledge_schedules, respond_to_orders

    total = 0
    for n, profile in enumerate(sorted(load_partners().values(), key=lambda p: p.partner_id)):
        scenario = SupplierScenario(partner_id=profile.partner_id, our_id=profile.edi.their_id,
                                    hub_id=profile.edi.our_id, short_supplier=n == 0, sloppy_supplier=n == 1)
        names = respond_to_orders(profile.sftp_config(), scenario, today=dt.date.today())
        names += acknowledge_schedules(profile.sftp_config(), scenario)
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


def play_portal_schedule(ports: runtime.Ports, echo) -> None:
    """SUP-002 reads its delivery schedule in the portal and acknowledges every version waiting for
    an answer (its own account, sup002); the signed webhook reaches the ingress API."""
    import requests

    base = f"http://127.0.0.1:{ports.jiandaoyun}/__sim"
    form = runtime.JIANDAOYUN_FORMS["delivery_schedule_form"]
    records = requests.get(f"{base}/records", params={"entry_id": form}, timeout=10).json()["records"]
    waiting = [r for r in records if r.get("supplier_id") == "SUP-002" and not r.get("response")]
    for record in waiting:
        answer = requests.post(f"{base}/ui/update", timeout=10, json={
            "entry_id": form, "data_id": record["_id"], "user": "sup002", "data": {"response": "确认"}}).json()
        echo(f"  supplier SUP-002 acknowledged delivery schedule {record['hub_key']} in the portal: "
             f"webhook HTTP {answer.get('push', {}).get('status')}")


def play_production(ports: runtime.Ports, echo) -> None:
    """The shop floor finishes MO-2026-0002's motors into lot FG-3.01.0007-0002 (recorded in the MES)."""
    import requests

    answer = requests.post(f"http://127.0.0.1:{ports.opcenter}/__sim/produce", timeout=10,
                           json={"order": "MO-2026-0002", "lot": "FG-3.01.0007-0002", "quantity": 500})
    if answer.status_code != 200:
        raise DemoFailed(f"the Opcenter simulator refused the production: HTTP {answer.status_code} {answer.text[:200]}")
    echo("  the shop floor produced 500 motors of MO-2026-0002 as finished lot FG-3.01.0007-0002")


#: the lab's late finding: the bearing lot production order MO-2026-0002 already consumed
RECALLED_BATCH = "SUP-001:BCGDD000101-1"


def play_lab_result(store, ports: runtime.Ports, echo) -> None:
    """The lab rejects a bearing batch after production consumed it: the WMS reports the decision,
    the hub records the failed inspection and alerts quality with the orders it reached."""
    from canonical_model.store import documents

    with store.session() as s:
        if any(i.batch_id == RECALLED_BATCH for i in documents.current(s, "Inspection")):
            echo(f"  the lab's rejection of {RECALLED_BATCH} is already recorded")
            return
    token = runtime.load_secrets(runtime.var_dir())["wms_ingress_token"]
    event = {"type": "qc", "qc": {"batch_id": RECALLED_BATCH, "status": "rejected",
                                  "reason": "raceway hardness 52 HRC < 58 HRC (lab report L-2611-031)"}}
    status = post_event(ports, "/events/wms", token, event)
    echo(f"  the lab rejected batch {RECALLED_BATCH} after production used it (WMS event: HTTP {status})")


EPILOGUE = (("open alerts", ("alerts", "list", "--status", "open")),
            (f"trace of the rejected batch {RECALLED_BATCH}", ("trace", RECALLED_BATCH)),
            ("supplier scorecards", ("scorecard",)),
            ("audit trail of delivery schedule DS-SUP-001", ("audit", "--subject", "DS-SUP-001")),
            ("report", ("report",)))


def epilogue() -> str:
    """What people look at after the story: the CLI's own output, each under a heading."""
    hub_bin = Path(sys.executable).with_name("hub")
    parts = []
    for title, args in EPILOGUE:
        done = subprocess.run([str(hub_bin), *args], cwd=runtime.REPO_ROOT, env=os.environ.copy(),
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise DemoFailed(f"`hub {' '.join(args)}` exited {done.returncode}: {done.stderr[-2000:]}")
        parts.append(f"== {title} (hub {' '.join(args)})\n{done.stdout.rstrip()}")
    return "\n\n".join(parts)


#: QC keeps SUP-002's bearing lot on hold (its certificate of conformity is missing), so the shop
#: floor only consumes SUP-001's lot into MO-2026-0002 - on every run of the story alike
HELD_BATCH = "SUP-002:BCGDD000102-2"


def play_quality(store, ports: runtime.Ports, echo) -> None:
    """QC releases the received batches but one (the WMS reports each decision through the ingress
    API); the bearing batch 1.02.0033 from SUP-001 is what production order MO-2026-0002 waits for."""
    from canonical_model.store import documents

    with store.session() as s:
        batches = sorted((b for b in documents.current(s, "Batch")
                          if b.status == "quarantined" and b.batch_id != HELD_BATCH), key=lambda b: b.batch_id)
    token = runtime.load_secrets(runtime.var_dir())["wms_ingress_token"]
    for batch in batches:
        event = {"type": "qc", "qc": {"supplier_id": batch.supplier_id, "batch_number": batch.supplier_batch_number,
                                      "status": "released"}}
        post_event(ports, "/events/wms", token, event)
    if batches:
        echo(f"  QC released {len(batches)} batch(es): {', '.join(b.batch_id for b in batches)}; "
             f"{HELD_BATCH} stays on hold (certificate missing) (WMS events via the ingress API)")

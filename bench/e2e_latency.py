"""End-to-end latency: an ASN file dropped on a supplier's SFTP -> the expected receipt at the WMS.

Runs the services as ``make up`` does (simulators, the SFTP server, the ingress API) with Airflow
on its real schedules (no HUB_DAG_SCHEDULES=manual), once per executor, each in a child process
with its own var folder and ports:

* ``standalone`` - ``airflow standalone`` on SQLite, as ``make up`` runs it;
* ``celery`` - api-server, scheduler, dag-processor, triggerer and two Celery workers on the
  machine's PostgreSQL and Redis (``hub/cluster.py``).

After ``erp_sync`` has pulled the purchase orders and one warm-up file went all the way, FILES
DESADVs (one per file, one line, quantity 1, against the open POs of both suppliers) are
uploaded at random intervals (exponential, mean MEAN seconds, fixed seed) through each
supplier's own SFTP account. The clock starts when the upload's atomic rename is done and stops
when the WMS simulator's API (``GET /asn/list/``, what ``WmsHook.find_inbound`` asks) shows the
inbound. Nothing is triggered by hand: the SFTP watcher starts ``supplier_inbound``, whose asset
starts ``wms_expected_receipts``. The target is p95 < 30 s on this machine.

    .venv/bin/python bench/e2e_latency.py [--files 50] [--mean 3] [--executors standalone,celery]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_P95 = 30.0
REDIS_DB = 12
PIPELINE = ("supplier_inbound", "wms_expected_receipts")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------- one executor, in a child process

def start_airflow(executor: str, ports, logs: Path, stack: ExitStack) -> dict:
    from hub import cluster, runtime
    from hub.demo import start_airflow_api

    airflow_bin = str(Path(sys.executable).with_name("airflow"))
    if executor == "standalone":
        from hub.up import standalone_environment

        # the defaults (8080, 8793, 8794) may belong to another Airflow on this machine
        os.environ.update({"AIRFLOW__API__PORT": str(ports.airflow_api),
                           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports.airflow_api + 1),
                           "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports.airflow_api + 2)})
        standalone_environment()
        log = stack.enter_context(open(logs / "airflow-standalone.log", "ab"))
        process = subprocess.Popen([airflow_bin, "standalone"], cwd=REPO, env=os.environ.copy(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(runtime.stop_process_group, process)
        return {"airflow-standalone": process}
    api = start_airflow_api(ports, logs, stack)
    processes = stack.enter_context(cluster.components(logs, 2))
    return {**processes, "airflow-api-server": api}


def prepare(executor: str, ports) -> None:
    from hub import cluster

    if executor == "celery":
        import redis

        suffix = uuid.uuid4().hex[:8]
        settings = cluster.CelerySettings(airflow_db=f"{cluster.LOCAL_PG}/hub_bench_airflow_{suffix}",
                                          store_db=f"{cluster.LOCAL_PG}/hub_bench_store_{suffix}",
                                          broker=f"redis://127.0.0.1:6379/{REDIS_DB}")
        redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
        cluster.use(settings, ports)
        os.environ["HUB_BENCH_DATABASES"] = json.dumps([settings.airflow_db, settings.store_db])


def drop_databases() -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    for url in json.loads(os.environ.get("HUB_BENCH_DATABASES", "[]")):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()


def shipments(store, count: int, run: str):
    """``count`` one-line ASNs (quantity 1) against the suppliers' open POs, alternating suppliers."""
    from canonical_model.documents import ShipmentNotice, ShipmentNoticeLine
    from canonical_model.store import documents

    with store.session() as s:
        orders = sorted(documents.current(s, "PurchaseOrder"), key=lambda po: (po.supplier_id, po.po_number))
    if not orders:
        raise SystemExit("erp_sync stored no purchase order")
    today = dt.date.today()
    for i in range(count):
        po = orders[i % len(orders)]
        line = po.lines[0]
        yield ShipmentNotice(
            asn_number=f"ASN-B{run}-{i:03d}", supplier_id=po.supplier_id, ship_to_id="PLANT-01", ship_date=today,
            expected_arrival=today + dt.timedelta(days=1),
            lines=[ShipmentNoticeLine(line_no=1, po_number=po.po_number, po_line_no=line.line_no,
                                      material_id=line.material_id, supplier_material_id=line.supplier_material_id,
                                      quantity=1, uom=line.uom, batch_number=f"B{run}{i:03d}")])


def upload(asn, control_ref: str) -> float:
    """The supplier's upload (its own account, atomic rename); returns when the file is in place."""
    from adapters.edi.messages import shipment_notice_to_desadv
    from adapters.sftp.hook import SftpHook
    from hub.partners import load_partners

    profile = load_partners()[asn.supplier_id]
    data = shipment_notice_to_desadv(asn, sender=profile.edi.their_id, recipient=profile.edi.our_id,
                                     control_ref=control_ref, prepared=dt.datetime.now())
    config = profile.sftp_config()
    with SftpHook(config) as sftp:
        sftp.upload_atomic(config.inbox_folder, f"DESADV_{asn.asn_number}.edi", data)
    return time.monotonic()


def wait_at_wms(asn_keys: dict[str, float], seen: dict[str, float], deadline: float,
                done: threading.Event | None = None) -> None:
    """Poll the WMS for every dropped ASN not yet seen (``WmsHook.find_inbound``): until ``done`` is
    set when given (more files are dropped meanwhile), else until all are seen; at most until the deadline."""
    from adapters.wms.hook import WmsHook
    from hub.errors import RetriableError

    with WmsHook.from_conn_id() as wms:
        while time.monotonic() < deadline:
            for key in [k for k in list(asn_keys) if k not in seen]:
                try:
                    found = wms.find_inbound(key)
                except RetriableError:
                    break  # the WMS blinked: look again next round, the clock keeps running
                if found is not None:
                    seen[key] = time.monotonic()
            if done.is_set() if done is not None else len(seen) == len(asn_keys):
                return
            time.sleep(0.25)


def measure(executor: str, files: int, mean: float, seed: int) -> dict:
    from canonical_model.store import open_store
    from hub import airflow_auth, cluster, runtime

    var = Path(os.environ["HUB_VAR_DIR"])
    ports = runtime.Ports.from_env()
    prepare(executor, ports)
    runtime.apply_environment(var, ports)
    airflow_auth.seed_passwords(var / "airflow")
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow_bin = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow_bin, "db", "migrate"], cwd=REPO, env=os.environ.copy(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = open_store()
    try:
        with runtime.services(var, ports, logs), ExitStack() as stack:
            processes = start_airflow(executor, ports, logs, stack)
            runtime.wait_for_port(ports.airflow_api, processes.get("airflow-api-server") or processes["airflow-standalone"],
                                  "airflow api-server", 240)
            api = cluster.RestDagRunner(f"http://127.0.0.1:{ports.airflow_api}", "admin",
                                        airflow_auth.passwords(var / "airflow")["admin"], print, processes)
            for dag_id in ("erp_sync", *PIPELINE):
                api.wait_until_parsed(dag_id)
                api.set_paused(dag_id, False)
            api.run("erp_sync")
            run = f"{seed % 100:02d}"
            asns = list(shipments(store, files + 1, run))
            # warm-up: the first file goes all the way before the clock runs (workers, watcher, caches)
            warm_key = asns[0].business_key
            warm_seen: dict[str, float] = {}
            wait_at_wms({warm_key: upload(asns[0], control_ref=f"7{run}000")}, warm_seen, time.monotonic() + 300)
            if warm_key not in warm_seen:
                raise SystemExit(f"{executor}: the warm-up file never reached the WMS (logs in {logs})")
            dropped: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = threading.Event()
            poller = threading.Thread(target=wait_at_wms, args=(dropped, seen, time.monotonic() + 3600, done),
                                      daemon=True)
            poller.start()
            rng = random.Random(seed)
            for i, asn in enumerate(asns[1:], start=1):
                time.sleep(rng.expovariate(1 / mean))
                dropped[asn.business_key] = upload(asn, control_ref=f"7{run}{i:03d}")
            limit = time.monotonic() + 600  # after the last drop: what has not arrived by then is reported missing
            while len(seen) < len(dropped) and time.monotonic() < limit:
                time.sleep(0.5)
            done.set()
            poller.join(timeout=30)
            latencies = [seen[k] - dropped[k] for k in dropped if k in seen]
            runs = {dag_id: api.count_runs(dag_id) for dag_id in PIPELINE}
    finally:
        store.dispose()
        drop_databases()
    return {"executor": executor, "files": len(dropped), "seen": len(latencies), "latencies": latencies,
            "runs": runs}


# ---------------------------------------------------------------- the table

def run_child(executor: str, args, workdir: Path) -> dict:
    out = workdir / f"{executor}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    from hub.runtime import free_port_base

    env.update(HUB_VAR_DIR=str(workdir / executor / "var"), HUB_PORT_BASE=str(free_port_base()))
    argv = [sys.executable, __file__, "--one", executor, "--files", str(args.files), "--mean", str(args.mean),
            "--seed", str(args.seed), "--out", str(out)]
    done = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0 or not out.exists():
        print(f"{executor}: failed (exit {done.returncode}); last output:\n{done.stdout[-3000:]}", file=sys.stderr)
        return {"executor": executor, "files": args.files, "seen": 0, "latencies": [], "runs": {}}
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--mean", type=float, default=3.0, help="mean seconds between drops (exponential)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--executors", default="standalone,celery")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        # a SIGTERM (Ctrl-C of the parent, a timeout) still runs the clean-up: services, Airflow, databases
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        result = measure(args.one, args.files, args.mean, args.seed)
        Path(args.out).write_text(json.dumps(result))
        return 0
    import tempfile

    print(f"e2e latency: {args.files} DESADVs dropped on SFTP at random intervals (mean {args.mean:g} s, "
          f"seed {args.seed}) -> expected receipt at the WMS simulator; target p95 < {TARGET_P95:g} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-latency-") as workdir:
        for executor in args.executors.split(","):
            started = time.monotonic()
            result = run_child(executor.strip(), args, Path(workdir))
            result["wall"] = time.monotonic() - started
            rows.append(result)
    header = ("executor", "files", "reached WMS", "p50 s", "p95 s", "max s", "inbound runs", "wms runs", "wall s",
              "p95 < 30 s")
    lines = [header]
    for r in rows:
        lat = r["latencies"]
        stats = (f"{statistics.median(lat):.1f}", f"{percentile(lat, 0.95):.1f}", f"{max(lat):.1f}") if lat \
            else ("-", "-", "-")
        ok = "PASS" if lat and r["seen"] == r["files"] and percentile(lat, 0.95) < TARGET_P95 else "MISS"
        lines.append((r["executor"], str(r["files"]), str(r["seen"]), *stats,
                      str(r["runs"].get("supplier_inbound", "-")), str(r["runs"].get("wms_expected_receipts", "-")),
                      f"{r['wall']:.0f}", ok))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(cell.rjust(w) if n and i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

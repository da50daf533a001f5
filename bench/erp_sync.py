"""ERP sync benchmark: Kingdee purchase orders into the canonical store, initial / incremental / unchanged.

    .venv/bin/python bench/erp_sync.py               # `make bench`: 100,000 PO lines, SQLite + PostgreSQL
    .venv/bin/python bench/erp_sync.py --lines 20000 --backends sqlite   # quicker

The Kingdee simulator (a real HTTP server, ``python -m simulators.kingdee``) is started with
``--seed-pos N/10 --lines-per-po 10`` (10 lines per bill). Then, per store backend, each in a
fresh child process (so time and peak memory of one step do not leak into the next):

    wire only            the peer: ExecuteBillQuery paged with requests (KingdeeHook), rows
                         counted and dropped; no mapping, no store. What the ERP side costs.
    initial sync         hub.flows.erp_sync.sync_entity(purchase_orders) into an empty store:
                         paging, grouping, raw archive + inbox ledger, mapping, pandera
                         validation, bulk upsert with audit
    incremental (1 %)    POST /__sim/touch changes 1 % of the PO lines (and their bills'
                         FModifyDate); the next sync pulls from the watermark minus the overlap
    unchanged rerun      the same sync again with nothing changed in the ERP

"memory flat" is shown by the initial sync's peak RSS at N/10 lines next to N lines (same code,
10x the data). PostgreSQL is the machine's server at 127.0.0.1:5432 (database ``test``), in a
throwaway schema; it is skipped (and said so) when not reachable.

Targets (issue 5): initial sync >= 5,000 lines/s on SQLite; unchanged rerun < 10 % of the
initial sync's time; memory flat. Not a test: nothing here asserts; numbers go into the report.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINES_PER_PO = 10
ACCT, USER = "bench-acct", "mes_api"
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# --------------------------------------------------------------------------- child measurements
def _peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _wire_only() -> dict:
    from adapters.kingdee.hook import KingdeeHook
    from adapters.kingdee.translate import PO_ENTRY_KEYS, PO_FORM, PO_HEADER_KEYS

    rows = 0
    with KingdeeHook.from_conn_id("kingdee_default") as hook:
        for _ in hook.execute_bill_query(PO_FORM, PO_HEADER_KEYS + PO_ENTRY_KEYS, "FDocumentStatus='C'",
                                         "FID ASC,FPOOrderEntry_FEntryID ASC"):
            rows += 1
    return {"lines": rows, "note": "rows paged and dropped"}


def _sync() -> dict:
    from adapters.kingdee.erp import KingdeeErp
    from canonical_model.store import open_store
    from hub.flows.erp_sync import sync_entity

    store = open_store(os.environ["BENCH_DB_URL"], archive_dir=Path(os.environ["BENCH_ARCHIVE"]))
    t0 = time.perf_counter()
    with KingdeeErp("kingdee_default") as client:
        counts = sync_entity(store, client, "purchase_orders")
    seconds = time.perf_counter() - t0
    store.dispose()
    # every generated bill has LINES_PER_PO lines: lines read = bills fetched x 10
    return {"seconds": seconds, "counts": counts.line(), "lines": counts.fetched * LINES_PER_PO}


def child(kind: str) -> None:
    sys.path.insert(0, str(ROOT))
    import adapters.kingdee.erp  # noqa: F401  imports out of the measurement
    import hub.flows.erp_sync  # noqa: F401

    t0 = time.perf_counter()
    out = _wire_only() if kind == "wire" else _sync()
    out.setdefault("seconds", time.perf_counter() - t0)
    out["rss"] = _peak_rss_mb()
    print(json.dumps(out))


# --------------------------------------------------------------------------- driver
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin(port: int, name: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/__sim/{name}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


class Simulator:
    """The Kingdee simulator as its own process, seeded with ``pos`` bills of 10 lines."""

    def __init__(self, pos: int, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.kingdee", "--port", str(self.port), "--seed-pos", str(pos),
             "--lines-per-po", str(LINES_PER_PO), "--seed-suppliers", "20", "--seed-materials", "50",
             "--log-level", "WARNING"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"simulator exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("simulator did not start within 120 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _run_child(kind: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _postgres_schema() -> str | None:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        schema = f"hub_bench_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        return schema
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        print(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); PostgreSQL rows skipped")
        return None


def _drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _backend_url(backend: str, folder: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'hub.db'}", None
    schema = _postgres_schema()
    if schema is None:
        return "", None
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", schema


def measure_backend(backend: str, lines: int, base_env: dict[str, str], rows: list[dict]) -> None:
    pos = lines // LINES_PER_PO
    for label_lines, seeded in ((lines // 10, pos // 10), (lines, pos)):
        folder = Path(tempfile.mkdtemp(prefix=f"hub-erp-bench-{backend}-"))
        url, schema = _backend_url(backend, folder)
        if not url:
            return
        sim = Simulator(seeded, base_env)
        try:
            env = {**base_env, "BENCH_DB_URL": url, "BENCH_ARCHIVE": str(folder / "archive"),
                   "AIRFLOW_CONN_KINGDEE_DEFAULT": json.dumps({
                       "conn_type": "kingdee", "host": "127.0.0.1", "port": sim.port, "login": USER,
                       "password": base_env["BENCH_KINGDEE_PASSWORD"], "schema": "http",
                       "extra": {"acct_id": ACCT, "lcid": 2052, "auth": "password", "path": "/k3cloud"}})}
            name = f"{backend} {label_lines:,} lines"
            if label_lines == lines:
                rows.append({"run": name, "step": "wire only (peer)", **_run_child("wire", env)})
            initial = _run_child("sync", env)
            rows.append({"run": name, "step": "initial sync", **initial})
            if label_lines != lines:
                continue  # the small run is only there to show memory is flat
            touched = _admin(sim.port, "touch", {"form": "PUR_PurchaseOrder", "fraction": 0.01, "seed": 1})
            incremental = _run_child("sync", env)
            if "counts" in incremental:
                incremental["counts"] += f" ({touched.get('lines')} lines changed in {touched.get('bills')} bills)"
            rows.append({"run": name, "step": "incremental (1 % of lines changed)", **incremental})
            rows.append({"run": name, "step": "unchanged rerun", **_run_child("sync", env),
                         "initial_seconds": initial.get("seconds")})
        finally:
            sim.stop()
            shutil.rmtree(folder, ignore_errors=True)
            if schema:
                _drop_schema(schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=100_000, help="PO lines seeded (10 per bill)")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    password = secrets.token_urlsafe(16)
    base_env = {**os.environ, "KINGDEE_SIM_USERS": f"{ACCT}:{USER}:{password}", "KINGDEE_SIM_APPS": "",
                "BENCH_KINGDEE_PASSWORD": password, "PYTHONPATH": str(ROOT)}
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; Kingdee simulator with "
          f"{args.lines:,} PO lines ({args.lines // LINES_PER_PO:,} bills)")
    rows: list[dict] = []
    for backend in args.backends.split(","):
        measure_backend(backend.strip(), args.lines, base_env, rows)
    print()
    print("| run | step | lines | seconds | lines/s | peak RSS MB | result |")
    print("|---|---|---:|---:|---:|---:|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['run']} | {row['step']} | | | | | ERROR {row['error']} |")
            continue
        rate = row["lines"] / row["seconds"] if row["lines"] and row["seconds"] else 0
        print(f"| {row['run']} | {row['step']} | {row['lines']:,} | {row['seconds']:.2f} | "
              f"{rate:,.0f} | {row['rss']:.0f} | {row.get('counts') or row.get('note', '')} |")
    print()
    print("| target | measured | result |")
    print("|---|---|---|")
    for row in rows:
        if "error" in row:
            continue
        if row["step"] == "initial sync" and row["run"].endswith(f" {args.lines:,} lines"):
            rate = row["lines"] / row["seconds"]
            if row["run"].startswith("sqlite"):
                print(f"| {row['run']} initial sync >= 5,000 lines/s | {rate:,.0f} lines/s | "
                      f"{'PASS' if rate >= 5000 else 'MISS'} |")
        if row["step"] == "unchanged rerun" and row.get("initial_seconds"):
            share = row["seconds"] / row["initial_seconds"]
            print(f"| {row['run']} unchanged rerun < 10 % of initial | {row['seconds']:.2f} s = "
                  f"{share:.1%} of {row['initial_seconds']:.2f} s | {'PASS' if share < 0.10 else 'MISS'} |")
    small = {r["run"].split()[0]: r for r in rows if r["step"] == "initial sync"
             and r["run"].endswith(f" {args.lines // 10:,} lines") and "error" not in r}
    for row in rows:
        if row["step"] == "initial sync" and row["run"].endswith(f" {args.lines:,} lines") and "error" not in row:
            ref = small.get(row["run"].split()[0])
            if ref:
                print(f"| {row['run']} memory flat (peak RSS at {args.lines:,} vs {args.lines // 10:,} lines) | "
                      f"{row['rss']:.0f} MB vs {ref['rss']:.0f} MB | "
                      f"{'PASS' if row['rss'] < ref['rss'] * 1.5 else 'MISS'} |")


if __name__ == "__main__":
    main()

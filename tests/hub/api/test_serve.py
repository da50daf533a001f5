"""`hub serve`: the typer command starts uvicorn on the hub's own store and Connections."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import requests

from tests.hub.api.support import REPO, WMS_TOKEN, set_connections

# the lead registers the command in hub/cli.py; here it runs as a one-command typer app
LAUNCH = "import typer; from hub.cli_serve import serve; app = typer.Typer(); app.command()(serve); app()"


def test_hub_serve_accepts_an_event_into_the_store_at_hub_database_url(tmp_path, monkeypatch):
    set_connections(monkeypatch)
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_VAR_DIR": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, "--port", "0"], cwd=REPO, env=env,
                               stderr=subprocess.PIPE, text=True)
    try:
        base_url = None
        deadline = time.monotonic() + 60
        lines = []
        while base_url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            lines.append(line)
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            base_url = found.group(1) if found else None
        assert base_url, "".join(lines)
        answer = requests.post(f"{base_url}/events/wms", timeout=10, headers={"Authorization": f"Bearer {WMS_TOKEN}"},
                               json={"type": "qc", "qc": {"batch_id": "SUP-001:B1", "status": "released"}})
        spec = requests.get(f"{base_url}/openapi.json", timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 202 and answer.json()["event_id"] == 1
    assert spec.status_code == 200 and "/webhooks/jiandaoyun" in spec.json()["paths"]

    from canonical_model.store import open_store
    from hub.report import table_counts

    store = open_store(env["HUB_DATABASE_URL"], archive_dir=tmp_path / "archive")
    try:
        assert dict(table_counts(store))["events"] == 1
    finally:
        store.dispose()

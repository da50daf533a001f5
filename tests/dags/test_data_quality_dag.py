"""dags/data_quality.py: parses without Great Expectations, and its task fails naming the broken expectations."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from canonical_model.documents import Material, Party, PurchaseOrder, ShipmentNotice
from canonical_model.store import documents, open_store

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("great_expectations", "pandas", "matplotlib", "validation.quality", "canonical_model.store")


def run_child(code: str, tmp_path: Path, **env: str) -> dict:
    # a child process: Airflow's settings point at a throwaway AIRFLOW_HOME, and sys.modules starts clean
    full_env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": str(REPO), **env}
    out = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_parsing_the_dag_imports_no_gx_pandas_or_matplotlib(tmp_path: Path):
    code = (
        "import json, sys; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags' / 'data_quality.py')!r}); "
        "d = bag.dags['data_quality']; t = d.task_dict['check_quality']; "
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, "
        "'tasks': sorted(d.task_dict), 'schedule': str(d.schedule), 'retries': t.retries, "
        f"'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    info = run_child(code, tmp_path)
    assert info["errors"] == {}
    assert info["tasks"] == ["check_quality"]
    assert info["schedule"] == "@daily"
    assert info["retries"] == 0  # the same data fails the same way
    assert info["heavy"] == []


def test_the_task_fails_without_retry_and_names_the_failed_expectation(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(url, archive_dir=tmp_path / "archive")
    with store.session() as s:
        documents.upsert(s, Party(party_id="SUP-1", role="supplier", name="One"))
        documents.upsert(s, Material(material_id="M-1", name="Bolt", uom="PCE"))
        documents.upsert(s, PurchaseOrder(po_number="PO-1", supplier_id="SUP-1", order_date="2026-03-01", lines=[
            {"line_no": 1, "material_id": "M-1", "quantity": "10", "uom": "PCE", "delivery_date": "2026-03-20"}]))
        documents.upsert(s, ShipmentNotice(asn_number="ASN-1", supplier_id="SUP-1", lines=[
            {"line_no": 1, "po_number": "PO-1", "po_line_no": 7, "material_id": "M-1", "quantity": "5", "uom": "PCE"}]))
    store.dispose()
    code = (
        "import json, pendulum; from airflow.dag_processing.dagbag import DagBag; "
        "from airflow.exceptions import AirflowFailException; "
        f"bag = DagBag(dag_folder={str(REPO / 'dags' / 'data_quality.py')!r}); "
        "t = bag.dags['data_quality'].task_dict['check_quality']; "
        "kind, message = 'passed', ''\n"
        "try:\n"
        "    t.python_callable(data_interval_end=pendulum.datetime(2026, 3, 10, tz='UTC'))\n"
        "except AirflowFailException as exc:\n"
        "    kind, message = 'fail', str(exc)\n"
        "print(json.dumps({'kind': kind, 'message': message}))"
    )
    info = run_child(code, tmp_path, HUB_DATABASE_URL=url, HUB_VAR_DIR=str(tmp_path / "var"))
    assert info["kind"] == "fail"  # AirflowFailException: Airflow does not retry it
    assert "DATA_QUALITY_FAILED" in info["message"]
    assert "shipment_notice_lines.unmatched_po_line expect_column_values_to_be_null (1 unexpected, e.g. PO-1 line 7)" \
        in info["message"]
    assert (tmp_path / "var" / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()

"""hub/tasks.py for the operations issue, against the simulators: the portal published one supplier per
mapped task, successful pulls stamped as the system's feed speaking, and the alert sweep raising
FEED_QUIET for a partner gone quiet."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from canonical_model.documents import PurchaseOrder
from canonical_model.store import documents, open_store, state
from hub import tasks
from hub.errors import FatalError
from simulators.base import running
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, JiandaoyunState
from simulators.jiandaoyun import make_server as jiandaoyun_server
from simulators.wms import WmsState, seed_demo
from simulators.wms import make_server as wms_server

JDY_KEY = "jdy-Ops-Key-5e1a"
WMS_TOKEN = "wms-Ops-Token-77c3"


@pytest.fixture
def hub_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    store = open_store()
    yield store
    store.dispose()


def po(number: str, supplier: str, status: str = "open") -> PurchaseOrder:
    return PurchaseOrder(po_number=number, supplier_id=supplier, order_date=dt.date(2026, 11, 20), status=status,
                         lines=[dict(line_no=1, material_id="1.02.0033", quantity=Decimal("500"), uom="H87",
                                     delivery_date=dt.date(2026, 12, 1))])


def test_the_portal_is_published_one_supplier_at_a_time(hub_store, monkeypatch):
    sim = jiandaoyun_server(state=JiandaoyunState(api_keys=JDY_KEY, webhook_secret="hook"), seed="demo")
    with running(sim):
        monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", json.dumps({
            "conn_type": "http", "host": "127.0.0.1", "port": sim.server_address[1], "schema": "http",
            "password": JDY_KEY, "extra": {"app_id": DEMO_APP_ID, "max_calls_per_second": 0,
                                           **{f"{purpose}_form": form for purpose, form in DEMO_FORMS.items()}}}))
        with hub_store.session() as s:
            for order in (po("PO-A1", "SUP-001"), po("PO-A2", "SUP-001", "changed"), po("PO-B1", "SUP-002"),
                          po("PO-C1", "SUP-003", "closed")):
                documents.upsert(s, order)
        # a closed order is no task: SUP-003 gets no mapped task at all
        assert tasks.portal_suppliers() == ["SUP-001", "SUP-002"]
        assert tasks.publish_purchase_tasks("SUP-001") == {"purchase_tasks": 2}
        assert sorted(r["hub_key"] for r in sim.state.all_records(DEMO_FORMS["purchase_task"])) == ["PO-A1", "PO-A2"]
        assert tasks.publish_purchase_tasks("SUP-001") == {"purchase_tasks": 2}   # a rerun: found again
        assert tasks.publish_purchase_tasks("SUP-002") == {"purchase_tasks": 1}
        assert tasks.publish_purchase_tasks("SUP-404") == {"purchase_tasks": 0}
        assert sorted(r["hub_key"] for r in sim.state.all_records(DEMO_FORMS["purchase_task"])) == \
            ["PO-A1", "PO-A2", "PO-B1"]


def test_a_successful_pull_is_the_system_speaking_a_failed_one_is_not(hub_store, monkeypatch):
    wms = wms_server()
    wms.state = seed_demo(WmsState(tokens=[WMS_TOKEN]))
    with running(wms):
        monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", f"wms://:{WMS_TOKEN}@127.0.0.1:{wms.server_address[1]}/"
                                                       f"?dialect=greaterwms")
        before = dt.datetime.now(dt.timezone.utc)
        tasks.sync_wms_stock()
        with hub_store.session() as s:
            stamp = dt.datetime.fromisoformat(state.get(s, "feed:wms:heard:stock"))
        assert before <= stamp <= dt.datetime.now(dt.timezone.utc)
        monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", f"wms://:wrong-token@127.0.0.1:{wms.server_address[1]}/"
                                                       f"?dialect=greaterwms")
        with pytest.raises(FatalError, match="WMS_AUTH"):
            tasks.sync_wms_stock()
        with hub_store.session() as s:
            assert dt.datetime.fromisoformat(state.get(s, "feed:wms:heard:stock")) == stamp


def test_the_sweep_raises_feed_quiet_for_a_partner_silent_past_its_limit(hub_store):
    week_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)
    # the hub has watched SUP-001's ASNs for a week (its profile allows 72 h) and heard nothing
    with hub_store.session() as s:
        state.put(s, "feed:SUP-001/asn:watched_since", week_ago.isoformat())
    first = tasks.alert_sweep()
    assert first["opened"] == 1
    again = tasks.alert_sweep()
    assert again["opened"] == 0
    with hub_store.session() as s:
        quiet = [a for a in documents.current(s, "Alert") if a.alert_type == "FEED_QUIET"]
    assert [(a.alert_id, a.responsible_party, a.status) for a in quiet] == [("FEED_QUIET:SUP-001/asn", "SUP-001",
                                                                             "open")]
    assert "expected at least every 72 h" in quiet[0].message

"""ERP -> hub purchase-order sync (hub.flows.erp_sync + KingdeeErp) against the Kingdee simulator over real HTTP."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from adapters.kingdee.config import KingdeeConfig
from adapters.kingdee.hook import KingdeeHook
from canonical_model.store import audit, documents, quarantine, state
from canonical_model.store.tables import AuditRow, DocumentRow, InboxRow, QuarantineRow, StateRow
from hub.errors import FatalError, RetriableError
from adapters.kingdee.erp import KingdeeErp
from hub.flows.erp_sync import sync_entity, watermark_name
from hub.replay import replay
from simulators.base import running
from simulators.kingdee.server import KingdeeState, make_server

ACCT, USER, PASSWORD = "acct-po-flow", "mes_api", "pw-PoFlow-51e0"
PO_NUMBERS = ["CGDD000101", "CGDD000102", "CGDD000103"]
# newest FModifyDate among the seeded bills (simulators/kingdee/server.py DEMO_PURCHASE_ORDERS)
SEED_WATERMARK = "2026-11-21T08:15:00"


WATERMARK = watermark_name("kingdee", "purchase_orders")


def sync_purchase_orders(store, hook: KingdeeHook) -> dict[str, int]:
    counts = sync_entity(store, KingdeeErp(hook=hook), "purchase_orders")
    return {"pulled": counts.fetched, "new_or_changed": counts.new + counts.changed, "unchanged": counts.unchanged,
            "quarantined": counts.quarantined}


@pytest.fixture()
def sim():
    kstate = KingdeeState(users=f"{ACCT}:{USER}:{PASSWORD}", apps="")
    with running(make_server("127.0.0.1", 0, state=kstate, seed="demo")) as server:
        try:
            yield server
        finally:
            kstate.release_stalled()


def hook_for(sim, **overrides) -> KingdeeHook:
    values = dict(base_url=f"{sim.base_url}/k3cloud", acct_id=ACCT, username=USER, password=PASSWORD, timeout=5)
    values.update(overrides)
    return KingdeeHook(KingdeeConfig(**values))


@pytest.fixture()
def hook(sim):
    with hook_for(sim) as h:
        yield h


def count(session, table) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def po_versions(store) -> dict[str, int]:
    with store.session() as s:
        return {po.po_number: documents.current_version(s, "PurchaseOrder", po.po_number)
                for po in documents.current(s, "PurchaseOrder")}


def change_first_line_qty(hook: KingdeeHook, sim, number: str, qty: int, when: str) -> None:
    """UnAudit -> Save (new FQty on line 1, both lines kept) -> Submit -> Audit, all over the wire."""
    sim.state.set_now(when)
    bill = sim.state.find("PUR_PurchaseOrder", number=number)
    entries = [{"FEntryID": row["FEntryID"]} for row in bill["FPOOrderEntry"]]
    entries[0]["FQty"] = qty
    hook.unaudit("PUR_PurchaseOrder", [number])
    hook.save("PUR_PurchaseOrder", {"FID": bill["FID"], "FPOOrderEntry": entries})
    hook.submit("PUR_PurchaseOrder", [number])
    hook.audit("PUR_PurchaseOrder", [number])


def add_hostile_po(sim, number: str, *, unit: str = "Pcs", currency: str = "PRE001", when: str) -> None:
    """An audited PO the simulator accepts but the hub cannot map (written straight into the sim)."""
    kstate = sim.state
    previous = kstate._now
    kstate.set_now(when)
    try:
        if kstate.find("BD_Currency", number=currency) is None:
            kstate.save("BD_Currency", {"FNumber": currency, "FName": "日元", "FCode": "JPY"})
        kstate.save("PUR_PurchaseOrder", {
            "FBillNo": number, "FDate": "2026-11-22T00:00:00", "FSupplierId": {"FNumber": "SUP-001"},
            "FPurchaseOrgId": {"FNumber": "100"}, "FSettleCurrId": {"FNumber": currency},
            "FPOOrderEntry": [{"FMaterialId": {"FNumber": "1.02.0033"}, "FUnitId": {"FNumber": unit},
                               "FQty": 60, "FPrice": 3.2, "FDeliveryDate": "2026-12-10T00:00:00"}],
        })
        kstate.set_status("PUR_PurchaseOrder", [number], [], "B")
        kstate.set_status("PUR_PurchaseOrder", [number], [], "C")
    finally:
        kstate._now = previous


# ----------------------------------------------------------------------------- happy path


def test_first_sync_stores_three_purchase_orders_then_second_sync_is_a_no_op(store, sim, hook):
    counts = sync_purchase_orders(store, hook)
    assert counts == {"pulled": 3, "new_or_changed": 3, "unchanged": 0, "quarantined": 0}

    with store.session() as s:
        pos = {po.po_number: po for po in documents.current(s, "PurchaseOrder")}
        assert sorted(pos) == PO_NUMBERS
        assert {n: po.supplier_id for n, po in pos.items()} == {
            "CGDD000101": "SUP-001", "CGDD000102": "SUP-002", "CGDD000103": "SUP-001"}
        for po in pos.values():
            assert po.currency == "CNY"
            assert [line.line_no for line in po.lines] == [1, 2]
            assert {line.uom for line in po.lines} == {"H87"}
            assert all(isinstance(line.quantity, Decimal) for line in po.lines)
            assert po.source.system == "kingdee"
        assert [(l.material_id, l.quantity, l.unit_price) for l in pos["CGDD000101"].lines] == [
            ("1.02.0033", Decimal("500"), Decimal("3.2")), ("1.02.0041", Decimal("300"), Decimal("4.1"))]
        assert [(l.material_id, l.quantity) for l in pos["CGDD000102"].lines] == [
            ("1.03.0100", Decimal("1000")), ("1.02.0033", Decimal("200"))]
        assert [(l.material_id, l.quantity) for l in pos["CGDD000103"].lines] == [
            ("1.02.0041", Decimal("400")), ("1.03.0100", Decimal("800"))]
        assert str(pos["CGDD000102"].lines[1].delivery_date) == "2026-12-04"
        assert state.get(s, WATERMARK) == SEED_WATERMARK
        assert count(s, DocumentRow) == 3
        assert count(s, QuarantineRow) == 0
        inbox_rows = count(s, InboxRow)
    assert po_versions(store) == {n: 1 for n in PO_NUMBERS}

    again = sync_purchase_orders(store, hook)
    # the watermark overlap re-reads the newest bill on purpose; it is recognised, not stored again
    assert again["new_or_changed"] == 0 and again["quarantined"] == 0
    assert again["pulled"] == again["unchanged"]
    assert again["pulled"] < 3  # incremental: not everything is pulled again
    with store.session() as s:
        assert count(s, DocumentRow) == 3
        assert count(s, InboxRow) == inbox_rows
        assert state.get(s, WATERMARK) == SEED_WATERMARK
    assert po_versions(store) == {n: 1 for n in PO_NUMBERS}


def test_small_pages_give_the_same_bills(sqlite_store, sim):
    """Offset paging (page of 1 row) over 6 flat rows must neither drop nor double a line."""
    with hook_for(sim, page_size=1) as paging_hook:
        counts = sync_purchase_orders(sqlite_store, paging_hook)
    assert counts["new_or_changed"] == 3
    with sqlite_store.session() as s:
        assert {po.po_number: len(po.lines) for po in documents.current(s, "PurchaseOrder")} == {
            n: 2 for n in PO_NUMBERS}


def test_changed_po_in_kingdee_becomes_version_2_with_the_diff_audited(store, sim, hook):
    sync_purchase_orders(store, hook)
    change_first_line_qty(hook, sim, "CGDD000101", 550, when="2026-11-25T10:00:00")

    counts = sync_purchase_orders(store, hook)
    assert counts["new_or_changed"] == 1 and counts["quarantined"] == 0
    assert po_versions(store) == {"CGDD000101": 2, "CGDD000102": 1, "CGDD000103": 1}
    with store.session() as s:
        po = documents.get(s, "PurchaseOrder", "CGDD000101")
        assert [l.quantity for l in po.lines] == [Decimal("550"), Decimal("300")]
        assert state.get(s, WATERMARK) == "2026-11-25T10:00:00"
        history = audit.history(s, "PurchaseOrder", "CGDD000101")
        assert [h.action for h in history] == ["created", "new_version"]
        details = history[-1].details
        assert details["version"] == 2
        assert details["diff"] == [{"path": "lines[0].quantity", "old": "500", "new": "550"}]
        # untouched POs got no new audit entries
        assert [h.action for h in audit.history(s, "PurchaseOrder", "CGDD000102")] == ["created"]

    third = sync_purchase_orders(store, hook)
    assert third["new_or_changed"] == 0
    assert po_versions(store)["CGDD000101"] == 2


# ----------------------------------------------------------------------------- hostile bills


@pytest.mark.parametrize("kind, reason", [("unit", "UNKNOWN_UOM"), ("currency", "UNKNOWN_CURRENCY")])
def test_unmappable_po_is_quarantined_with_evidence_and_the_others_are_stored(sqlite_store, sim, hook, kind, reason):
    if kind == "unit":
        add_hostile_po(sim, "CGDD000104", unit="BOX", when="2026-11-22T09:00:00")
    else:
        add_hostile_po(sim, "CGDD000104", currency="PRE099", when="2026-11-22T09:00:00")

    counts = sync_purchase_orders(sqlite_store, hook)
    assert counts == {"pulled": 4, "new_or_changed": 3, "unchanged": 0, "quarantined": 1}
    with sqlite_store.session() as s:
        assert sorted(po.po_number for po in documents.current(s, "PurchaseOrder")) == PO_NUMBERS
        rows = quarantine.list_rows(s)
        assert len(rows) == 1
        row = rows[0]
        assert row.reason_code == reason
        assert "CGDD000104" in row.location
        assert (row.doc_type, row.business_key, row.partner) == ("PurchaseOrder", "CGDD000104", "kingdee")
        bill = row.evidence["record"]
        assert bill["FBillNo"] == "CGDD000104"
        if kind == "unit":
            assert "BOX" in row.message
            assert bill["FPOOrderEntry"][0]["FUnitId.FNumber"] == "BOX"
        else:
            assert "PRE099" in row.message
            assert bill["FSettleCurrId.FNumber"] == "PRE099"
        inbox = s.get(InboxRow, row.inbox_id)
        assert inbox.status == "quarantined" and inbox.sha256 == row.raw_sha256
        # the watermark still moves on: the bill is kept in quarantine, not lost
        assert state.get(s, WATERMARK) == "2026-11-22T09:00:00"

    # pulled again unchanged (overlap): recognised, no second quarantine row
    again = sync_purchase_orders(sqlite_store, hook)
    assert again["quarantined"] == 0
    with sqlite_store.session() as s:
        assert count(s, QuarantineRow) == 1


def test_replay_of_a_still_broken_po_reopens_its_quarantine_row(sqlite_store, sim, hook):
    add_hostile_po(sim, "CGDD000104", unit="BOX", when="2026-11-22T09:00:00")
    sync_purchase_orders(sqlite_store, hook)
    with sqlite_store.session() as s:
        (row,) = quarantine.list_rows(s)
        qid = row.id

    message = replay(sqlite_store, qid, erp=KingdeeErp(hook=hook))
    assert "still failing: row reopened" in message

    with sqlite_store.session() as s:
        rows = list(s.scalars(select(QuarantineRow)))
        assert [(r.id, r.status, r.reason_code) for r in rows] == [(qid, "open", "UNKNOWN_UOM")]
        inbox = s.get(InboxRow, rows[0].inbox_id)
        assert inbox.status == "quarantined"
        assert sorted(po.po_number for po in documents.current(s, "PurchaseOrder")) == PO_NUMBERS
        assert count(s, DocumentRow) == 3  # the replay re-stored nothing twice
    with pytest.raises(LookupError):
        replay(sqlite_store, qid + 1000, erp=KingdeeErp(hook=hook))


# ----------------------------------------------------------------------------- ERP failures


def test_wrong_password_is_fatal_and_writes_nothing(sqlite_store, sim):
    with hook_for(sim, password="not-the-password") as bad:
        with pytest.raises(FatalError) as info:
            sync_purchase_orders(sqlite_store, bad)
    assert info.value.code == "KINGDEE_LOGIN_FAILED"
    assert "not-the-password" not in str(info.value)
    with sqlite_store.session() as s:
        for table in (DocumentRow, InboxRow, QuarantineRow, StateRow, AuditRow):
            assert count(s, table) == 0, table.__tablename__


def test_http_500_on_the_query_is_retriable_and_keeps_the_watermark(sqlite_store, sim, hook):
    sync_purchase_orders(sqlite_store, hook)
    change_first_line_qty(hook, sim, "CGDD000102", 1200, when="2026-11-26T07:30:00")

    sim.state.fail_next(1, "http500", "ExecuteBillQuery")
    with pytest.raises(RetriableError) as info:
        sync_purchase_orders(sqlite_store, hook)
    assert info.value.code == "KINGDEE_UNAVAILABLE"
    with sqlite_store.session() as s:
        assert state.get(s, WATERMARK) == SEED_WATERMARK
        assert documents.current_version(s, "PurchaseOrder", "CGDD000102") == 1

    # the next run (the scheduler's retry) picks the change up from the old watermark
    counts = sync_purchase_orders(sqlite_store, hook)
    assert counts["new_or_changed"] == 1
    with sqlite_store.session() as s:
        assert state.get(s, WATERMARK) == "2026-11-26T07:30:00"
        po = documents.get(s, "PurchaseOrder", "CGDD000102")
        assert po.lines[0].quantity == Decimal("1200")
        assert documents.current_version(s, "PurchaseOrder", "CGDD000102") == 2

"""hub.flows.erp_sync: watermark + overlap, dedupe, bulk upsert, quarantine, whatever the ERP.

The ERP here is a list of records behind the ErpClient contract (an external system's answers,
including its misbehaviour: repeated records, a record changed in place); the adapters' own
tests run the same flow against the Kingdee and U9 simulators over the wire.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from canonical_model.store import audit, documents, state
from canonical_model.store.tables import InboxRow, QuarantineRow
from hub.erp import ErpRecord
from hub.errors import FatalError
from hub.flows.erp_sync import sync_entity, watermark_name

MAPPING = """
mapping: test_materials
source: json
system: kingdee
target: Material
record_key: FNumber
fields:
  material_id: {key: FNumber, required: true, crosswalk: materials}
  name: {key: FName, required: true}
  uom: {key: FBaseUnitId.FNumber, required: true, crosswalk: units}
"""


class ListErp:
    """An ERP answering ``pull`` from a list; records the ``since`` it was asked for."""

    system = "kingdee"

    def __init__(self, mapping: Path, records: list[ErpRecord]) -> None:
        self.mapping = mapping
        self.records = records
        self.asked: list[dt.datetime | None] = []

    def mapping_path(self, entity: str) -> Path:
        return self.mapping

    def pull(self, entity, since):
        self.asked.append(since)
        return iter([r for r in self.records if since is None or r.modified is None or r.modified >= since])

    def push(self, kind, document, external_number):  # pragma: no cover - not used by pulls
        raise AssertionError("pull tests do not push")

    def close(self) -> None:
        pass


def material(number: str, name: str, modified: str, uom: str = "Pcs") -> ErpRecord:
    return ErpRecord(key=number, modified=dt.datetime.fromisoformat(modified),
                     data={"FNumber": number, "FName": name, "FBaseUnitId.FNumber": uom})


@pytest.fixture()
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "BD_MATERIAL.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def count(store, table, *where) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0


def test_first_pull_stores_everything_and_sets_the_watermark(store, mapping):
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00"),
                            material("1.02.0041", "Hinge", "2026-11-21T09:30:00")])
    counts = sync_entity(store, erp, "materials")
    assert counts.line() == "fetched=2 new=2 changed=0 unchanged=0 quarantined=0"
    assert erp.asked == [None]
    with store.session() as s:
        assert state.get(s, watermark_name("kingdee", "materials")) == "2026-11-21T09:30:00"
        assert documents.get(s, "Material", "1.02.0041").name == "Hinge"


def test_next_pull_starts_at_watermark_minus_overlap_and_counts_rereads_unchanged(store, mapping, monkeypatch):
    monkeypatch.setenv("HUB_ERP_OVERLAP_MINUTES", "10")
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00"),
                            material("1.02.0041", "Hinge", "2026-11-21T09:30:00")])
    sync_entity(store, erp, "materials")
    # the ERP writes a record with a timestamp just before the watermark (long transaction)
    erp.records.append(material("1.03.0100", "Screw", "2026-11-21T09:25:00"))
    counts = sync_entity(store, erp, "materials")
    assert erp.asked[-1] == dt.datetime(2026, 11, 21, 9, 20)
    assert counts.line() == "fetched=2 new=1 changed=0 unchanged=1 quarantined=0"
    # a third run with nothing new stores nothing and audits nothing new
    with store.session() as s:
        before = len(audit.history(s, "Material", "1.02.0041"))
    assert sync_entity(store, erp, "materials").line() == "fetched=2 new=0 changed=0 unchanged=2 quarantined=0"
    with store.session() as s:
        assert len(audit.history(s, "Material", "1.02.0041")) == before


def test_a_changed_record_becomes_a_new_version_with_its_diff(store, mapping):
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00")])
    sync_entity(store, erp, "materials")
    erp.records = [material("1.02.0033", "Bracket, zinc plated", "2026-11-22T08:00:00")]
    assert sync_entity(store, erp, "materials").line() == "fetched=1 new=0 changed=1 unchanged=0 quarantined=0"
    with store.session() as s:
        assert documents.current_version(s, "Material", "1.02.0033") == 2
        last = audit.history(s, "Material", "1.02.0033")[-1]
        assert last.details["diff"] == [{"path": "name", "old": "Bracket", "new": "Bracket, zinc plated"}]
        assert state.get(s, watermark_name("kingdee", "materials")) == "2026-11-22T08:00:00"


def test_repeated_records_in_one_pull_are_stored_once(store, mapping):
    record = material("1.02.0033", "Bracket", "2026-11-20T10:00:00")
    erp = ListErp(mapping, [record, record, material("1.02.0041", "Hinge", "2026-11-20T10:00:00"), record])
    counts = sync_entity(store, erp, "materials", batch_size=2)  # the repeat spans batches too
    assert counts.line() == "fetched=4 new=2 changed=0 unchanged=2 quarantined=0"
    assert count(store, InboxRow) == 2


def test_unknown_codes_are_quarantined_with_the_record_and_the_rest_goes_on(store, mapping):
    erp = ListErp(mapping, [material("9.99.9999", "Ghost", "2026-11-20T10:00:00"),
                            material("1.02.0041", "Hinge", "2026-11-20T10:00:00", uom="Furlong")])
    erp.records.append(material("1.02.0033", "Bracket", "2026-11-20T10:00:00"))
    counts = sync_entity(store, erp, "materials")
    assert counts.line() == "fetched=3 new=1 changed=0 unchanged=0 quarantined=2"
    with store.session() as s:
        rows = {r.reason_code: r for r in s.scalars(select(QuarantineRow))}
    assert set(rows) == {"UNKNOWN_MATERIAL", "UNKNOWN_UOM"}
    ghost = rows["UNKNOWN_MATERIAL"]
    assert ghost.business_key == "9.99.9999" and "9.99.9999" in ghost.location
    assert ghost.evidence["record"]["FName"] == "Ghost" and ghost.raw_sha256
    # pulled again unchanged: not a second quarantine row, not processed twice
    assert sync_entity(store, erp, "materials").quarantined == 0
    assert count(store, QuarantineRow) == 2


def test_since_overrides_the_watermark_without_moving_it_back(store, mapping):
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00"),
                            material("1.02.0041", "Hinge", "2026-11-21T09:30:00")])
    sync_entity(store, erp, "materials")
    counts = sync_entity(store, erp, "materials", since=dt.datetime(2026, 1, 1))
    assert erp.asked[-1] == dt.datetime(2026, 1, 1) and counts.unchanged == 2
    with store.session() as s:
        assert state.get(s, watermark_name("kingdee", "materials")) == "2026-11-21T09:30:00"


def test_unknown_entity_is_fatal(store, mapping):
    with pytest.raises(FatalError) as exc:
        sync_entity(store, ListErp(mapping, []), "customers")
    assert exc.value.code == "ERP_UNKNOWN_ENTITY"


def test_bad_overlap_setting_is_fatal(store, mapping, monkeypatch):
    erp = ListErp(mapping, [material("1.02.0033", "Bracket", "2026-11-20T10:00:00")])
    sync_entity(store, erp, "materials")
    monkeypatch.setenv("HUB_ERP_OVERLAP_MINUTES", "five")
    with pytest.raises(FatalError) as exc:
        sync_entity(store, erp, "materials")
    assert exc.value.code == "ERP_SETTING_INVALID"

"""Every real X12 sample in the shared corpus parses, or fails with its documented error.

The samples are not committed (licences, see SOURCES.md): read from HUB_EDI_CORPUS (default
``<repo>/../shared/edi-samples``), skipped when absent. A new sample without an expectation
below fails the test.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.edi.x12 import parse_interchanges
from hub.translate import translate

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", REPO.parent / "shared" / "edi-samples")) / "x12"

# file -> ([(set id, segment count)...], [(error code, where suffix)], documents translated, document type)
EXPECTED = {
    "810_004010_simple.edi": ([("810", 32), ("810", 22)], [], 2, "Invoice"),
    # 80-column wraps joined: SE says 36 and there are 36
    "830_004010UCS_planning-schedule_wrapped-80-columns.x12": ([("830", 36)], [], 0, None),
    "846_004010_EMS-manufacturing_tilde-element-sep_brace-terminator.txt": ([("846", 16)], [], 1, "InventoryReport"),
    "850_004010VICS_retail.edi": ([("850", 33)], [], 0, None),
    "850_004010_glass-manufacturer_pipe-terminator_bom-indented.txt": ([("850", 36)], [], 0, None),
    "850_004010_newline-as-segment-terminator.x12": ([("850", 9)], [], 0, None),
    "855_004010UCS_grocery_crlf.x12": ([("855", 36), ("855", 11), ("855", 11), ("855", 27), ("855", 32), ("855", 11)],
                                       [], 6, "OrderResponse"),
    "855_004010_manufacturer-to-retailer_bom_GE-count-mismatch.txt": (
        [("855", 10)], [("GE_COUNT_MISMATCH", "segment 13 (GE, line 13)")], 1, "OrderResponse"),
    "856_004010_pack-level-SSCC_crlf.x12": ([("856", 190)], [], 1, "ShipmentNotice"),
    "856_004060_retail.edi": ([("856", 31)], [], 1, "ShipmentNotice"),
    "861_004010_receiving-advice_bom.txt": ([("861", 9)], [("GE_COUNT_MISMATCH", "segment 12 (GE, line 12)")], 1, "Receipt"),
    "997_004010_accept-850.x12": ([("997", 6)], [], 0, None),
}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"EDI corpus not found at {CORPUS}")


def corpus_files():
    return sorted(p.name for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def test_every_corpus_file_has_an_expectation():
    assert set(corpus_files()) == set(EXPECTED)


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file_parses(name):
    sets, errors, _, _ = EXPECTED[name]
    got, got_errors = [], []
    with open(CORPUS / name, "rb") as fh:
        for inter in parse_interchanges(fh, name, chunk_size=1024):
            got += [(t.set_id, len(t.segments)) for t in inter.iter_transactions() if not t.errors]
            got_errors += [(e.code, e.where) for e in inter.errors]
    assert got == sets
    assert got_errors == [(code, f"{name}:{where}") for code, where in errors]


@pytest.mark.parametrize("name", [n for n in corpus_files() if EXPECTED.get(n, (0, 0, 0))[2]])
def test_corpus_file_translates(name):
    _, errors, count, doc_type = EXPECTED[name]
    result = translate((CORPUS / name).read_bytes(), name)
    assert len(result.documents) == count and {d.type for d in result.documents} == {doc_type}
    assert [e.code for e in result.errors] == [code for code, _ in errors]
    assert result.control_ref

"""Conformance: what the hub does with every real sample in the shared EDI corpus.

tests/adapters/edi/test_corpus*.py check the codec per file (segments, envelopes). This test
is one level up, at what a supplier file turns into: ``hub.translate.translate`` (documents per
canonical type, located errors, warnings; the strict charset policy too where the quirk is a
charset mismatch), the validation rules that decide what lands in quarantine, ``hub edi ack``
(the CONTRL / 997 the hub would send, read back with our own reader) and, for CONTRL / 997
files, recognition as acknowledgements instead of business documents.

docs/conformance.md is the human-readable version of ``EXPECTED``; change both together.

The samples are not committed (several have no or copyleft licences, see SOURCES.md). They are
read from ``HUB_EDI_CORPUS`` (default ``<repo>/../shared/edi-samples``). Without the folder the
module skips, except when the ``CI`` environment variable is set: CI must run it, so there a
missing corpus fails. A file in the corpus without a row in ``EXPECTED`` fails too, so a new
sample cannot be silently ignored.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest
from typer.testing import CliRunner

from adapters.edi import acks as edi_acks
from adapters.edi.edifact import UTF8_BOM, detect_format
from hub.cli import app
from hub.translate import TranslateResult, translate
from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", REPO.parent / "shared" / "edi-samples"))
# the provenance table, not a sample
NOT_SAMPLES = {"SOURCES.md"}

if not CORPUS.is_dir() and not os.environ.get("CI"):
    pytest.skip(f"EDI corpus not found at {CORPUS} (set HUB_EDI_CORPUS); CI runs this test",
                allow_module_level=True)


@dataclass(frozen=True)
class Outcome:
    """What the hub does with one sample.

    ``errors`` / ``strict_errors``: (code, where after ``FILE:``) in the order translate reports
    them. ``warnings``: counted by kind, ``charset`` (declared charset did not match, decoded as
    UTF-8) or ``nearest:<mapping>`` (no mapping for that release, the nearest one used); any
    other warning fails the test until it is added here. ``quarantine_rules``: codes of the
    validation failures the documents get with no store view (what the inbound flow quarantines
    on top of ``errors``). ``ack``: exit code of ``hub edi ack`` and the standard error codes it
    reports (0085 for CONTRL, AK9/AK5 for 997); ``ack_results``: per acknowledgement it prints,
    its result as our reader gives it back. ``ack_file``: the file *is* an acknowledgement.
    """

    fmt: Optional[str]
    docs: dict[str, int] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()
    warnings: dict[str, int] = field(default_factory=dict)
    strict_docs: Optional[dict[str, int]] = None  # None: strict is not checked (no charset quirk)
    strict_errors: tuple[tuple[str, str], ...] = ()
    quarantine_rules: tuple[str, ...] = ()
    ack: tuple[int, tuple[str, ...]] = (0, ())
    ack_results: tuple[str, ...] = ("accepted",)
    ack_file: Optional[str] = None
    check: Optional[Callable[[TranslateResult], None]] = None


# ----------------------------------------------------------------- per-sample content checks
def _sscc_on_every_line(result: TranslateResult) -> None:
    (asn,) = result.documents
    assert len(asn.lines) == 58
    # MAN*GM at pack level (HL P) is inherited by the items under it
    assert all(line.package_id and line.package_id.isdigit() for line in asn.lines)
    assert {line.package_id for line in asn.lines} >= {"0000123456781234567891", "0000123456781234567892"}


def _desadv_pack_hierarchy(result: TranslateResult) -> None:
    _, second, third = result.documents
    assert [len(d.lines) for d in result.documents] == [2, 4, 1]
    # message 8: CPS/PAC/GIN+BJ SSCC, batch and expiry reach every line of the pack
    assert {(ln.package_id, ln.batch_number, str(ln.expiry_date)) for ln in second.lines} == {
        ("354123450000000014", "BATCHNUMBERPAC", "1999-12-31")}
    assert third.lines[0].batch_number == "BATCHNUMBER"


def _custom_una_invoice(result: TranslateResult) -> None:
    (invoice,) = result.documents
    assert (invoice.invoice_number, invoice.po_number, str(invoice.total_amount)) == ("342459", "521052", "2137.58")
    assert [str(line.unit_price) for line in invoice.lines] == ["1.179", "20.5"]


def _two_interchanges(result: TranslateResult) -> None:
    assert [d.source.interchange_ref for d in result.documents] == [
        "T0000000004-1", "T0000000004-1", "T0000000004-2"]
    assert result.control_ref == "T0000000004-1"  # the first interchange's, for dedupe


def _gmi021_repeats_itself(result: TranslateResult) -> None:
    a, b = result.documents
    # same UNH reference, same BGM number: the second is the same ASN again, not a new one
    assert a.business_key == b.business_key == "0048202147/20171229"
    assert a.source.message_ref == b.source.message_ref == "2266"
    assert str(a.expected_arrival) < str(a.ship_date)


def _same_invoice_number_twice(result: TranslateResult) -> None:
    a, b = result.documents
    # BIG02 is 00001 in both sets (different dates and POs): one business key, so the store
    # keeps the second as a new version of the first (see docs/conformance.md)
    assert a.business_key == b.business_key
    assert (a.po_number, b.po_number) == ("A99999-01", "A99999-04")


def _utf8_text_in_unoa(result: TranslateResult) -> None:
    (receipt,) = result.documents
    assert (receipt.receipt_id, receipt.supplier_id) == ("20220808112809950", "FR21")


WHERE_UNOC = "segment 7 (NAD, line 8)"
EXPECTED: dict[str, Outcome] = {
    # ---------------------------------------------------------------- EDIFACT
    "edifact/CONTRL_v4_syntax-ack_bom-crlf.txt": Outcome(
        "edifact",
        errors=(("UNSUPPORTED_MESSAGE", "segment 2 (UNH, line 2)"),
                ("UNSUPPORTED_MESSAGE", "segment 5 (UNH, line 5)")),
        ack=(2, ("IS_AN_ACK",)), ack_results=(), ack_file="CONTRL"),
    "edifact/DESADV_96A_nonstandard-version-0_no-UNA.edi": Outcome(
        "edifact", errors=(("UNKNOWN_MESSAGE_FUNCTION", "segment 3 (BGM, line 3)"),),
        warnings={"nearest:DESADV_D96A": 1}),
    "edifact/DESADV_D07A_GMI021_automotive.edifact": Outcome(
        "edifact", docs={"ShipmentNotice": 2}, warnings={"nearest:DESADV_D96A": 2},
        quarantine_rules=("DATE_ORDER", "DATE_ORDER"), check=_gmi021_repeats_itself),
    "edifact/DESADV_D96A_EAN005_retail.edi": Outcome(
        "edifact", docs={"ShipmentNotice": 3}, check=_desadv_pack_hierarchy),
    "edifact/INVOIC_D96A_EAN008_retail.edi": Outcome("edifact", docs={"Invoice": 1}),
    "edifact/INVOIC_D97A_automotive-vauxhall.edi": Outcome(
        "edifact", errors=(("BAD_VALUE", "segment 4 (DTM, line 4)"),)),
    "edifact/INVOIC_D97B_engine-plant_custom-UNA-delimiters.edi": Outcome(
        "edifact", docs={"Invoice": 1}, warnings={"nearest:INVOIC_D97A": 1}, check=_custom_una_invoice),
    "edifact/ORDERS_D01B_EAN010_UNOC-with-utf8-bytes.edi": Outcome(
        "edifact", errors=(("UNKNOWN_UOM", "segment 17 (QTY, line 18)"),),
        warnings={"nearest:ORDERS_D96A": 1, "charset": 61},
        strict_docs={}, strict_errors=(("CHARSET_MISMATCH", WHERE_UNOC),)),
    "edifact/ORDERS_D96A_EAN008_amazon-vendor-retail.txt": Outcome("edifact", docs={"PurchaseOrder": 1}),
    "edifact/ORDERS_D96A_EAN008_multi-message_mixed-CRLF-LF.edi": Outcome(
        "edifact", docs={"PurchaseOrder": 3}, ack_results=("accepted", "accepted"), check=_two_interchanges),
    "edifact/ORDERS_D96A_EAN008_pydifact.edi": Outcome(
        "edifact", docs={"PurchaseOrder": 1}, errors=(("MISSING_UNZ", "segment 17 (UNT, line 18)"),),
        ack=(1, ("CONTRL code 13",)), ack_results=("rejected",)),
    "edifact/ORDERS_D96A_EAN008_wrapped-80-columns.edi": Outcome("edifact", docs={"PurchaseOrder": 1}),
    "edifact/ORDERS_D96B_EAN008_with-UNG-group_no-trailing-newline.edi": Outcome(
        "edifact", errors=(("UNT_COUNT_MISMATCH", "segment 20 (UNT, line 20)"),),
        ack=(1, ("CONTRL message 1 code 29",)), ack_results=("rejected",)),
    "edifact/ORDERS_D97A_UNA-release-char-bang.edifact": Outcome(
        "edifact", errors=(("MISSING_FIELD", "segment 2 (UNH, line 3)"),), warnings={"nearest:ORDERS_D96A": 1}),
    "edifact/ORDRSP_D96A_EAN005_wholesale_mixed-utf8-latin1.edi": Outcome(
        "edifact", errors=(("UNT_COUNT_MISMATCH", "segment 21 (UNT, line 22)"),), warnings={"charset": 1},
        strict_docs={}, strict_errors=(("CHARSET_MISMATCH", WHERE_UNOC),),
        ack=(1, ("CONTRL message 1 code 29",)), ack_results=("rejected",)),
    "edifact/ORDRSP_D96A_EAN009_bom-crlf.txt": Outcome("edifact", docs={"OrderResponse": 1}),
    "edifact/RECADV_D01B_EAN007_UNOA-with-utf8-and-release-char.txt": Outcome(
        "edifact", docs={"Receipt": 1}, warnings={"charset": 1},
        strict_docs={}, strict_errors=(("CHARSET_MISMATCH", "segment 10 (NAD, line 11)"),),
        check=_utf8_text_in_unoa),
    # ---------------------------------------------------------------- X12
    "x12/810_004010_simple.edi": Outcome("x12", docs={"Invoice": 2}, check=_same_invoice_number_twice),
    "x12/830_004010UCS_planning-schedule_wrapped-80-columns.x12": Outcome(
        "x12", errors=(("UNSUPPORTED_MESSAGE", "segment 3 (ST, line 3)"),)),
    "x12/846_004010_EMS-manufacturing_tilde-element-sep_brace-terminator.txt": Outcome(
        "x12", docs={"InventoryReport": 1}),
    "x12/850_004010VICS_retail.edi": Outcome("x12", errors=(("UNSUPPORTED_MESSAGE", "segment 3 (ST, line 3)"),)),
    "x12/850_004010_glass-manufacturer_pipe-terminator_bom-indented.txt": Outcome(
        "x12", errors=(("UNSUPPORTED_MESSAGE", "segment 3 (ST, line 3)"),)),
    "x12/850_004010_newline-as-segment-terminator.x12": Outcome(
        "x12", errors=(("UNSUPPORTED_MESSAGE", "segment 3 (ST, line 3)"),)),
    "x12/855_004010UCS_grocery_crlf.x12": Outcome("x12", docs={"OrderResponse": 6}),
    "x12/855_004010_manufacturer-to-retailer_bom_GE-count-mismatch.txt": Outcome(
        "x12", docs={"OrderResponse": 1}, errors=(("GE_COUNT_MISMATCH", "segment 13 (GE, line 13)"),),
        ack=(1, ("997 code 5",)), ack_results=("rejected",)),
    "x12/856_004010_pack-level-SSCC_crlf.x12": Outcome(
        "x12", docs={"ShipmentNotice": 1}, check=_sscc_on_every_line),
    "x12/856_004060_retail.edi": Outcome("x12", docs={"ShipmentNotice": 1}, warnings={"nearest:856_004010": 1}),
    "x12/861_004010_receiving-advice_bom.txt": Outcome(
        "x12", docs={"Receipt": 1}, errors=(("GE_COUNT_MISMATCH", "segment 12 (GE, line 12)"),),
        ack=(1, ("997 code 5",)), ack_results=("rejected",)),
    "x12/997_004010_accept-850.x12": Outcome(
        "x12", errors=(("UNSUPPORTED_MESSAGE", "segment 3 (ST, line 3)"),),
        ack=(2, ("IS_AN_ACK",)), ack_results=(), ack_file="997"),
    # ---------------------------------------------------------------- not supported yet
    "vda/VDA4905_delivery-call-off_automotive.edi": Outcome(
        None, errors=(("UNKNOWN_FORMAT", "line 1"),), ack=(2, ("UNKNOWN_FORMAT",)), ack_results=()),
    "csv/purchase-order_flat_bom.csv": Outcome(
        None, errors=(("MISSING_COLUMN", "row 1"),), ack=(2, ("UNKNOWN_FORMAT",)), ack_results=()),
    "csv/supplier-invoice_detail.csv": Outcome(
        None, errors=(("NO_HEADER_ROW", "row 1"),), ack=(2, ("UNKNOWN_FORMAT",)), ack_results=()),
    "csv/supplier-invoice_header.csv": Outcome(
        None, errors=(("NO_HEADER_ROW", "row 1"),), ack=(2, ("UNKNOWN_FORMAT",)), ack_results=()),
}


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                  if p.is_file() and p.name not in NOT_SAMPLES)


def read_sample(rel: str) -> bytes:
    path = CORPUS / rel
    if not path.is_file():
        pytest.fail(f"{path} is missing: CI must run the conformance test against the corpus "
                    "(set HUB_EDI_CORPUS or put shared/edi-samples beside the repo)")
    return path.read_bytes()


def warning_kinds(warnings: list[str]) -> Counter:
    kinds: Counter = Counter()
    for text in warnings:
        if "but bytes are UTF-8; decoded as UTF-8" in text:
            kinds["charset"] += 1
        elif "(nearest release)" in text or "(nearest version)" in text:
            kinds["nearest:" + text.rsplit("; used ", 1)[1].split(" ", 1)[0]] += 1
        else:
            kinds[text] += 1  # a new kind of warning: shows up verbatim in the diff
    return kinds


def located(result: TranslateResult, name: str) -> list[tuple[str, str]]:
    prefix = f"{name}:"
    for error in result.errors:
        assert error.where.startswith(prefix), f"{error.code} is not located in the file: {error.where!r}"
    return [(e.code, e.where[len(prefix):]) for e in result.errors]


def test_the_table_covers_exactly_the_corpus():
    assert CORPUS.is_dir(), f"EDI corpus not found at {CORPUS}; CI must run the conformance test"
    present = set(corpus_files())
    assert sorted(present - set(EXPECTED)) == [], "new samples: add a row to EXPECTED and docs/conformance.md"
    assert sorted(set(EXPECTED) - present) == [], "samples gone from the corpus: remove their rows"


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_sample_translates_as_documented(rel: str):
    data, name, want = read_sample(rel), Path(rel).name, EXPECTED[rel]
    assert detect_format(data[:512].removeprefix(UTF8_BOM).lstrip(b" \t\r\n")) == want.fmt

    result = translate(data, name, None, charset_policy="lenient")
    assert dict(Counter(d.type for d in result.documents)) == want.docs
    assert located(result, name) == list(want.errors)
    assert warning_kinds(result.warnings) == Counter(want.warnings)
    # every document that comes out names its file, so quarantine and audit can point back
    assert all(d.source.file == name for d in result.documents)
    if want.check:
        want.check(result)

    # what the inbound flow adds to quarantine after translate: the validation rules that need
    # no store (cross-document rules need open PO lines and are covered in tests/e2e)
    ctx = ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS)
    failures = [f.to_error().code for d in result.documents for f in validate([d], ctx).failures]
    assert tuple(failures) == want.quarantine_rules

    if want.strict_docs is not None:
        strict = translate(data, name, None, charset_policy="strict")
        assert dict(Counter(d.type for d in strict.documents)) == want.strict_docs
        assert located(strict, name) == list(want.strict_errors)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_sample_ack_as_documented(rel: str):
    """``hub edi ack``: exit code, the standard codes on stderr, and the printed CONTRL / 997
    read back by our own reader (the hub's view of what the partner would receive)."""
    want = EXPECTED[rel]
    read_sample(rel)
    path = CORPUS / rel
    run = CliRunner().invoke(app, ["edi", "ack", str(path)])
    exit_code, codes = want.ack
    assert run.exit_code == exit_code, run.stderr
    for code in codes:
        assert code in run.stderr
    if exit_code == 2:
        assert run.stdout == ""
        return
    printed = edi_acks.read_acks(run.stdout.encode("latin-1"), "ack-out")
    assert tuple(a.result for a in printed) == want.ack_results
    # a rejection says why; an acceptance has nothing on stderr
    assert bool(run.stderr.strip()) == (exit_code == 1)


@pytest.mark.parametrize("rel", sorted(r for r, o in EXPECTED.items() if o.ack_file))
def test_ack_samples_are_recognised_as_acknowledgements(rel: str):
    """CONTRL / 997 answer something we sent: the inbound flow routes them to the interchange
    register (hub.flows.acks) instead of translate, which has no mapping for them."""
    data, want = read_sample(rel), EXPECTED[rel]
    assert edi_acks.is_ack_file(data) == want.ack_file
    read = edi_acks.read_acks(data, Path(rel).name)
    assert read and all(a.kind == want.ack_file for a in read)
    if want.ack_file == "CONTRL":
        # syntax 4 CONTRL, UCI action 8 "interchange received", twice (two messages)
        assert [(a.interchange_ref, a.result) for a in read] == [("131", "received"), ("131", "received")]
    else:
        (ack,) = read
        assert (ack.group_ref, ack.result) == ("214", "accepted")
        assert [(m.ref, m.type, m.status) for m in ack.messages] == [("000000390", "850", "accepted")]


@pytest.mark.parametrize("rel", sorted(r for r, o in EXPECTED.items() if not o.ack_file))
def test_business_samples_are_not_taken_for_acknowledgements(rel: str):
    assert edi_acks.is_ack_file(read_sample(rel)) is None

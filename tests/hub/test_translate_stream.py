"""hub.translate.iter_translate: documents and errors message by message, with bounded memory.

Fixtures are generated here (no partner samples copied). Memory is checked with tracemalloc
(Python allocations, deterministic), never with timings.
"""
from __future__ import annotations

import gc
import io
import tracemalloc
from pathlib import Path

import pytest

from canonical_model.documents import ShipmentNotice
from hub.errors import HubError
from hub.translate import iter_translate, translate

UNB = "UNB+UNOC:3+4012345000009:14+6901234000004:14+261124:0815+ICR7"


def _desadv(n: int, lines: int = 3, unt: int | None = None) -> list[str]:
    segs = [f"UNH+{n}+DESADV:D:96A:UN:EAN005", f"BGM+351+ASN{n:07d}+9", "DTM+11:20261124:102",
            "NAD+SU+4012345000009::9", "CPS+1", "PAC+1", "PCI+33E", f"GIN+BJ+3401234500{n:08d}"]
    for ln in range(1, lines + 1):
        segs += [f"LIN+{ln}++1.02.{ln:04d}:IN", f"QTY+12:{ln * 3}:PCE", f"RFF+ON:PO{n:06d}", f"RFF+LI:{ln}",
                 "DTM+36:20271231:102"]
    return segs + [f"UNT+{unt if unt is not None else len(segs) + 1}+{n}"]


def _edifact_file(messages: int, bad: frozenset[int] = frozenset()) -> bytes:
    segs = [UNB]
    for n in range(1, messages + 1):
        segs += _desadv(n, unt=3 if n in bad else None)
    segs.append(f"UNZ+{messages}+ICR7")
    return ("UNA:+.? '\n" + "".join(s + "'\n" for s in segs)).encode("latin-1")


def _x12_file(sets: int) -> bytes:
    out = ["ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     "
           "*261124*0815*U*00401*000000007*0*P*>", "GS*SH*SENDERID*RECEIVERID*20261124*0815*7*X*004010"]
    for n in range(1, sets + 1):
        segs = [f"ST*856*{n:04d}", f"BSN*00*ASN{n:07d}*20261124*0815", "DTM*011*20261124", "HL*1**S",
                "N1*SU*Supplier*92*SUP01", "HL*2*1*O", f"PRF*PO{n:06d}", "HL*3*2*P", f"MAN*GM*00{n:018d}",
                "HL*4*3*I", f"LIN*1*BP*MAT-{n:05d}*LT*LOT{n:04d}", "SN1**12*EA"]
        out += segs + [f"SE*{len(segs) + 1}*{n:04d}"]
    out += [f"GE*{sets}*7", "IEA*1*000000007"]
    return "".join(s + "~\n" for s in out).encode("ascii")


def _split(items) -> tuple[list, list[HubError]]:
    docs, errors = [], []
    for item in items:
        (errors if isinstance(item, HubError) else docs).append(item)
    return docs, errors


@pytest.mark.parametrize("make, name", [(lambda: _edifact_file(40, bad=frozenset({7, 30})), "asn.edi"),
                                        (lambda: _x12_file(40), "asn.x12")])
def test_stream_gives_what_translate_gives_in_the_same_order(make, name):
    data = make()
    whole = translate(data, name, partner="SUP-X")
    stream = iter_translate(io.BytesIO(data), name, partner="SUP-X")
    docs, errors = _split(stream)
    assert [d.model_dump() for d in docs] == [d.model_dump() for d in whole.documents]
    assert [e.as_line() for e in errors] == [e.as_line() for e in whole.errors]
    assert stream.warnings == whole.warnings
    assert stream.control_ref == whole.control_ref and stream.control_ref is not None


def test_a_broken_message_is_an_error_between_its_neighbours_documents():
    data = _edifact_file(10, bad=frozenset({4}))
    docs, errors = _split(iter_translate(io.BytesIO(data), "in/asn.edi"))
    assert len(docs) == 9 and all(isinstance(d, ShipmentNotice) for d in docs)
    assert "ASN0000004" not in {d.asn_number for d in docs}
    assert [e.code for e in errors] == ["UNT_COUNT_MISMATCH"]
    assert errors[0].where.startswith("in/asn.edi:segment ")


def test_documents_come_out_before_the_file_is_read_to_the_end(tmp_path: Path):
    path = tmp_path / "big.edi"
    path.write_bytes(_edifact_file(600))
    size = path.stat().st_size
    with path.open("rb") as fh:
        first = next(iter(iter_translate(fh, "big.edi")))
        # the first message was mapped after reading about one chunk, not the whole file
        assert isinstance(first, ShipmentNotice) and first.asn_number == "ASN0000001"
        assert fh.tell() < size / 3


@pytest.mark.parametrize("make, name", [(_edifact_file, "asn.edi"), (_x12_file, "asn.x12")])
def test_memory_stays_flat_when_the_file_grows(tmp_path: Path, make, name):
    def peak(messages: int) -> tuple[int, int]:
        path = tmp_path / f"{messages}-{name}"
        path.write_bytes(make(messages))
        count = 0
        gc.collect()
        tracemalloc.start()
        try:
            with path.open("rb") as fh:
                for item in iter_translate(fh, name):
                    assert not isinstance(item, HubError), item.as_line()
                    count += 1
            return tracemalloc.get_traced_memory()[1], count
        finally:
            tracemalloc.stop()

    small, n_small = peak(250)
    large, n_large = peak(2500)
    assert (n_small, n_large) == (250, 2500)
    # Kept in a list, 2500 documents take well over 10 MB (measured: 16 MB EDIFACT, 10 MB
    # X12 via translate()); streamed, the peak is a read chunk plus one message and its
    # document, plus what the first run loads (mappings, crosswalks) and some cyclic garbage
    # the collector has not reached yet - a few MB at most, whatever the file size.
    assert large < 4_000_000
    assert large < small + 3_000_000

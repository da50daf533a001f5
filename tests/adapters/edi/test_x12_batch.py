"""The X12 batch path (whole buffer split at once) reads exactly what the careful path reads.

A file in the common shape (one segment per line, ASCII) takes the batch path; the same
segments with a blank before each (leading noise the batch path refuses) take the careful
path one segment at a time. Both must give the same segments, lines, indices and errors,
whatever the chunk size (batches then start and end in arbitrary places).
"""
from __future__ import annotations

import pytest

from adapters.edi.x12 import parse_interchanges


def _file(sets: int, sep: str, bad_count_at: int = 0) -> bytes:
    out = ["ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     "
           "*261124*0815*U*00401*000000009*0*P*>", "GS*SH*SENDERID*RECEIVERID*20261124*0815*9*X*004010"]
    for n in range(1, sets + 1):
        segs = [f"ST*856*{n:04d}", f"BSN*00*ASN{n:05d}*20261124*0815", "HL*1**S", "TD1*CTN25*2",
                "HL*2*1*I", f"LIN*1*BP*MAT>{n}*LT*LOT{n}", "SN1**12*EA", "b@d*1"]
        count = len(segs) + 1 + (1 if n == bad_count_at else 0)
        out += segs + [f"SE*{count}*{n:04d}"]
    out += [f"GE*{sets}*9", "IEA*1*000000009",
            # a second interchange with other delimiters: the batch must stop at IEA
            "ISA|00|          |00|          |ZZ|SENDERID       |ZZ|RECEIVERID     "
            "|261124|0815|U|00401|000000010|0|P|^"]
    first = "".join(s + "~" + sep for s in out[:-1]) + out[-1]
    second = "!".join(["", "GS|SH|A|B|20261124|0815|1|X|004010", "ST|856|0001", "BSN|00|X^Y|20261124|0815",
                       "SE|3|0001", "GE|1|1", "IEA|1|000000010", ""])
    return (first + second + "\n").encode("ascii")


def _read(data: bytes, chunk_size: int) -> list:
    out = []
    for inter in parse_interchanges(data, "f.x12", chunk_size=chunk_size):
        for txn in inter.iter_transactions():
            out.append([(s.tag, s.elements, s.line, s.index) for s in txn.segments])
            out.append([e.as_line() for e in txn.errors])
        out.append((inter.control_ref, inter.delimiters, [e.as_line() for e in inter.errors], inter.warnings))
    return out


@pytest.mark.parametrize("chunk_size", [7, 100, 4096, 65536])
def test_batch_and_careful_paths_agree(chunk_size):
    batch = _read(_file(60, "\n", bad_count_at=17), chunk_size)
    careful = _read(_file(60, "\n ", bad_count_at=17), chunk_size)  # a blank before each segment
    assert batch == careful
    # the content is really there: 60 + 1 transaction sets, the bad tag and the bad count reported
    assert len([x for x in batch if isinstance(x, list) and x and isinstance(x[0], tuple)]) == 61
    first_errors = next(x for x in batch if isinstance(x, tuple))[2]
    assert sum("SYNTAX_ERROR" in e for e in first_errors) == 60
    assert sum("SE_COUNT_MISMATCH" in e for e in first_errors) == 1


@pytest.mark.parametrize("sep", ["\r\n", ""])
def test_crlf_and_single_line_files_agree_with_the_careful_path(sep):
    batch = _read(_file(5, sep), 65536)
    careful = _read(_file(5, sep + " "), 65536)
    assert batch == careful
    lines = {s[2] for x in batch if isinstance(x, list) and x and isinstance(x[0], tuple) for s in x}
    # 5 sets of 9 segments from line 3; the second interchange sits on one line after IEA
    assert lines == ({1} if sep == "" else set(range(3, 3 + 5 * 9)) | {50})

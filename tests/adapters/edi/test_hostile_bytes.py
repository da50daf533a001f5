"""Inputs the accelerator's comparison tests (test_speedups.py) found crashing both paths with
something other than the codec's own errors; kept here so they run without the build too."""
from __future__ import annotations

import pytest

from adapters.edi import edifact, x12
from adapters.edi.segments import use_speedups

ISA = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240301*1200*^*00501*"
       "000000001*0*P*>~\n")


@pytest.fixture(params=[False, True], ids=["pure", "accelerated"])
def path(request):
    previous = use_speedups(request.param)
    yield
    use_speedups(previous)


def test_edifact_counts_with_non_ascii_digits_are_mismatches_not_crashes(path):
    # '²' (latin-1 0xB2) passes str.isdigit() but not int()
    data = "UNB+UNOC:3+S+R+240101:1200+R1'\nUNH+1+X:D:96A:UN'\nUNT+2²+1'\nUNZ+1²+R1'\n".encode("latin-1")
    inter = edifact.parse_interchange(data, "f.edi")
    (msg,) = inter.iter_messages()
    assert [e.code for e in msg.errors] == ["UNT_COUNT_MISMATCH"]
    assert [e.code for e in inter.errors] == ["UNT_COUNT_MISMATCH", "UNZ_COUNT_MISMATCH"]
    assert inter.errors[1].where == "f.edi:segment 4 (UNZ, line 4)"


def test_x12_control_numbers_with_non_ascii_digits_are_mismatches_not_crashes(path):
    data = (ISA + "GS*SH*S*R*20240301*1200*7*X*005010~\nST*856*0001~\nSE*2*0001~\nGE*1*7~\n"
            "IEA*1*0000²0001~\n").encode("latin-1")
    inter = x12.parse_interchange(data, "f.x12")
    assert len(inter.transactions()) == 1
    assert [e.code for e in inter.errors] == ["IEA_REF_MISMATCH"]
    assert inter.errors[0].where == "f.x12:segment 6 (IEA, line 6)"


@pytest.mark.parametrize("chunk", [1, 64, 65536])
def test_x12_non_ascii_terminator_with_one_segment_per_batch(path, chunk):
    # 0x85 as terminator: a batch of a single segment is ASCII, its separator is not
    isa = ISA.replace("*^*", "*!*").replace("*", "|").replace(">~\n", "^\x85\n")
    data = (isa + "GS|SH|S|R|20240301|1200|7|X|004010\x85\nST|856|0001\x85\nSE|2|0001\x85\nGE|1|7\x85\n"
            "IEA|1|000000001\x85\n").encode("latin-1")
    inter = x12.parse_interchange(data, "f.x12", chunk_size=chunk)
    (txn,) = inter.transactions()
    assert [(s.tag, s.line) for s in txn.segments] == [("ST", 3), ("SE", 4)]
    assert inter.errors == [] and inter.delimiters.terminator == "\x85"

"""Benchmark: our streaming EDIFACT parser vs pydifact on the same ORDERS interchange.

    .venv/bin/python bench/edifact_parse.py [messages]      # default 10000

Times are wall-clock of one parse each (same process, same input); peak memory is measured in a
separate pass under tracemalloc because tracing slows parsing. pydifact gets the text already
decoded (``Interchange.from_str``) and is not charged for decoding; we are given bytes.
Not a test: numbers go into the report / a committed baseline, never into assertions.
"""
from __future__ import annotations

import datetime as dt
import io
import sys
import time
import tracemalloc
import warnings
from decimal import Decimal

from adapters.edi.edifact import parse_interchange
from adapters.edi.writer import EdifactWriter


def build(messages: int) -> bytes:
    w = EdifactWriter(["4012345000009", "14"], ["4098765000002", "14"], "BENCH1",
                      prepared=dt.datetime(2024, 1, 1, 12, 0))
    for n in range(1, messages + 1):
        segs: list = [("BGM", ["220", f"PO{n:08d}", "9"]), ("DTM", [["137", "20240101", "102"]]),
                      ("NAD", ["BY", ["4012345000009", None, "9"]]),
                      ("NAD", ["SU", ["4098765000002", None, "9"]]), ("CUX", [["2", "EUR", "9"]])]
        for line in range(1, 6):
            segs += [("LIN", [str(line), None, [f"MAT-{line:05d}", "IN"]]),
                     ("PIA", ["1", [f"S?{line}+x", "SA"]]),  # delimiters in data: release path
                     ("QTY", [["21", str(Decimal(line) * 10), "PCE"]]),
                     ("DTM", [["2", "20240201", "102"]]), ("PRI", [["AAA", "1.25"]])]
        segs += [("UNS", ["S"]), ("CNT", [["2", "5"]])]
        w.add_message("ORDERS", "D", "96A", "UN", "EAN008", segs)
    return w.to_bytes()


def ours(data: bytes) -> int:
    inter = parse_interchange(io.BytesIO(data), "bench.edi")
    n = sum(len(m.segments) for m in inter.iter_messages())
    assert not inter.errors, inter.errors[:3]
    return n + 2  # + UNB, UNZ


def pydifact(data: bytes) -> int:
    from pydifact.segmentcollection import Interchange

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact warns per service segment about missing XML
        inter = Interchange.from_str(data.decode("latin-1"))
        return sum(1 for _ in inter.segments) + 2  # its segments exclude UNB/UNZ


def run(name, fn, data):
    t0 = time.perf_counter()
    segments = fn(data)
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    fn(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return name, segments, seconds, peak


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    data = build(messages)
    mb = len(data) / 1e6
    print(f"input: {messages} ORDERS messages, {mb:.1f} MB, Python {sys.version.split()[0]}")
    rows = [run("mes-hub edifact (stream)", ours, data), run("pydifact from_str", pydifact, data)]
    print(f"| parser | segments | seconds | segments/s | MB/s | peak MB (tracemalloc) |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for name, segs, secs, peak in rows:
        print(f"| {name} | {segs} | {secs:.2f} | {segs / secs:,.0f} | {mb / secs:.2f} | {peak / 1e6:.1f} |")


if __name__ == "__main__":
    main()

"""Writer tests: exact bytes for a small interchange, escaping, and write -> parse round trips."""
from __future__ import annotations

import datetime as dt

import pytest

from adapters.edi.edifact import Delimiters, parse_interchange
from adapters.edi.writer import EdifactWriter
from hub.errors import SkippableError

WHEN = dt.datetime(2024, 3, 5, 7, 9)


def test_exact_bytes_with_counts_and_refs():
    w = EdifactWriter(["SENDER", "14"], ["RECEIVER", "14"], "CTRL1", prepared=WHEN)
    w.add_message("ORDERS", "D", "96A", "UN", "EAN008", [("BGM", ["220", "PO1", "9"])])
    w.add_message("ORDERS", "D", "96A", "UN", None, [("BGM", ["220", "PO2"]), ("UNS", ["S"])])
    assert w.to_bytes() == (
        b"UNA:+.? '\n"
        b"UNB+UNOC:3+SENDER:14+RECEIVER:14+240305:0709+CTRL1'\n"
        b"UNH+1+ORDERS:D:96A:UN:EAN008'\n"
        b"BGM+220+PO1+9'\n"
        b"UNT+3+1'\n"
        b"UNH+2+ORDERS:D:96A:UN'\n"
        b"BGM+220+PO2'\n"
        b"UNS+S'\n"
        b"UNT+4+2'\n"
        b"UNZ+2+CTRL1'\n"
    )


def test_trailing_empty_elements_and_components_are_omitted_inner_ones_kept():
    w = EdifactWriter("S", "R", "1", prepared=WHEN)
    assert w.segment("LIN", ["1", None, ["X", "IN"], "", None]) == "LIN+1++X:IN'"
    assert w.segment("NAD", ["BY", ["4012", None, "9", None]]) == "NAD+BY+4012::9'"


@pytest.mark.parametrize("text", ["a?b", "it's", "1+1", "ratio 1:2", "??'+:", "?", "end?"])
def test_escaping_survives_round_trip(text):
    w = EdifactWriter("S", "R", "1", prepared=WHEN, newline=False)
    w.add_message("ORDERS", "D", "96A", "UN", None, [("FTX", ["AAI", None, None, [text, text]])])
    data = w.to_bytes()
    inter = parse_interchange(data)
    (msg,) = inter.iter_messages()
    assert msg.segments[1].elements[3] == [text, text]
    assert msg.ok and inter.errors == []


def test_custom_delimiters_and_syntax4_repetition_are_escaped():
    d = Delimiters(component="=", element="*", decimal=".", release="!", repetition="^", terminator="~")
    w = EdifactWriter("S", "R", "1", syntax="UNOW", syntax_version="4", delimiters=d, prepared=WHEN)
    w.add_message("ORDERS", "D", "96A", "UN", None, [("FTX", ["AAI", None, None, "a*b=c!d~e^f"])])
    data = w.to_bytes()
    assert data.startswith(b"UNA=*.!^~\nUNB*UNOW=4*S*R*20240305=0709*1~")  # CCYYMMDD in syntax 4
    assert b"a!*b!=c!!d!~e!^f" in data
    inter = parse_interchange(data)
    (msg,) = inter.iter_messages()
    assert msg.segments[1].get(3) == "a*b=c!d~e^f"
    assert inter.delimiters == d


def test_encoding_follows_syntax_identifier():
    w = EdifactWriter("S", "R", "1", syntax="UNOC", prepared=WHEN)
    w.add_message("ORDERS", "D", "96A", "UN", None, [("NAD", ["BY", None, None, None, "Gießen"])])
    assert "Gießen".encode("latin-1") in w.to_bytes()
    inter = parse_interchange(w.to_bytes())
    assert list(inter.iter_messages())[0].segments[1].get(4) == "Gießen"
    assert inter.warnings == []  # real latin-1 under UNOC is not a charset mismatch

    a = EdifactWriter("S", "R", "1", syntax="UNOA", prepared=WHEN)
    a.add_message("ORDERS", "D", "96A", "UN", None, [("NAD", ["BY", None, None, None, "Gießen"])])
    with pytest.raises(SkippableError) as exc:
        a.to_bytes()
    assert exc.value.code == "CHARSET_MISMATCH"


def test_without_una_and_newlines():
    w = EdifactWriter("S", "R", "9", una=False, newline=False, prepared=WHEN)
    assert w.to_bytes() == b"UNB+UNOC:3+S+R+240305:0709+9'UNZ+0+9'"


def test_rejects_bad_control_ref():
    with pytest.raises(ValueError):
        EdifactWriter("S", "R", "X" * 15)

"""Cell values and container sniffing: numbers, dates, encodings, delimiters."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.tabular import reader
from adapters.tabular.reader import ValueProblem, to_date, to_decimal, to_int, to_text


@pytest.mark.parametrize("raw,scale,want", [
    (500.0, 3, "500"), (500, 3, "500"), (0.1 + 0.2, 3, "0.3"), (1.005, 3, "1.005"), ("1,000", 3, "1000"),
    ("1,234.5", 3, "1234.5"), (" 12 ", None, "12"), ("１２.５", 3, "12.5"), ("-3", None, "-3"), (".5", 3, "0.5"),
    (1e20, 3, "100000000000000000000"), ("0.000", 3, "0"),
])
def test_to_decimal(raw, scale, want):
    got = to_decimal(raw, scale)
    assert isinstance(got, Decimal) and format(got, "f") == want


def test_decimal_comma_only_where_the_file_uses_it():
    assert to_decimal("12,5", 3, decimal_comma=True) == Decimal("12.5")
    with pytest.raises(ValueProblem):
        to_decimal("12,5", 3)  # in a comma file this is not a number we can trust


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "=A1*2", "=cmd|' /C calc'!A0", "1e5", "NaN", float("nan"),
                                 float("inf"), True, dt.date(2026, 1, 1), "1.0005", 0.1234])
def test_to_decimal_refuses(raw):
    with pytest.raises(ValueProblem) as info:
        to_decimal(raw, 3)
    assert info.value.code == "BAD_NUMBER"


def test_excel_float_noise_is_rounded_but_real_decimals_are_refused():
    assert to_decimal(0.30000000000000004, 2) == Decimal("0.3")
    assert to_decimal(2.675, 3) == Decimal("2.675")  # binary 2.67499999... reads as typed
    with pytest.raises(ValueProblem, match="more than 2 decimals"):
        to_decimal(2.675, 2)


def test_to_int():
    assert to_int(3.0) == 3 and to_int("10") == 10
    with pytest.raises(ValueProblem):
        to_int("1.5")


@pytest.mark.parametrize("raw", ["2026-11-26", "2026/11/26", "20261126", "2026.11.26", "2026年11月26日",
                                 "2026-11-26 08:30", 20261126, dt.datetime(2026, 11, 26, 0, 0), dt.date(2026, 11, 26)])
def test_to_date(raw):
    assert to_date(raw) == dt.date(2026, 11, 26)


@pytest.mark.parametrize("raw", ["26/11/2026", "2026-13-01", "2026-02-30", "tomorrow", "46352", "0026-01-01", True])
def test_to_date_refuses(raw):
    with pytest.raises(ValueProblem) as info:
        to_date(raw)
    assert info.value.code == "BAD_DATE"


def test_to_text_keeps_codes_as_typed():
    assert to_text(10023.0) == "10023" and to_text(10023) == "10023" and to_text(" B1 ") == "B1"
    assert to_text(dt.datetime(2026, 11, 26)) == "2026-11-26"


@pytest.mark.parametrize("text,encoding", [
    ("物料编码,数量\n", "utf-8"), ("物料编码,数量\n", "utf-8-sig"), ("物料编码,数量,供应商\n华东轴承", "gbk"),
    ("物料编码,数量\n", "gb18030"), ("物料编码\t数量\n", "utf-16"),
])
def test_detect_encoding(text, encoding):
    data = text.encode(encoding)
    detected, warning = reader.detect_encoding(data)
    assert warning is None and data.decode(detected).lstrip("\ufeff") == text


def test_latin1_is_the_last_resort_with_a_warning():
    data = "material,qty\nMüller\xff,1\n".encode("latin-1") + b"\x81\xff"
    encoding, warning = reader.detect_encoding(data)
    assert encoding == "latin-1" and "garbled" in warning


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_sniffing(delimiter):
    sample = delimiter.join(["送货单号", "物料编码", "数量", "单位"]) + "\n" + delimiter.join(["A", "1.02", "5", "PCS"]) + "\n"
    from adapters.tabular.spec import load_specs
    label_sets = [set().union(*(c.labels for c in s.columns)) for s in load_specs().values()]
    assert reader.choose_delimiter(sample, "x.csv", label_sets) == delimiter
    # without known labels the Sniffer / consistency fallback still finds it
    assert reader.choose_delimiter(sample.replace("送货单号", "a"), "x.csv", []) == delimiter


def test_container_sniffing():
    assert reader.is_legacy_xls(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert not reader.is_xlsx(b"PK\x03\x04garbage")
    assert reader.looks_binary(bytes(range(256)))
    assert not reader.looks_binary("物料编码,数量\n".encode("utf-16"))

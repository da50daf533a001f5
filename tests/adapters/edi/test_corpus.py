"""Every real EDIFACT sample in the shared corpus parses, or fails with the error we expect.

The samples are not committed here (several have no or copyleft licences, see SOURCES.md); the
test reads them from HUB_EDI_CORPUS (default ``<repo>/../shared/edi-samples``) and skips when
the folder is absent. A new file in the corpus without an expectation below fails the test,
so nobody adds a sample without saying what it should do.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.edi.edifact import parse_interchange, parse_interchanges
from hub.errors import HubError

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", REPO.parent / "shared" / "edi-samples")) / "edifact"

# file -> (per interchange: [(message type, segment count)...], error codes + where suffixes,
#          charset warnings expected in lenient mode, code raised in strict mode or None)
OK: list = []
EXPECTED = {
    "CONTRL_v4_syntax-ack_bom-crlf.txt": ([[("CONTRL", 3), ("CONTRL", 3)]], [], False, None),
    "DESADV_96A_nonstandard-version-0_no-UNA.edi": ([[("DESADV", 21)]], [], False, None),
    "DESADV_D07A_GMI021_automotive.edifact": ([[("DESADV", 101), ("DESADV", 101)]], [], False, None),
    "DESADV_D96A_EAN005_retail.edi": (
        [[("DESADV", 18), ("DESADV", 134), ("DESADV", 24)]], [], False, None),
    "INVOIC_D96A_EAN008_retail.edi": ([[("INVOIC", 67)]], [], False, None),
    "INVOIC_D97A_automotive-vauxhall.edi": ([[("INVOIC", 24)]], [], False, None),
    "INVOIC_D97B_engine-plant_custom-UNA-delimiters.edi": ([[("INVOIC", 24)]], [], False, None),
    "ORDERS_D01B_EAN010_UNOC-with-utf8-bytes.edi": (
        [[("ORDERS", 599)]], [], True, "CHARSET_MISMATCH"),
    "ORDERS_D96A_EAN008_amazon-vendor-retail.txt": ([[("ORDERS", 24)]], [], False, None),
    "ORDERS_D96A_EAN008_multi-message_mixed-CRLF-LF.edi": (
        [[("ORDERS", 9), ("ORDERS", 9)], [("ORDERS", 9)]], [], False, None),
    # truncated: no UNZ; the last segment read is UNT, the 17th segment (UNB is 1), on line 18
    "ORDERS_D96A_EAN008_pydifact.edi": (
        [[("ORDERS", 16)]], [("MISSING_UNZ", "segment 17 (UNT, line 18)")], False, None),
    "ORDERS_D96A_EAN008_wrapped-80-columns.edi": ([[("ORDERS", 9)]], [], False, None),
    # found by this test: UNT says 21 but the message has 18 segments (UNH..UNT)
    "ORDERS_D96B_EAN008_with-UNG-group_no-trailing-newline.edi": (
        [[("ORDERS", 18)]], [("UNT_COUNT_MISMATCH", "segment 20 (UNT, line 20)")], False, None),
    "ORDERS_D97A_UNA-release-char-bang.edifact": ([[("ORDERS", 5)]], [], False, None),
    # found by this test: UNT says 000019 but the message has 20 segments
    "ORDRSP_D96A_EAN005_wholesale_mixed-utf8-latin1.edi": (
        [[("ORDRSP", 20)]], [("UNT_COUNT_MISMATCH", "segment 21 (UNT, line 22)")], True,
        "CHARSET_MISMATCH"),
    "ORDRSP_D96A_EAN009_bom-crlf.txt": ([[("ORDRSP", 25)]], [], False, None),
    "RECADV_D01B_EAN007_UNOA-with-utf8-and-release-char.txt": (
        [[("RECADV", 24)]], [], True, "CHARSET_MISMATCH"),
}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"EDI corpus not found at {CORPUS}")


def corpus_files():
    return sorted(p.name for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def read(path, policy):
    got, errors, warnings = [], [], []
    with open(path, "rb") as fh:
        for inter in parse_interchanges(fh, path.name, policy):
            got.append([(m.type, len(m.segments)) for m in inter.iter_messages()])
            errors += [(e.code, e.where) for e in inter.errors]
            warnings += inter.warnings
    return got, errors, warnings


def test_every_corpus_file_has_an_expectation():
    assert set(corpus_files()) == set(EXPECTED)


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file_lenient(name):
    messages, errors, warns, _ = EXPECTED[name]
    got, got_errors, got_warnings = read(CORPUS / name, "lenient")
    assert got == messages
    assert [(c, f"{name}:{w}") for c, w in errors] == got_errors
    assert bool(got_warnings) == warns


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file_strict(name):
    strict_code = EXPECTED[name][3]
    if strict_code is None:
        assert read(CORPUS / name, "strict")[:2] == read(CORPUS / name, "lenient")[:2]
        return
    with pytest.raises(HubError) as exc:
        read(CORPUS / name, "strict")
    assert exc.value.code == strict_code


def test_release_characters_in_real_files():
    # the bang file releases ' and : with '!'; the RECADV releases ' with '?'
    with open(CORPUS / "ORDERS_D97A_UNA-release-char-bang.edifact", "rb") as fh:
        inter = parse_interchange(fh)
        ftx = [s for m in inter.iter_messages() for s in m.segments if s.tag == "FTX"]
    assert ftx[0].elements[3] == ["I've a", "dream that I'll share with you"]
    assert ftx[1].elements[3] == ["I've a:dream that I'll share with you"]
    with open(CORPUS / "RECADV_D01B_EAN007_UNOA-with-utf8-and-release-char.txt", "rb") as fh:
        inter = parse_interchange(fh)
        nads = [s for m in inter.iter_messages() for s in m.segments if s.tag == "NAD"]
    assert nads[2].get(3) == "CSP test d'This is also a test section"
    assert nads[1].get(3) == "报文测试天津有限公司"  # UTF-8 under a UNOA declaration


def test_mixed_encodings_decode_per_segment():
    with open(CORPUS / "ORDRSP_D96A_EAN005_wholesale_mixed-utf8-latin1.edi", "rb") as fh:
        inter = parse_interchange(fh)
        nads = [s for m in inter.iter_messages() for s in m.segments if s.tag == "NAD"]
    assert nads[1].get(4) == "Robert-Schuman-Straße 17"  # UTF-8 bytes
    assert nads[2].get(4) == "Europastraße 15"          # latin-1 bytes, as declared

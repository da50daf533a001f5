"""Every golden case under mappings/ must reproduce its expected canonical output exactly."""
from __future__ import annotations

import pytest

from mappings import golden
from mappings.golden import GoldenCase, discover, run_case

CASES = discover()


def test_every_mapping_file_has_a_golden_case():
    # STYLE.md habit 5: a mapping without a golden pair is untested code
    mapping_files = {p.resolve() for p in golden.mapping_files()}
    covered = {c.mapping.resolve() for c in CASES}
    assert mapping_files, "no mapping files found"
    assert mapping_files <= covered, f"mappings without golden cases: {sorted(map(str, mapping_files - covered))}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: GoldenCase):
    result = run_case(case)
    assert result.ok, "\n" + result.diff


def test_run_case_reports_a_diff_when_output_changes(tmp_path):
    # the golden runner itself must be able to fail: tamper with a copy of a real case
    case = next(c for c in CASES if c.input.name == "cgdd000101.json")
    expected = tmp_path / case.expected.name
    expected.write_text(case.expected.read_text().replace('"quantity": "200"', '"quantity": "201"'))
    result = run_case(GoldenCase(case.mapping, case.input, expected))
    assert not result.ok
    changed = [ln[0] + ln[1:].strip() for ln in result.diff.splitlines() if ln[:1] in "+-" and "quantity" in ln]
    assert changed == ['-"quantity": "201",', '+"quantity": "200",'], result.diff


def test_run_case_fails_without_expected_file(tmp_path):
    case = CASES[0]
    result = run_case(GoldenCase(case.mapping, case.input, tmp_path / "nope.expected.ndjson"))
    assert not result.ok and "missing" in result.diff


def test_discover_one_mapping_file():
    desadv = next(c.mapping for c in CASES if c.mapping.stem == "DESADV_D96A")
    cases = discover(desadv)
    assert cases and {c.mapping.stem for c in cases} == {"DESADV_D96A"}
    assert len(cases) == sum(1 for c in CASES if c.mapping.stem == "DESADV_D96A")

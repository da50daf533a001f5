"""Every column spec has golden cases, and each reproduces its expected output exactly."""
from __future__ import annotations

import json

import pytest

from adapters.tabular import golden
from adapters.tabular.spec import load_specs

CASES = golden.discover()


def test_every_spec_has_a_golden_case():
    assert set(load_specs()) <= {case.parent.name for case, _ in CASES}


@pytest.mark.parametrize("case,expected", CASES, ids=[f"{c.parent.name}/{c.name}" for c, _ in CASES])
def test_golden(case, expected):
    want = [json.loads(line) for line in expected.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert golden.actual_records(case) == want

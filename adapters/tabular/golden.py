"""Golden cases for the column specs: ``mappings/tabular/golden/<message>/<case>.csv|.xlsx`` next
to ``<case>.expected.ndjson`` (one canonical document or ``{"error": ...}`` per line, in output
order), the same layout and record shape as ``mappings/golden.py`` uses for EDIFACT/JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.tabular.spec import SPEC_DIR
from adapters.tabular.translate import translate_table

INPUT_SUFFIXES = (".csv", ".xlsx", ".tsv", ".txt")
EXPECTED_SUFFIX = ".expected.ndjson"
PARTNER = "SUP-001"  # cases are read as if this partner sent them


def discover(spec_dir: Path = SPEC_DIR) -> list[tuple[Path, Path]]:
    """(input, expected) pairs; the folder name is the message the case is read as."""
    cases = []
    for item in sorted((spec_dir / "golden").glob("*/*")):
        if item.suffix in INPUT_SUFFIXES:
            cases.append((item, item.with_name(item.name[: -len(item.suffix)] + EXPECTED_SUFFIX)))
    return cases


def actual_records(case: Path) -> list[dict[str, Any]]:
    result = translate_table(case.read_bytes(), case.name, PARTNER, message=case.parent.name)
    records: list[dict[str, Any]] = [d.model_dump(mode="json") for d in result.documents]
    records += [{"error": {"code": e.code, "where": e.where, "message": e.message}} for e in result.errors]
    return records


def write_expected(case: Path) -> None:
    """(Re)write a case's expected file from current output; review the diff before committing."""
    expected = case.with_name(case.name[: -len(case.suffix)] + EXPECTED_SUFFIX)
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in actual_records(case)]
    expected.write_text("\n".join(lines) + "\n", encoding="utf-8")

"""Golden tests for mappings: a sample input next to the canonical JSON it must produce.

Layout (STYLE.md habit 5, tests beside the config they test)::

    mappings/<dir>/<MAPPING>.yaml
    mappings/<dir>/golden/<MAPPING>/<case>.edi | <case>.json      input
    mappings/<dir>/golden/<MAPPING>/<case>.expected.ndjson        expected output

The expected file has one JSON object per line: a canonical document as
``model_dump(mode="json")`` (``source`` included), or ``{"error": {"code", "where", "message"}}``
for a record the mapping must reject, so a golden case can pin down a refusal as well as a
translation. ``.edi`` inputs are parsed as an EDIFACT interchange and every message is mapped
with *this* mapping (not picked by message type), so the case tests exactly one mapping file.
``.json`` inputs hold one record or a list of records.
"""
from __future__ import annotations

import importlib

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from canonical_model.documents import Source
from hub.errors import HubError
from mappings.engine import MAPPINGS_DIR, CompiledMapping, load_mapping

INPUT_SUFFIXES = (".edi", ".json", ".x12")
EXPECTED_SUFFIX = ".expected.ndjson"


@dataclass(frozen=True)
class GoldenCase:
    mapping: Path  # the mapping YAML
    input: Path
    expected: Path

    @property
    def id(self) -> str:
        return f"{self.mapping.stem}/{self.input.name}"


@dataclass(frozen=True)
class GoldenResult:
    ok: bool
    diff: str


# Not mappings: partner profiles (mappings/partners/<id>.yaml) and the golden fixtures themselves.
_NOT_MAPPINGS = {"partners", "crosswalks", "golden", "tabular"}
#: settings files under mappings/ that configure the hub, not record mappings
_NOT_MAPPING_FILES = {"scorecard.yaml", "alerting.yaml"}


def mapping_files(path: Optional[Path | str] = None) -> list[Path]:
    """Every mapping YAML under ``path`` (default: ``mappings/``)."""
    root = Path(path) if path is not None else MAPPINGS_DIR
    return sorted(p for p in root.rglob("*.yaml") if not _NOT_MAPPINGS & set(p.relative_to(root).parts[:-1])
                  and p.relative_to(root).as_posix() not in _NOT_MAPPING_FILES)


def discover(path: Optional[Path | str] = None) -> list[GoldenCase]:
    """Every golden case under ``path`` (default: the whole ``mappings/`` tree), sorted.

    ``path`` may also be one mapping file: then only that mapping's cases.
    """
    root = Path(path) if path is not None else MAPPINGS_DIR
    if root.is_file():
        return [c for c in discover(root.parent) if c.mapping.resolve() == root.resolve()]
    cases = []
    for golden_dir in sorted(root.rglob("golden")):
        if not golden_dir.is_dir():
            continue
        for mapping_dir in sorted(p for p in golden_dir.iterdir() if p.is_dir()):
            mapping = golden_dir.parent / f"{mapping_dir.name}.yaml"
            for item in sorted(mapping_dir.iterdir()):
                if item.suffix in INPUT_SUFFIXES and not item.name.endswith(EXPECTED_SUFFIX):
                    expected = item.with_name(item.name[: -len(item.suffix)] + EXPECTED_SUFFIX)
                    cases.append(GoldenCase(mapping, item, expected))
    return cases


def actual_records(case: GoldenCase) -> list[dict[str, Any]]:
    """What the mapping produces for the case's input, as the expected file's records."""
    mapping = load_mapping(case.mapping)
    if case.input.suffix in _EDI_READERS:
        return list(_edi_records(mapping, case.input, *_EDI_READERS[case.input.suffix]))
    return list(_json_records(mapping, case.input))


def run_case(case: GoldenCase) -> GoldenResult:
    """Map the case's input and compare with its expected output; ``diff`` is empty when ok."""
    try:
        actual = _pretty(actual_records(case))
    except HubError as exc:  # a broken mapping file fails the case with its own message
        return GoldenResult(False, exc.as_line())
    if not case.expected.is_file():
        return GoldenResult(False, f"{case.expected} is missing; actual output:\n{actual}")
    try:
        expected_records = [json.loads(line) for line in case.expected.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        return GoldenResult(False, f"{case.expected}:{exc.lineno}: not valid JSON ({exc.msg})")
    expected = _pretty(expected_records)
    if expected == actual:
        return GoldenResult(True, "")
    diff = difflib.unified_diff(
        expected.splitlines(keepends=True), actual.splitlines(keepends=True),
        fromfile=str(case.expected.name), tofile=f"actual ({case.id})",
    )
    return GoldenResult(False, "".join(diff))


def write_expected(case: GoldenCase) -> None:
    """(Re)write the expected file from the current output; review the diff before committing."""
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in actual_records(case)]
    case.expected.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _pretty(records: list[dict[str, Any]]) -> str:
    # one pretty document after another, so a diff points at the exact field that moved
    return "".join(json.dumps(r, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def _error_record(exc: HubError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "where": exc.where, "message": exc.message}}


#: input suffix -> (source system, codec module, units of an interchange, unit reference attribute)
_EDI_READERS = {
    ".edi": ("edifact", "adapters.edi.edifact", "iter_messages", "ref"),
    ".x12": ("x12", "adapters.edi.x12", "iter_transactions", "control"),
}


def _edi_records(mapping: CompiledMapping, path: Path, system: str, codec: str, units: str,
                 ref: str) -> Iterator[dict[str, Any]]:
    """Map every message (EDIFACT) or transaction set (X12) of ``path`` with ``mapping`` itself,
    not one picked by message type, so a case tests exactly one mapping file; envelope errors
    follow as ``{"error": ...}`` records."""
    parse_interchanges = importlib.import_module(codec).parse_interchanges  # codecs only for EDI cases
    filename = path.name  # not the full path, so expected files do not depend on the checkout
    try:
        for interchange in parse_interchanges(path.read_bytes(), filename):
            for unit in getattr(interchange, units)():
                if unit.errors:
                    continue  # reported below from interchange.errors, once
                source = Source(system=system, partner=interchange.sender or None, file=filename,
                                interchange_ref=interchange.control_ref or None,
                                message_ref=getattr(unit, ref) or None)
                try:
                    yield mapping.apply(unit.segments, source).model_dump(mode="json")
                except HubError as exc:
                    yield _error_record(exc.located(filename))
            for exc in interchange.errors:
                yield _error_record(exc)
    except HubError as exc:
        yield _error_record(exc)


def _json_records(mapping: CompiledMapping, path: Path) -> Iterator[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for record in data if isinstance(data, list) else [data]:
        source = Source(system=mapping.system, file=path.name)
        try:
            yield mapping.apply(record, source).model_dump(mode="json")
        except HubError as exc:
            yield _error_record(exc.located(path.name))

"""ANSI X12 mappings (``<ST01>_<version>.yaml``) and the golden-case reader for ``.x12`` inputs."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from canonical_model.documents import Source
from hub.errors import HubError


def golden_records(mapping: Any, path: Path) -> Iterator[dict[str, Any]]:
    """Map every transaction set of an X12 file with ``mapping`` (not picked by ST01, so a case
    tests exactly one mapping file); envelope errors follow as ``{"error": ...}`` records."""
    from adapters.edi.x12 import parse_interchanges

    filename = path.name
    try:
        for interchange in parse_interchanges(path.read_bytes(), filename):
            for txn in interchange.iter_transactions():
                if txn.errors:
                    continue  # reported below from interchange.errors, once
                source = Source(system="x12", partner=interchange.sender or None, file=filename,
                                interchange_ref=interchange.control_ref or None, message_ref=txn.control or None)
                try:
                    yield mapping.apply(txn.segments, source).model_dump(mode="json")
                except HubError as exc:
                    yield _error(exc.located(filename))
            for exc in interchange.errors:
                yield _error(exc)
    except HubError as exc:
        yield _error(exc)


def _error(exc: HubError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "where": exc.where, "message": exc.message}}

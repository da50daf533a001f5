"""``hub b2mml export|validate|read``: ISA-95 B2MML XML out of the canonical store, and checks of B2MML files.

Register in hub/cli.py with ``app.add_typer(b2mml_app, name="b2mml")`` (``from hub.cli_b2mml import
app as b2mml_app``).

* ``export --type MaterialLot|MaterialDefinition|OperationsSchedule|OperationsPerformance
  [--version V0701|V0600] [--out FILE] [--id ID]`` writes one document built from the current
  canonical documents (``Batch``, ``Material``, ``ProductionOrder``; performance also reads the
  ``Batch`` links) to stdout or FILE. Every document is validated against the official schema
  before it is written. With V0600, schedule and performance are ``ProductionSchedule`` /
  ``ProductionPerformance`` (``--type ProductionSchedule|ProductionPerformance`` are accepted
  for V0600 too).
  When the store holds nothing of the type: lots and definitions are exported as a valid, empty
  ``MaterialInformation`` (a note goes to stderr, exit 0), as is a V0600 schedule/performance;
  V0701 ``OperationsSchedule`` / ``OperationsPerformance`` must hold at least one request or
  response, so the command writes nothing and exits 1 with ``B2MML_NOTHING_TO_EXPORT``: the hub
  never writes an invalid document.
* ``validate FILE [--version V]``: exit 0 and one line when FILE is valid B2MML (version from its
  namespace), else exit 1 with one ``FILE:LINE: CODE element: message`` line per failure. DTDs
  and entities are refused unparsed.
* ``read FILE``: the canonical documents in FILE as NDJSON on stdout (performance documents as
  ``{"type": "OrderPerformance", ...}`` facts); refused nouns on stderr; exit 1 if any.

Exit 2: usage errors and unreadable files.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(help="ISA-95 B2MML XML: export canonical documents, validate and read B2MML files.",
                  no_args_is_help=True)

EXPORT_TYPES = ("MaterialLot", "MaterialDefinition", "OperationsSchedule", "OperationsPerformance")
V0600_ALIASES = {"ProductionSchedule": "OperationsSchedule", "ProductionPerformance": "OperationsPerformance"}
#: export type -> canonical document type the store is asked for (the empty-store message names it)
SOURCE_TYPES = {"MaterialLot": "Batch", "MaterialDefinition": "Material", "OperationsSchedule": "ProductionOrder",
                "OperationsPerformance": "ProductionOrder"}


def _usage(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _fail(error: Any) -> None:
    typer.echo(f"{error.as_line()} ({error.kind})", err=True)
    raise typer.Exit(1)


@app.command()
def export(
    doc_type: str = typer.Option(..., "--type", help=f"one of {', '.join(EXPORT_TYPES)}"),
    version: str = typer.Option("V0701", "--version", help="B2MML version: V0701 (current) or V0600 (legacy)"),
    out: Optional[Path] = typer.Option(None, "--out", help="write here instead of stdout (replaced atomically)"),
    document_id: Optional[str] = typer.Option(None, "--id", help="the document's ID (default hub-<type>-<UTC time>)"),
) -> None:
    """Export the canonical store's documents of one kind as one valid B2MML document."""
    from adapters.b2mml import writer
    from adapters.b2mml.schemas import V0600, VERSIONS
    from hub.errors import HubError

    if version not in VERSIONS:
        _usage(f"--version {version!r} is not one of {', '.join(VERSIONS)}")
    if doc_type in V0600_ALIASES:
        if version != V0600:
            _usage(f"{doc_type} exists only in B2MML V0600 (V0701 replaced it by {V0600_ALIASES[doc_type]}); "
                   f"use --type {V0600_ALIASES[doc_type]} or --version V0600")
        doc_type = V0600_ALIASES[doc_type]
    if doc_type not in EXPORT_TYPES:
        _usage(f"--type {doc_type!r} is not one of {', '.join(EXPORT_TYPES)}")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    header = writer.Header(document_id or f"hub-{doc_type}-{now.strftime('%Y%m%dT%H%M%SZ')}", now,
                           "exported by mes-hub from the canonical store")
    try:
        documents = _load(doc_type)
        root = _build(doc_type, version, header, documents)
        data = writer.to_bytes(root, version)
    except HubError as error:
        _fail(error)
    wanted = SOURCE_TYPES[doc_type]
    if not documents.get(wanted):
        typer.echo(f"note: the store holds no {wanted}; the {version} document is valid but empty", err=True)
    if out is None:
        typer.echo(data, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as exc:
        _usage(f"{out}: cannot write ({exc.strerror or exc})")
    typer.echo(f"{out}: {doc_type} B2MML {version}, {len(data)} bytes", err=True)


def _load(doc_type: str) -> dict[str, list[Any]]:
    from canonical_model.store import documents, open_store

    wanted = {"MaterialLot": ("Batch",), "MaterialDefinition": ("Material",),
              "OperationsSchedule": ("ProductionOrder",),
              "OperationsPerformance": ("ProductionOrder", "Batch")}[doc_type]
    store = open_store()
    try:
        with store.session() as session:
            return {name: list(documents.current(session, name)) for name in wanted}
    finally:
        store.dispose()


def _build(doc_type: str, version: str, header: Any, docs: dict[str, list[Any]]) -> Any:
    from adapters.b2mml import writer

    if doc_type == "MaterialLot":
        return writer.material_lots(docs["Batch"], version, header)
    if doc_type == "MaterialDefinition":
        return writer.material_definitions(docs["Material"], version, header)
    if doc_type == "OperationsSchedule":
        return writer.schedule(docs["ProductionOrder"], version, header)
    return writer.performance(docs["ProductionOrder"], docs["Batch"], version, header)


def _read_file(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        _usage(f"{file}: UNREADABLE_FILE {exc.strerror or exc}")
    raise AssertionError  # unreachable: _usage exits


@app.command()
def validate(
    file: Path = typer.Argument(..., help="B2MML XML file"),
    version: Optional[str] = typer.Option(None, "--version", help="require this version (default: by namespace)"),
) -> None:
    """Check FILE against the official B2MML schema of its version; one line per failure."""
    from lxml import etree

    from adapters.b2mml import reader, schemas
    from adapters.b2mml.safe_xml import parse_untrusted
    from hub.errors import HubError

    if version is not None and version not in schemas.VERSIONS:
        _usage(f"--version {version!r} is not one of {', '.join(schemas.VERSIONS)}")
    data = _read_file(file)
    try:
        root = parse_untrusted(data, str(file), code_prefix="B2MML")
        found_version, local = reader.detect(root, str(file))
    except HubError as error:
        typer.echo(error.as_line(), err=True)
        raise typer.Exit(1)
    if version is not None and version != found_version:
        typer.echo(f"{file}:{root.sourceline}: B2MML_VERSION_MISMATCH the document is B2MML {found_version} "
                   f"(namespace {etree.QName(root).namespace}), not {version}", err=True)
        raise typer.Exit(1)
    issues = schemas.issues(root, found_version)
    if issues:
        for issue in issues:
            typer.echo(f"{file}:{issue.line}: B2MML_SCHEMA_INVALID {issue.element}: {issue.message}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: valid B2MML {found_version} {local}")


@app.command()
def read(file: Path = typer.Argument(..., help="B2MML XML file")) -> None:
    """Translate FILE to canonical documents, one JSON per line (NDJSON) on stdout."""
    from adapters.b2mml import reader
    from hub.errors import HubError

    data = _read_file(file)
    try:
        result = reader.read(data, str(file))
    except HubError as error:
        typer.echo(error.as_line(), err=True)
        raise typer.Exit(1)
    for document in result.documents:
        typer.echo(json.dumps(document.model_dump(mode="json"), ensure_ascii=False, sort_keys=True))
    for report in result.performance:
        typer.echo(json.dumps({"type": "OrderPerformance", **dataclasses.asdict(report)}, default=str,
                              ensure_ascii=False, sort_keys=True))
    for error in result.errors:
        typer.echo(error.as_line(), err=True)
    if result.errors:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app(prog_name=f"{Path(sys.argv[0]).name} b2mml")

"""``hub edi ...``: look inside EDI files (envelope, segments) and the acknowledgements we send.

Exit codes follow ``hub translate``: 0 clean, 1 the file has errors (output still printed,
each error on stderr as ``FILE:SEGMENT: CODE message``), 2 usage or unreadable file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(help="EDI tools: parse a file, show the acknowledgement the hub would send.",
                  no_args_is_help=True)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        typer.echo(f"{file}: UNREADABLE_FILE {exc.strerror or exc}", err=True)
        raise typer.Exit(2)


def _segment(seg) -> dict[str, Any]:
    return {"tag": seg.tag, "index": seg.index, "line": seg.line, "elements": seg.elements}


def _edifact_tree(data: bytes, filename: str, charset_policy: str, errors: list) -> list[dict[str, Any]]:
    from adapters.edi.edifact import parse_interchanges

    out = []
    for inter in parse_interchanges(data, filename, charset_policy):
        messages = []
        try:
            for message in inter.iter_messages():
                messages.append({
                    "ref": message.ref, "type": message.type, "version": message.version,
                    "release": message.release, "agency": message.agency, "assoc_code": message.assoc_code,
                    "group_ref": message.group_ref, "errors": [e.as_line() for e in message.errors],
                    "segments": [_segment(s) for s in message.segments]})
        finally:
            errors.extend(inter.errors)
        d = inter.delimiters
        out.append({
            "syntax": inter.syntax, "syntax_version": inter.syntax_version,
            "sender": inter.sender, "sender_qualifier": inter.sender_qualifier,
            "recipient": inter.recipient, "recipient_qualifier": inter.recipient_qualifier,
            "prepared": list(inter.prepared), "control_ref": inter.control_ref,
            "delimiters": {"component": d.component, "element": d.element, "decimal": d.decimal,
                           "release": d.release, "repetition": d.repetition, "terminator": d.terminator},
            "unb": _segment(inter.unb), "unz": _segment(inter.unz) if inter.unz else None,
            "messages": messages, "errors": [e.as_line() for e in inter.errors], "warnings": inter.warnings})
    return out


def _hl(node) -> dict[str, Any]:
    return {"id": node.id, "parent": node.parent_id, "level": node.level_code,
            "segments": [s.index for s in node.segments], "children": [_hl(c) for c in node.children]}


def _x12_tree(data: bytes, filename: str, errors: list) -> list[dict[str, Any]]:
    from adapters.edi import x12
    from hub.errors import HubError

    out = []
    for inter in x12.parse_interchanges(data, filename):
        transactions: dict[int, list] = {}
        orphans: list = []
        try:
            for txn in inter.iter_transactions():
                item: dict[str, Any] = {"set_id": txn.set_id, "control": txn.control, "version": txn.version,
                                        "implementation_ref": txn.implementation_ref,
                                        "errors": [e.as_line() for e in txn.errors],
                                        "segments": [_segment(s) for s in txn.segments]}
                if any(s.tag == "HL" for s in txn.segments):
                    try:
                        item["hierarchy"] = [_hl(root) for root in x12.hl_tree(txn.segments, filename)]
                    except HubError as exc:
                        errors.append(exc)
                        item["errors"].append(exc.as_line())
                (transactions.setdefault(id(txn.group), []) if txn.group else orphans).append(item)
        finally:
            errors.extend(inter.errors)
        d = inter.delimiters
        out.append({
            "sender": inter.sender, "sender_qualifier": inter.sender_qualifier, "receiver": inter.receiver,
            "receiver_qualifier": inter.receiver_qualifier, "date": inter.date, "time": inter.time,
            "version": inter.version, "control_ref": inter.control_ref, "usage": inter.usage,
            "delimiters": {"element": d.element, "component": d.component, "repetition": d.repetition,
                           "terminator": d.terminator},
            "isa": _segment(inter.isa), "iea": _segment(inter.iea) if inter.iea else None,
            "ta1": [_segment(s) for s in inter.ta1],
            "groups": [{"functional_id": g.functional_id, "sender": g.sender, "receiver": g.receiver,
                        "date": g.date, "time": g.time, "control": g.control, "version": g.version,
                        "gs": _segment(g.gs), "ge": _segment(g.ge) if g.ge else None,
                        "errors": [e.as_line() for e in g.errors], "transactions": transactions.get(id(g), [])}
                       for g in inter.groups],
            "transactions_outside_groups": orphans,
            "errors": [e.as_line() for e in inter.errors], "warnings": inter.warnings})
    return out


def _profile(partner: Optional[str]):
    if not partner:
        return None
    from hub.errors import HubError
    from hub.partners import get_partner

    try:
        return get_partner(partner)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2)


@app.command("parse")
def parse(
    file: Path = typer.Argument(..., help="EDIFACT or X12 file"),
    partner: Optional[str] = typer.Option(None, "--partner", help="partner id (its charset policy applies)"),
) -> None:
    """Print FILE's envelopes and segment tree as JSON (EDIFACT: UNB/UNG/UNH..; X12: ISA/GS/ST, HL tree).

    Exit 0: envelopes and counts are right. Exit 1: errors (JSON still printed for what was
    readable; each error on stderr). Exit 2: usage or unreadable file.
    """
    from adapters.edi.edifact import UTF8_BOM, detect_format
    from hub.errors import HubError

    data = _read(file)
    profile = _profile(partner)
    charset_policy = profile.edi.charset_policy if profile else "lenient"
    fmt = detect_format(data[:512].removeprefix(UTF8_BOM).lstrip(b" \t\r\n"))
    errors: list[HubError] = []
    doc: dict[str, Any] = {"file": str(file), "format": fmt, "interchanges": []}
    try:
        if fmt == "edifact":
            doc["interchanges"] = _edifact_tree(data, str(file), charset_policy, errors)
        elif fmt == "x12":
            doc["interchanges"] = _x12_tree(data, str(file), errors)
        else:
            typer.echo(f"{file}:line 1: UNKNOWN_FORMAT neither EDIFACT (UNA/UNB) nor X12 (ISA); "
                       f"starts with {data[:12]!r}", err=True)
            raise typer.Exit(1)
    except HubError as exc:
        errors.append(exc if exc.where.startswith(str(file)) else exc.located(str(file)))
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    seen = set()
    for error in errors:
        line = error.as_line()
        if line not in seen:  # a message's error is also the interchange's: print it once
            seen.add(line)
            typer.echo(line, err=True)
    raise typer.Exit(1 if errors else 0)


@app.command("ack")
def ack(
    file: Path = typer.Argument(..., help="an inbound EDIFACT or X12 file"),
    partner: Optional[str] = typer.Option(None, "--partner", help="partner id: its ids, charset and ack policy"),
    x12_kind: Optional[str] = typer.Option(None, "--x12", help="997 or 999 (default: partner policy, else 997)"),
    control_ref: str = typer.Option("1", "--control-ref",
                                    help="control number to show (the hub takes the partner's next one)"),
    receipt: bool = typer.Option(False, "--receipt", help="EDIFACT: a receipt only (UCI action 8)"),
) -> None:
    """Print the CONTRL (EDIFACT) or 997/999 (X12) the hub would send for FILE.

    Exit 0: the acknowledgement accepts everything. Exit 1: it rejects part or all of FILE
    (the reasons on stderr). Exit 2: usage, unreadable file, or no envelope to acknowledge.
    """
    from adapters.edi import acks as edi_acks
    from hub.errors import HubError
    from hub.flows.acks import _our_ids, ack_settings

    if x12_kind not in (None, "997", "999"):
        typer.echo(f"--x12 must be 997 or 999, not {x12_kind!r}", err=True)
        raise typer.Exit(2)
    data = _read(file)
    profile = _profile(partner)
    settings = ack_settings(profile) if profile else None
    kind = x12_kind or (settings.x12_kind if settings else "997")
    charset_policy = profile.edi.charset_policy if profile else "lenient"
    if edi_acks.is_ack_file(data):
        typer.echo(f"{file}:line 1: IS_AN_ACK the file is an acknowledgement; acknowledgements are not "
                   "acknowledged", err=True)
        raise typer.Exit(2)
    try:
        acks = edi_acks.acks_for(data, str(file), charset_policy, x12_kind=kind, receipt=receipt)
    except HubError as exc:
        typer.echo((exc if exc.where.startswith(str(file)) else exc.located(str(file))).as_line(), err=True)
        raise typer.Exit(2)
    if not acks:
        typer.echo(f"{file}: NOTHING_TO_ACK no interchange to acknowledge", err=True)
        raise typer.Exit(2)
    groups: dict[str, list] = {}
    for item in acks:
        groups.setdefault(item.interchange_ref, []).append(item)
    rejected = False
    for subject, group in groups.items():
        standard = "edifact" if group[0].kind == "CONTRL" else "x12"
        ids = _our_ids(profile, standard) if profile else {}
        try:
            typer.echo(edi_acks.write_acks(group, control_ref, **ids).decode("latin-1"), nl=False)
        except (HubError, ValueError) as exc:
            typer.echo(f"{file}: ACK_NOT_WRITABLE {exc}", err=True)
            raise typer.Exit(2)
        for item in group:
            for error in item.errors + item.interchange_errors:
                typer.echo(f"{error.text or file}  -> {item.kind} code {error.code}", err=True)
            for message in item.messages:
                for error in message.errors:
                    typer.echo(f"{error.text or file}  -> {item.kind} message {message.ref} code {error.code}",
                               err=True)
        rejected |= any(item.result in ("rejected", "partially_accepted") for item in group)
    raise typer.Exit(1 if rejected else 0)

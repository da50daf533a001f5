"""``hub show DOC_KEY``: one canonical document's lineage, from the raw payload to what was pushed;
the store is only read.

Registered in hub/cli.py as a plain command (``app.command(name="show")``). Command line::

    hub show SUP-001/ASN-CGDD000101                  # a business key, as hub status / alerts print it
    hub show ShipmentNotice:SUP-001/ASN-CGDD000101   # TYPE:KEY, when two types share a key
    hub show ASN-CGDD000101                          # the last part of a key works when only one has it
    hub show DS-SUP-001 --format json                # one JSON object

DOC_KEY is a document's business key (the parts of a composite key joined by ``/``, as ``hub
status``, ``hub alerts`` and the audit trail print it), optionally prefixed by its type and a colon
(``TYPE:KEY``, as the hub's logs print ``doc_key``; the type in any case). The type is optional
because few keys are shared between types, and a batch id (``SUP-001:B1``) has a colon of its own:
only a known type name before the first colon is taken as the type. Without a type the key is
looked up in every type; an exact key wins over keys that only end with ``/DOC_KEY``; a key naming
more than one document is refused with the list of them.

Printed: the document (type, key, current version, status, source); every version with the run
that produced it and its raw evidence; the raw archive entries (sha256, size, where stored,
partner, received at, interchange control number); the inbox (ledger) rows and inbound
interchanges, or the pushed events; quarantine rows naming the document or its raw payloads; the
outbox rows that pushed it (target, status, attempts); its audit entries (with duplicate drops of
its payload and the outbox's sends); the Airflow runs, with their UI address when the api-server's
address is known (``AIRFLOW__API__BASE_URL``, else ``HUB_AIRFLOW_API_URL``, else
``AIRFLOW__API__PORT`` on ``AIRFLOW__API__HOST``).

JSON (``--format json``): ``{"query", "document", "versions", "archive", "inbox", "interchanges",
"events", "quarantine", "outbox", "audit", "runs"}`` (canonical_model.store.lineage.chain, plus
``runs``: the distinct Airflow task instances with ``url``).

Exit 0: printed. Exit 1: the store cannot be read (``WHERE: CODE message`` on stderr). Exit 2:
usage; an empty, overlong or unprintable DOC_KEY; an unknown key (the message lists close
matches); an ambiguous one (the message lists the documents it names, as TYPE:KEY).
"""
from __future__ import annotations

import enum
import json
import os
from typing import Any, Optional
from urllib.parse import quote

import typer

from hub.cli_common import reading_store, table

#: business keys are at most 255 characters (documents.business_key), document types 64
MAX_KEY, MAX_TYPE = 255, 64
#: documents listed in an ambiguous key's message
MAX_LISTED = 10
#: cells longer than this are cut in the text output (JSON has everything)
CELL = 80


class ShowFormat(str, enum.Enum):
    text = "text"
    json = "json"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"show: {message}", err=True)
    return typer.Exit(2)


def parse_key(text: str) -> tuple[Optional[str], str]:
    """``(doc_type or None, business key)`` of DOC_KEY; raises typer.Exit(2) for what cannot be a key."""
    from canonical_model.documents import DOCUMENT_TYPES

    text = text.strip()
    if not text:
        raise _fail("DOC_KEY is empty; give a document key, e.g. SUP-001/ASN-1 or ShipmentNotice:SUP-001/ASN-1")
    if len(text) > MAX_TYPE + 1 + MAX_KEY:  # checked before anything else looks at it
        raise _fail(f"DOC_KEY is {len(text)} characters long; a document key has at most {MAX_KEY}")
    if not text.isprintable():
        # escaped, never echoed raw: a terminal must not interpret what someone passed in
        shown = text[:60].encode("unicode_escape", "backslashreplace").decode("ascii")
        raise _fail(f"DOC_KEY {shown!r} contains control or unprintable characters; no document key does")
    head, colon, rest = text.partition(":")
    types = {name.lower(): name for name in DOCUMENT_TYPES}
    doc_type = types.get(head.strip().lower()) if colon else None
    key = rest.strip() if doc_type else text
    if not key:
        raise _fail(f"no key after {doc_type}:; e.g. {doc_type}:<business key>")
    if len(key) > MAX_KEY:
        raise _fail(f"the key is {len(key)} characters long; a document key has at most {MAX_KEY}")
    return doc_type, key


def airflow_base_url() -> Optional[str]:
    """The Airflow api-server (which serves the UI) as this environment names it, if it does."""
    for setting in ("AIRFLOW__API__BASE_URL", "HUB_AIRFLOW_API_URL"):
        value = os.environ.get(setting, "").strip()
        if value.startswith(("http://", "https://")):
            return value.rstrip("/")
    port = os.environ.get("AIRFLOW__API__PORT", "").strip()
    if port.isdigit():
        host = os.environ.get("AIRFLOW__API__HOST", "").strip()
        # a server listening on every interface is reached on this machine through the loopback
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"
    return None


def run_url(base: Optional[str], dag_id: Optional[str], run_id: Optional[str]) -> Optional[str]:
    """The UI page of a DAG run, as Airflow builds it (airflow.utils.helpers.build_airflow_dagrun_url)."""
    if not base or not dag_id or not run_id:
        return None
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe=':+')}"


def _runs(versions: list[dict[str, Any]], base: Optional[str]) -> list[dict[str, Any]]:
    runs: dict[tuple, dict[str, Any]] = {}
    for version in versions:
        run = version["run"]
        run["url"] = run_url(base, run["dag_id"], run["run_id"])
        if run["dag_id"]:
            key = (run["dag_id"], run["run_id"], run["task_id"])
            runs.setdefault(key, {"dag_id": run["dag_id"], "run_id": run["run_id"], "task_id": run["task_id"],
                                  "url": run["url"], "versions": []})["versions"].append(version["version"])
    return list(runs.values())


def _resolve(session, doc_type: Optional[str], key: str) -> tuple[str, str]:
    from canonical_model.store import lineage

    found = lineage.find(session, key, doc_type)
    if len(found) == 1:
        return found[0]
    if found:
        listed = ", ".join(f"{t}:{_cell(k, MAX_KEY)}" for t, k in found[:MAX_LISTED])
        more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        raise _fail(f"{key!r} names {len(found)} documents: {listed}{more}; give one of them as TYPE:KEY")
    close = lineage.similar(session, key, doc_type)
    what = f"{doc_type} {key!r}" if doc_type else repr(key)
    hint = f"; close matches: {', '.join(f'{t}:{_cell(k, MAX_KEY)}' for t, k in close)}" if close else ""
    raise _fail(f"no document {what}{hint}")


def show(
    doc_key: str = typer.Argument(..., metavar="DOC_KEY", help="business key, optionally TYPE:KEY"),
    output_format: ShowFormat = typer.Option(ShowFormat.text, "--format", case_sensitive=False,
                                             help="text (sections of tables) or json"),
) -> None:
    """Show where a document came from: raw archive entry, inbox, versions with their DAG runs, pushes, audit."""
    from canonical_model.store import lineage, open_store

    doc_type, key = parse_key(doc_key)
    with reading_store():
        store = open_store()
        try:
            with store.session() as session:
                found_type, found_key = _resolve(session, doc_type, key)
                chain = lineage.chain(session, found_type, found_key)
        finally:
            store.dispose()
    chain["runs"] = _runs(chain["versions"], airflow_base_url())
    if output_format is ShowFormat.json:
        typer.echo(json.dumps({"query": doc_key, **chain}, ensure_ascii=False, default=str))
        return
    typer.echo(render(chain))


# ------------------------------------------------------------------------------ text output


def _cell(value: Any, width: int = CELL) -> str:
    """One table cell: never a control character from stored data on the terminal, long text cut."""
    if value is None or value == "":
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str) \
        if isinstance(value, (dict, list)) else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _when(value: Optional[str]) -> str:
    return value[:19].replace("T", " ") if value else "-"


def _section(title: str, headers: tuple[str, ...], rows: list[tuple], uncut: tuple[str, ...] = ()) -> str:
    """A titled table; the ``uncut`` columns (addresses, keys) are never shortened."""
    if not rows:
        return f"{title}: none"
    widths = [10_000 if h in uncut else CELL for h in headers]
    return f"{title}\n{table(headers, [tuple(_cell(c, w) for c, w in zip(row, widths)) for row in rows])}"


def _evidence(evidence: dict[str, Any]) -> str:
    parts = [f"inbox {evidence['inbox_id']}" if evidence["inbox_id"] is not None else "",
             f"event {evidence['event_id']}" if evidence["event_id"] is not None else "",
             f"sha256 {evidence['raw_sha256'][:12]}" if evidence["raw_sha256"] else ""]
    return ", ".join(p for p in parts if p) or "-"


def render(chain: dict[str, Any]) -> str:
    doc = chain["document"]
    source = doc["source"] or {}
    lines = [f"{doc['type']} {_cell(doc['key'], MAX_KEY)}  version {doc['version']} of {len(chain['versions'])}"
             f"  status {_cell(doc['status'])}",
             "source: " + (", ".join(f"{k}={_cell(v)}" for k, v in source.items()) or "-")]
    sections = [
        _section("versions", ("version", "current", "created (UTC)", "producer", "dag", "run", "task", "evidence"),
                 [(v["version"], "yes" if v["current"] else "", _when(v["created_at"]), v["run"]["producer"],
                   v["run"]["dag_id"], v["run"]["run_id"], v["run"]["task_id"], _evidence(v["evidence"]))
                  for v in chain["versions"]]),
        _section("raw archive", ("sha256", "size", "stored", "name", "partner", "received (UTC)", "interchange"),
                 [(a["sha256"], a["size"], "inline (raw_archive row)" if a["inline"] else a["path"], a["first_name"],
                   a["partner"], _when(a["received_at"] or a["archived_at"]), a["control_ref"])
                  for a in chain["archive"]]),
        _section("inbox (ledger)", ("id", "channel", "partner", "name", "status", "received (UTC)", "processed (UTC)",
                                    "detail"),
                 [(r["id"], r["channel"], r["partner"], r["remote_path"] or r["name"], r["status"],
                   _when(r["received_at"]), _when(r["processed_at"]), r["detail"]) for r in chain["inbox"]]),
        _section("interchanges in", ("id", "partner", "standard", "control ref", "messages", "ack"),
                 [(i["id"], i["partner"], i["standard"], i["control_ref"], ", ".join(i["message_types"] or []),
                   i["ack_status"]) for i in chain["interchanges"]]),
        _section("events", ("id", "source", "kind", "partner", "delivery id", "status", "received (UTC)"),
                 [(e["id"], e["source"], e["kind"], e["partner"], e["delivery_id"], e["status"],
                   _when(e["received_at"])) for e in chain["events"]]),
        _section("quarantine", ("id", "reason", "status", "mentions", "where", "message"),
                 [(q["id"], q["reason_code"], q["status"], q["mentions"], q["location"], q["message"])
                  for q in chain["quarantine"]]),
        _section("outbox", ("id", "target", "operation", "status", "attempts", "sent (UTC)", "key"),
                 [(o["id"], o["target"], o["operation"], o["status"], o["attempts"], _when(o["sent_at"]),
                   o["idempotency_key"]) for o in chain["outbox"]], uncut=("key",)),
        _section("audit", ("when (UTC)", "actor", "action", "subject", "details"),
                 [(_when(a["at"]), a["actor"], a["action"], f"{a['subject_type']} {a['subject_key']}", a["details"])
                  for a in chain["audit"]]),
        _section("airflow runs", ("dag", "run", "task", "versions", "url"),
                 [(r["dag_id"], r["run_id"], r["task_id"], ", ".join(map(str, r["versions"])), r["url"])
                  for r in chain["runs"]], uncut=("url",)),
    ]
    return "\n".join(lines) + "\n\n" + "\n\n".join(sections)

"""``hub partner ...``: onboarding suppliers through profiles, templates and certification.

``check`` and ``certify`` print one line per rule (``ok``/``FAIL``/``note``) so the output can
be pasted into a mail to the supplier as is. Exit codes: 0 every rule passed, 1 some rule
failed, 2 usage (unknown partner, bad id, missing file argument).

The rule functions (:func:`check_profile`, :func:`certify_file`) are plain functions returning
:class:`RuleResult` lists; the commands only print them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from hub.cli_common import table

if TYPE_CHECKING:  # the CLI's --help must stay fast: heavy modules are imported inside commands
    from hub.partners import PartnerProfile

app = typer.Typer(help="Partner profiles: add, check, list, templates, certification, SFTP host keys.",
                  no_args_is_help=True)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: str  # ok | FAIL | note
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        return f"{self.status:<4} {self.rule}" + (f": {self.detail}" if self.detail else "")


def _ok(rule: str, detail: str = "") -> RuleResult:
    return RuleResult(rule, "ok", detail)


def _fail(rule: str, detail: str) -> RuleResult:
    return RuleResult(rule, "FAIL", detail)


def _note(rule: str, detail: str) -> RuleResult:
    return RuleResult(rule, "note", detail)


# --------------------------------------------------------------------------- check


def check_profile(profile_path: Path, connect: bool = False) -> list[RuleResult]:
    """Validate a profile file, its mappings and their golden cases, and optionally the SFTP login."""
    from hub.errors import HubError
    from hub.partners import display_path, load_profile

    try:
        profile = load_profile(profile_path)
    except HubError as exc:
        return [_fail("profile", exc.as_line())]
    results = [_ok("profile", f"{display_path(profile_path)} (stage {profile.stage}, timezone {profile.timezone})")]
    if not profile.messages:
        results.append(_fail("messages", "no message configured; add e.g. asn: {format: edifact, message: DESADV, "
                                         "version: D96A}"))
    for key, settings in sorted(profile.messages.items()):
        results.extend(_check_message(key, settings))
    results.extend(_check_crosswalks(profile))
    if connect:
        results.extend(check_sftp(profile))
    return results


def _check_schedule_writer(rule: str, settings) -> RuleResult:
    """Delivery schedules are written by code (DELFOR / 830 / sheets) or published to the portal, not mapped."""
    from adapters.edi.delivery_schedules import SUPPORTED_EDI

    if settings.format == "portal":
        return _ok(rule, "published to the Jiandaoyun portal form delivery_schedule_form; no mapping file")
    if settings.format in ("csv", "xlsx"):
        return _ok(rule, f"written as a {settings.format} sheet by adapters/sftp/spreadsheets.py; no mapping file")
    if SUPPORTED_EDI.get(settings.format) != (settings.message, settings.version):
        wanted = " ".join(SUPPORTED_EDI[settings.format]) if settings.format in SUPPORTED_EDI else "?"
        return _fail(rule, f"the hub writes {settings.format} delivery schedules as {wanted} only")
    return _ok(rule, "written by adapters/edi/delivery_schedules.py; no mapping file")


def _check_message(key: str, settings) -> list[RuleResult]:
    from hub.errors import HubError
    from hub.partners import MESSAGE_DOCUMENTS, display_path
    from mappings.engine import load_mapping
    from mappings.golden import discover, run_case

    rule = f"message {key} ({settings.describe()})"
    if key == "delivery_schedule":
        return [_check_schedule_writer(rule, settings)]
    path = settings.mapping_path()
    if path is None:
        return [_ok(rule, "read through the canonical template columns (hub partner template); no mapping file")]
    shown = display_path(path)
    if not path.is_file():
        return [_fail(rule, f"mapping {shown} does not exist; write it (mappings/README.md) or fix message/version")]
    try:
        mapping = load_mapping(path)
    except HubError as exc:
        return [_fail(rule, exc.as_line())]
    wanted = MESSAGE_DOCUMENTS[key]
    if mapping.target.__name__ != wanted:
        return [_fail(rule, f"mapping {shown} produces {mapping.target.__name__}, but {key} is a {wanted}")]
    results = [_ok(rule, f"mapping {shown}")]
    cases = discover(path)
    if not cases:
        results.append(_fail(f"golden {key}", f"no golden case under {display_path(path.parent / 'golden' / path.stem)}/; "
                                              "add a sample and its .expected.ndjson"))
    for case in cases:
        outcome = run_case(case)
        name = f"golden {key} {case.input.name}"
        results.append(_ok(name) if outcome.ok else _fail(name, outcome.diff.strip().splitlines()[0] if outcome.diff
                                                          else "differs"))
    return results


def _check_crosswalks(profile: "PartnerProfile") -> list[RuleResult]:
    from hub.errors import HubError
    from mappings.crosswalk import load_crosswalk

    results = []
    tables = set(profile.crosswalks) | ({"partners"} if profile.identity.erp_codes else set())
    for name in sorted(tables):
        try:
            shared = load_crosswalk(name, with_partners=False)
        except HubError as exc:
            results.append(_fail(f"crosswalk {name}", exc.as_line()))
            continue
        clashes = [f"{source},{code}: profile says {canonical!r}, {name}.csv says {shared.entries[(source, code)]!r}"
                   for (source, code), canonical in profile.crosswalk_rows(name).items()
                   if shared.entries.get((source, code), canonical) != canonical]
        rows = len(profile.crosswalk_rows(name))
        results.append(_fail(f"crosswalk {name}", "; ".join(clashes)) if clashes
                       else _ok(f"crosswalk {name}", f"{rows} partner row(s), no clash with {name}.csv"))
    return results


def check_sftp(profile: "PartnerProfile") -> list[RuleResult]:
    import stat

    from adapters.sftp.hook import SftpHook
    from hub.errors import HubError

    try:
        config = profile.sftp_config()
    except HubError as exc:
        return [_fail("sftp connection", f"{profile.sftp_conn_id}: {exc.code} {exc.message}")]
    results: list[RuleResult] = []
    try:
        with SftpHook(config) as hook:
            results.append(_ok("sftp login", config.where))
            folders = {"inbox": config.inbox_folder, "outbox": config.outbox_folder}
            if profile.sftp.after_collect == "archive":
                folders["archive"] = config.archive_folder
            for role, folder in folders.items():
                try:
                    attrs = hook.sftp.stat(folder or ".")
                except OSError as exc:
                    results.append(_fail(f"sftp {role} folder", f"{folder!r}: {exc.strerror or exc}"))
                    continue
                if attrs.st_mode is None or not stat.S_ISDIR(attrs.st_mode):
                    results.append(_fail(f"sftp {role} folder", f"{folder!r} is not a folder"))
                else:
                    results.append(_ok(f"sftp {role} folder", folder))
    except HubError as exc:
        # the hook's errors never carry the password (adapters/sftp/errors.py)
        results.append(_fail("sftp login", exc.as_line()))
    return results


# --------------------------------------------------------------------------- certify


def certify_file(profile: "PartnerProfile", path: Path) -> list[RuleResult]:
    """Run one supplier test file through the profile: envelope, mapping, validation, profile rules."""
    from adapters.edi.edifact import detect_format
    from hub.translate import translate
    from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate
    from validation.schemas import BATCH_REQUIRED

    try:
        data = path.read_bytes()
    except OSError as exc:
        return [_fail("readable", f"{path}: {exc.strerror or exc}")]
    results: list[RuleResult] = [_ok("readable", f"{len(data)} bytes")]
    fmt = detect_format(data[:512]) or _tabular_format(path)
    inbound = {k: m for k, m in profile.messages.items() if _direction(k) == "inbound"}
    formats = {m.format for m in inbound.values()}
    if fmt is None:
        results.append(_fail("format", f"not EDIFACT, X12, CSV or XLSX; this profile expects {sorted(formats)}"))
    elif fmt not in formats:
        results.append(_fail("format", f"{fmt} file, but the profile expects {sorted(formats) or 'no inbound message'}"))
    else:
        results.append(_ok("format", fmt))
    if fmt == "edifact":
        results.extend(_certify_edifact_envelope(profile, data, path.name, inbound))

    result = translate(data, path.name, partner=profile.partner_id, charset_policy=profile.edi.charset_policy)
    if result.errors:
        results.append(_fail("translate", "; ".join(e.as_line() for e in result.errors)))
    elif not result.documents:
        results.append(_fail("translate", "no document in the file"))
    else:
        results.append(_ok("translate", f"{len(result.documents)} document(s)"))
    for warning in result.warnings:
        # lenient charset decoding and nearest-release mappings are accepted but worth telling
        results.append(_note("translate warning", warning))

    wanted = {_document_of(k) for k in inbound}
    types = sorted({d.type for d in result.documents})  # type: ignore[attr-defined]
    unexpected = [t for t in types if t not in wanted]
    if result.documents:
        results.append(_fail("message configured", f"{', '.join(unexpected)} not among the profile's inbound messages")
                       if unexpected else _ok("message configured", ", ".join(types)))
    suppliers = sorted({getattr(d, "supplier_id") for d in result.documents if getattr(d, "supplier_id", None)})
    strangers = [s for s in suppliers if s != profile.supplier_id]
    if suppliers:
        results.append(_fail("supplier id", f"documents name supplier {', '.join(strangers)}, expected {profile.supplier_id}")
                       if strangers else _ok("supplier id", profile.supplier_id))

    ctx = ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS,
                            over_ship_tolerance_pct=profile.inbound.over_ship_tolerance_pct,
                            batch_required=profile.inbound.batch_required,
                            all_or_nothing=profile.inbound.all_or_nothing)
    checked = validate(result.documents, ctx)
    batch_failures = [f for f in checked.failures if f.code == BATCH_REQUIRED]
    other_failures = [f for f in checked.failures if f.code != BATCH_REQUIRED]
    if result.documents:
        results.append(_fail("validation", "; ".join(f"{f.document_type} {f.business_key} {f.where}: {f.code} "
                                                      f"{f.message}" for f in other_failures))
                       if other_failures else _ok("validation", "schema and business rules pass"))
    if profile.inbound.batch_required and result.documents:
        results.append(_fail("batch required", "; ".join(f"{f.business_key} {f.where}" for f in batch_failures))
                       if batch_failures else _ok("batch required", "every line has a batch number"))
    if profile.inbound.all_or_nothing and checked.failures:
        results.append(_note("all or nothing", "this partner's documents are rejected whole when any line fails"))
    return results


def _tabular_format(path: Path) -> Optional[str]:
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in ("csv", "xlsx") else None


def _direction(message: str) -> str:
    from hub.partners import MESSAGE_DIRECTIONS

    return MESSAGE_DIRECTIONS[message]


def _document_of(message: str) -> str:
    from hub.partners import MESSAGE_DOCUMENTS

    return MESSAGE_DOCUMENTS[message]


def _certify_edifact_envelope(profile: "PartnerProfile", data: bytes, filename: str, inbound: dict) -> list[RuleResult]:
    from adapters.edi.edifact import parse_interchanges
    from hub.errors import HubError

    edi = profile.edi
    configured = {(m.message, m.version) for m in inbound.values() if m.format == "edifact"}
    results: list[RuleResult] = []
    try:
        for interchange in parse_interchanges(data, filename, edi.charset_policy):
            ref = f"interchange {interchange.control_ref}"
            sender = interchange.sender + (f":{interchange.sender_qualifier}" if interchange.sender_qualifier else "")
            if interchange.sender != edi.their_id or (edi.their_qualifier and interchange.sender_qualifier != edi.their_qualifier):
                want = edi.their_id + (f":{edi.their_qualifier}" if edi.their_qualifier else "")
                results.append(_fail("UNB sender", f"{ref}: {sender}, expected {want}"))
            else:
                results.append(_ok("UNB sender", f"{ref}: {sender}"))
            if interchange.recipient != edi.our_id or (edi.our_qualifier and interchange.recipient_qualifier != edi.our_qualifier):
                want = edi.our_id + (f":{edi.our_qualifier}" if edi.our_qualifier else "")
                results.append(_fail("UNB recipient", f"{ref}: {interchange.recipient}, expected {want}"))
            else:
                results.append(_ok("UNB recipient", f"{ref}: {interchange.recipient}"))
            results.append(_ok("UNB syntax", f"{ref}: {interchange.syntax}") if interchange.syntax == edi.syntax else
                           _fail("UNB syntax", f"{ref}: {interchange.syntax}, expected {edi.syntax}"))
            seen: dict[tuple[str, str], int] = {}
            for message in interchange.iter_messages():
                key = (message.type, f"{message.version}{message.release}")
                seen[key] = seen.get(key, 0) + 1
            for (mtype, version), n in sorted(seen.items()):
                name = f"UNH {mtype} {version}"
                results.append(_ok(name, f"{n} message(s)") if (mtype, version) in configured else
                               _fail(name, f"{n} message(s), but the profile expects "
                                           f"{', '.join(f'{m} {v}' for m, v in sorted(configured)) or 'no EDIFACT'}"))
    except HubError:
        pass  # an unreadable envelope is reported once, by the translate rule
    return results


# --------------------------------------------------------------------------- commands


def _render_results(results: list[RuleResult]) -> int:
    for result in results:
        typer.echo(result.line())
    failed = sum(r.failed for r in results)
    passed = sum(r.status == "ok" for r in results)
    typer.echo(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _profile_or_exit(partner_id: str) -> "PartnerProfile":
    from hub.errors import HubError
    from hub.partners import PARTNER_ID_RE, load_profile, profile_path

    if not PARTNER_ID_RE.match(partner_id):
        typer.echo(f"{partner_id!r}: UNKNOWN_PARTNER not a partner id (upper case, digits, - or _)", err=True)
        raise typer.Exit(2)
    try:
        return load_profile(profile_path(partner_id))
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2 if exc.code == "UNKNOWN_PARTNER" else 1)


@app.command("list")
def list_partners() -> None:
    """Every partner profile: id, name, channel, formats per message, rollout stage."""
    from hub.errors import HubError
    from hub.partners import load_partners

    try:
        profiles = load_partners()
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(1)
    rows = [(p.partner_id, p.name, p.channel,
             " ".join(f"{key}:{m.format}" + (f"/{m.message}/{m.version}" if m.message else "")
                      for key, m in sorted(p.messages.items())) or "-", p.stage)
            for p in sorted(profiles.values(), key=lambda p: p.partner_id)]
    typer.echo(table(("id", "name", "channel", "formats", "stage"), rows))


@app.command("add")
def add(partner_id: str = typer.Argument(..., metavar="ID", help="new partner id, e.g. SUP-003"),
        name: Optional[str] = typer.Option(None, "--name", help="partner's name (default: the id)")) -> None:
    """Scaffold mappings/partners/ID.yaml from the template (stage pilot); never overwrites."""
    from hub.errors import HubError
    from hub.partners import display_path, parse_profile, partner_dir, render_template

    target = partner_dir() / f"{partner_id}.yaml"
    try:
        text = render_template(partner_id, name)
        parse_profile(text, display_path(target), expected_id=partner_id)  # the template must stay valid
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2)
    try:
        # "x" = create only: refuses to overwrite even if the file appeared since we looked
        with target.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        typer.echo(f"{display_path(target)}: PARTNER_EXISTS the profile exists already; edit it instead", err=True)
        raise typer.Exit(2)
    typer.echo(f"created {display_path(target)} (stage pilot); edit it, then: hub partner check {partner_id}")


@app.command("check")
def check(partner_id: str = typer.Argument(..., metavar="ID"),
          connect: bool = typer.Option(False, "--connect", help="also log in to the SFTP server and check folders")) -> None:
    """Validate the profile, its mappings and their golden cases (and with --connect the SFTP account)."""
    from hub.partners import PARTNER_ID_RE, profile_path

    path = profile_path(partner_id) if PARTNER_ID_RE.match(partner_id) else None
    if path is None or not path.is_file():
        typer.echo(f"{partner_id}: UNKNOWN_PARTNER no profile {partner_id}.yaml; create it with hub partner add {partner_id}",
                   err=True)
        raise typer.Exit(2)
    raise typer.Exit(_render_results(check_profile(path, connect)))


@app.command("certify")
def certify(partner_id: str = typer.Argument(..., metavar="ID"),
            files: list[Path] = typer.Argument(..., metavar="FILES...", help="the supplier's test files")) -> None:
    """Run a supplier's test files through its profile; pass/fail per file and rule."""
    profile = _profile_or_exit(partner_id)
    typer.echo(f"certification of {profile.partner_id} {profile.name} (stage {profile.stage})")
    failed_files = 0
    for path in files:
        typer.echo(f"\n== {path.name}")
        results = certify_file(profile, path)
        for result in results:
            typer.echo(result.line())
        failed = any(r.failed for r in results)
        failed_files += failed
        typer.echo(f"{path.name}: {'FAIL' if failed else 'PASS'}")
    typer.echo(f"\n{len(files) - failed_files} of {len(files)} file(s) passed")
    raise typer.Exit(1 if failed_files else 0)


@app.command("template")
def template(partner_id: str = typer.Argument(..., metavar="ID"),
             message: str = typer.Option("asn", "--message", help="canonical message, e.g. asn"),
             fmt: Optional[str] = typer.Option(None, "--format", help="xlsx or csv (default: the profile's)"),
             out: Optional[Path] = typer.Option(None, "--out", help="file to write (default: ID_message.FORMAT)"),
             language: Optional[str] = typer.Option(None, "--language", help="header language (default: profile's)")) -> None:
    """Write a CSV/XLSX template for a small supplier, headers in their language."""
    from hub.errors import FatalError, HubError

    profile = _profile_or_exit(partner_id)
    configured = profile.messages.get(message)
    if fmt is None:
        fmt = configured.format if configured is not None and configured.format in ("csv", "xlsx") else None
    if fmt not in ("csv", "xlsx"):
        typer.echo(f"{partner_id}: USAGE --format csv|xlsx is needed ({message} is not a CSV/XLSX message "
                   "in this profile)", err=True)
        raise typer.Exit(2)
    path = out or Path(f"{partner_id}_{message}.{fmt}")
    try:
        write_template = _write_template()
        write_template(message, fmt, path, language or profile.identity.language, partner=profile.partner_id)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2 if exc.code == "UNKNOWN_MESSAGE" else 1)
    except ValueError as exc:  # an unknown format or language in the template writer
        typer.echo(FatalError("TEMPLATE_FAILED", str(exc), f"{partner_id} {message}").as_line(), err=True)
        raise typer.Exit(2)
    typer.echo(f"wrote {path}")


def _write_template():
    from hub.errors import FatalError

    try:
        from adapters.tabular.templates import write_template
    except ImportError as exc:
        raise FatalError("TEMPLATES_UNAVAILABLE",
                         f"adapters.tabular.templates.write_template is not available ({exc}); "
                         "the CSV/XLSX template writer is not installed in this checkout", "adapters/tabular") from None
    return write_template


# its own module (hub/cli_host_key.py), registered with the group it belongs to
from hub.cli_host_key import host_key as _host_key  # noqa: E402

app.command("host-key")(_host_key)

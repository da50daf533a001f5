"""``hub doctor``: is every configured Connection of the hub reachable and accepted?

One row per check (``connection  system  check  result  detail``), result ``ok``, ``FAIL`` or
``skip`` (the Connection is not configured, e.g. the ERP that ``HUB_ERP`` did not choose). The
checks are deliberately cheap and read-only: the plant's ERP logs in and reads one record,
Opcenter hands out a token and serves one order page, Jiandaoyun answers one API call, the WMS
one look-up, and every partner's SFTP login and folders (the same check as ``hub partner check
--connect``). Each hook gets one attempt and a short timeout, so an unreachable system fails in
seconds instead of backing off.

Exit codes: 0 every check ok or skipped, 1 some check failed, 2 usage. ``--json`` prints one
JSON object per row. Details never carry a secret: the adapters' errors are scrubbed already and
this module masks the Connection's secret values once more before printing.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Optional

import typer

from adapters.http_errors import scrub
from hub.cli_common import table

#: a check's work: returns the detail of a success, raises on failure
Step = Callable[[], str]

#: extra keys whose values are secrets (app_secret, webhook_secret, ingress_token, api_key, ...)
_SECRET_EXTRA = re.compile(r"secret|token|password|key", re.IGNORECASE)
#: the ASN number the WMS look-up asks for; no WMS holds it, the answer "none" proves the read works
WMS_PROBE_ASN = "HUB-DOCTOR-PROBE"


@dataclass(frozen=True)
class CheckRow:
    connection: str
    system: str
    check: str
    result: str  # ok | FAIL | skip
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.result == "FAIL"


HEADERS = ("connection", "system", "check", "result", "detail")


# --------------------------------------------------------------------------- plumbing


def _secret_values(conn: Any) -> list[str]:
    values = [conn.password] if getattr(conn, "password", None) else []
    extra = getattr(conn, "extra_dejson", None) or {}
    values += [str(v) for k, v in extra.items() if _SECRET_EXTRA.search(str(k)) and v not in (None, "")]
    # longest first, so a secret that contains another is masked whole
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def _failure_detail(exc: BaseException) -> str:
    from hub.errors import HubError

    if isinstance(exc, HubError):
        return exc.as_line()
    # the class name only: a library's message may quote a URL with its credentials
    return f"unexpected {type(exc).__name__}; run the system's own command for details"


def _lookup(conn_id: str) -> tuple[Optional[Any], Optional[CheckRow]]:
    """(the Connection, None), or (None, the row saying it is missing or broken)."""
    from hub.connections import conn_env_var, get_connection
    from hub.errors import HubError

    try:
        return get_connection(conn_id), None
    except HubError as exc:
        if exc.code == "CONNECTION_MISSING":
            return None, CheckRow(conn_id, "", "connection", "skip", f"not configured ({conn_env_var(conn_id)})")
        return None, CheckRow(conn_id, "", "connection", "FAIL", exc.as_line())


def _run_steps(conn_id: str, system: str, conn: Any, build: Callable[[Any], Any],
               steps: Callable[[Any], list[tuple[str, Step]]]) -> list[CheckRow]:
    """Build the hook from the Connection, then run its steps in order; a failure skips the rest."""
    secrets = _secret_values(conn)
    try:
        hook = build(conn)
    except Exception as exc:  # noqa: BLE001 - a broken Connection is a FAIL row, not a crash
        return [CheckRow(conn_id, system, "connection", "FAIL", scrub(_failure_detail(exc), secrets))]
    rows: list[CheckRow] = []
    try:
        failed_at = ""
        for check, step in steps(hook):
            if failed_at:
                rows.append(CheckRow(conn_id, system, check, "skip", f"not tried: {failed_at} failed"))
                continue
            try:
                rows.append(CheckRow(conn_id, system, check, "ok", scrub(step(), secrets)))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a row
                failed_at = check
                rows.append(CheckRow(conn_id, system, check, "FAIL", scrub(_failure_detail(exc), secrets)))
    finally:
        hook.close()
    return rows


def _short(config: Any, timeout: float) -> Any:
    """The settings with at most ``timeout`` seconds per connect/read: the doctor must not hang."""
    return config.model_copy(update={"timeout": min(config.timeout, timeout)})


# --------------------------------------------------------------------------- the systems


def _kingdee(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.kingdee import KingdeeConfig, KingdeeHook

    def build(c: Any) -> Any:
        return KingdeeHook(_short(KingdeeConfig.from_connection(c), timeout), max_attempts=1)

    def steps(hook: Any) -> list[tuple[str, Step]]:
        def login() -> str:
            hook.login()
            return f"user {hook.config.username} on data centre {hook.config.acct_id}"

        def read() -> str:
            # the first row only: the generator stops before asking for a second page
            first = next(hook.execute_bill_query("BD_MATERIAL", ["FNumber"], page_size=1), None)
            return f"BD_MATERIAL answered ({'a row' if first else 'no rows'})"

        return [("login", login), ("read", read)]

    return build, steps


def _u9(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.u9.config import U9SoapConfig
    from adapters.u9.hook import U9SoapHook

    def build(c: Any) -> Any:
        return U9SoapHook(_short(U9SoapConfig.from_connection(c), timeout), max_attempts=1)

    def steps(hook: Any) -> list[tuple[str, Step]]:
        # classic U9 has no login (the context travels with each call): the read is the check
        def read() -> str:
            page = next(hook.query_pages("materials", None, page_size=1), [])
            return f"item query answered for enterprise {hook.config.enterprise_id} ({len(page)} row(s))"

        return [("read", read)]

    return build, steps


def _u9cloud(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.u9.cloud_hook import U9CloudHook
    from adapters.u9.config import U9CloudConfig

    def build(c: Any) -> Any:
        return U9CloudHook(_short(U9CloudConfig.from_connection(c), timeout), max_attempts=1)

    def steps(hook: Any) -> list[tuple[str, Step]]:
        def login() -> str:
            hook.login()
            return f"client {hook.config.client_id}, org {hook.config.org_code}"

        def read() -> str:
            page = next(hook.sql_pages("CBO_ItemMaster", ["Code"], page_size=1), [])
            return f"CBO_ItemMaster answered ({len(page)} row(s))"

        return [("login", login), ("read", read)]

    return build, steps


def _opcenter(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.opcenter import OpcenterConfig, OpcenterHook

    def build(c: Any) -> Any:
        return OpcenterHook(_short(OpcenterConfig.from_connection(c), timeout), max_attempts=1)

    def steps(hook: Any) -> list[tuple[str, Step]]:
        cfg = hook.config

        # the token is fetched on the way: a refused client secret fails this step
        def token_and_read() -> str:
            hook.read_page(cfg.order_app, cfg.order_set, {"$top": "1"})
            return f"token for client {cfg.client_id}; {cfg.order_app}/{cfg.order_set} answered"

        return [("token + read", token_and_read)]

    return build, steps


def _jiandaoyun(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.jiandaoyun import JiandaoyunConfig, JiandaoyunHook

    def build(c: Any) -> Any:
        return JiandaoyunHook(_short(JiandaoyunConfig.from_connection(c), timeout), max_attempts=1)

    def steps(hook: Any) -> list[tuple[str, Step]]:
        def api_call() -> str:
            forms = hook.config.forms
            if not forms:
                from hub.errors import FatalError

                raise FatalError("JDY_CONFIG", "no form configured (extras <purpose>_form)", "jiandaoyun_default")
            purpose = sorted(forms)[0]
            widgets = hook.widgets(forms[purpose])
            return f"{purpose} ({forms[purpose]}): {len(widgets)} widget(s)"

        return [("api call", api_call)]

    return build, steps


def _wms(conn: Any, timeout: float) -> tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, Step]]]]:
    from adapters.wms.config import WmsConfig
    from adapters.wms.hook import WmsHook

    def build(c: Any) -> Any:
        return WmsHook(_short(WmsConfig.from_connection(c), timeout))

    def steps(hook: Any) -> list[tuple[str, Step]]:
        def read() -> str:
            found = hook.find_inbound(WMS_PROBE_ASN)
            return f"{hook.dialect}: ASN look-up answered ({'found' if found else 'none'} for {WMS_PROBE_ASN})"

        return [("read", read)]

    return build, steps


#: system -> (its default Connection, how to check it)
SYSTEM_CHECKS = {
    "kingdee": ("kingdee_default", _kingdee),
    "u9": ("u9_default", _u9),
    "u9cloud": ("u9cloud_default", _u9cloud),
    "opcenter": ("opcenter_default", _opcenter),
    "jiandaoyun": ("jiandaoyun_default", _jiandaoyun),
    "wms": ("wms_default", _wms),
}


def check_system(system: str, timeout: float) -> list[CheckRow]:
    conn_id, checks = SYSTEM_CHECKS[system]
    conn, missing = _lookup(conn_id)
    if missing is not None:
        return [CheckRow(missing.connection, system, missing.check, missing.result, missing.detail)]
    build, steps = checks(conn, timeout)
    return _run_steps(conn_id, system, conn, build, steps)


def check_erps(timeout: float) -> list[CheckRow]:
    """The plant's ERP (``HUB_ERP``) checked; the others are skipped without a look-up."""
    from hub.erp import ERP_SETTING, SYSTEMS, configured_system
    from hub.errors import HubError

    try:
        chosen = configured_system()
    except HubError as exc:
        return [CheckRow("-", "erp", ERP_SETTING, "FAIL", exc.as_line())]
    rows: list[CheckRow] = []
    for system in SYSTEMS:
        if system == chosen:
            rows.extend(check_system(system, timeout))
        else:
            rows.append(CheckRow(SYSTEM_CHECKS[system][0], system, "connection", "skip",
                                 f"not the plant's ERP ({ERP_SETTING}={chosen})"))
    return rows


def check_partners() -> list[CheckRow]:
    """Each partner's SFTP login and folders, through ``hub partner check --connect``'s own check."""
    from hub.cli_partner import check_sftp
    from hub.errors import HubError
    from hub.partners import load_partners

    try:
        partners = load_partners()
    except HubError as exc:
        return [CheckRow("-", "sftp", "partner profiles", "FAIL", exc.as_line())]
    rows: list[CheckRow] = []
    for partner_id, profile in sorted(partners.items()):
        conn_id = profile.sftp_conn_id
        system = f"sftp {partner_id}"
        conn, missing = _lookup(conn_id)
        if missing is not None:
            rows.append(CheckRow(conn_id, system, missing.check, missing.result, missing.detail))
            continue
        secrets = _secret_values(conn)
        for rule in check_sftp(profile):
            result = "FAIL" if rule.failed else "ok"
            rows.append(CheckRow(conn_id, system, rule.rule.removeprefix("sftp "), result, scrub(rule.detail, secrets)))
    return rows


def run_checks(timeout: float) -> Iterator[CheckRow]:
    yield from check_erps(timeout)
    for system in ("opcenter", "jiandaoyun", "wms"):
        yield from check_system(system, timeout)
    yield from check_partners()


# --------------------------------------------------------------------------- the command


def use_local_connections() -> None:
    """The Connections ``make up`` / ``make demo`` hand their processes, for a shell beside them: the
    ``.env`` first, then - where this machine's embedded default exists (``var/secrets.json``) - the
    simulators' Connections for what is still open. A variable set in the shell always wins."""
    from hub import runtime
    from hub.errors import HubError

    try:
        runtime.load_env_file()
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2)
    var = runtime.var_dir()
    if (var / "secrets.json").is_file():
        runtime.apply_environment(var, runtime.Ports.from_env())
        typer.echo(f"Connections not set in the environment: the embedded default's ({var})", err=True)



def doctor(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per row instead of the table."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per connect/read (at most)."),
) -> None:
    """Check every configured Connection: ERP login and read, Opcenter, Jiandaoyun, WMS, partners' SFTP."""
    use_local_connections()
    rows = list(run_checks(timeout))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(asdict(row), ensure_ascii=False))
    else:
        typer.echo(table(HEADERS, [(r.connection, r.system, r.check, r.result, r.detail) for r in rows]))
    raise typer.Exit(1 if any(r.failed for r in rows) else 0)

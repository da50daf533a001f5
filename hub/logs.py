"""The hub's own logs: human text or JSON lines, with context, and never a configured secret.

``configure_logging()`` is called by the hub's entry points (the ``hub`` CLI, ``hub serve``).
It puts one handler on the root logger, writing to stderr:

* ``HUB_LOG_FORMAT=json``: one JSON object per line: ``ts``, ``level``, ``logger``, ``message``,
  the context fields ``partner``, ``sha256``, ``doc_key`` (from :func:`log_context`) and
  ``dag_id``, ``dag_run_id``, ``task_id`` (from the ``AIRFLOW_CTX_*`` variables Airflow exports
  while a task runs), ``exception`` / ``stack`` when there is one, and any ``extra`` values.
  Fields without a value are left out. Output is ASCII: newlines, non-UTF-8 text and the like
  are escaped, so one record is always one line;
* otherwise (the default) human text: ``<time> <LEVEL> <logger>: <message>``.

``HUB_LOG_LEVEL`` sets the root level (default: what the entry point asks for).

Every record the handler writes has the configured secrets replaced by ``***``, raw, percent-
encoded and JSON-escaped: the password and the sensitive extras of every ``AIRFLOW_CONN_*``
variable (URI and JSON forms), every value of ``var/secrets.json``, whatever hub/notify/redact
registered (robot keys) and whatever :func:`register_secret` was given. Sources are re-read
when they change, so secrets set after start-up (the demo sets its Connections late) are known.

Inside Airflow tasks Airflow's own logging writes the task log; :func:`mask_connection` (called
for every Connection the hub reads from ``AIRFLOW_CONN_*``, a path Airflow never sees) hands the
same secrets to Airflow's masker, and :func:`log_context` binds its fields into structlog's
context, which Airflow's task log renders.

:func:`find_secrets_in_logs` is the check behind that promise: it greps a var directory's logs
for every value of its ``secrets.json``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional
from urllib.parse import quote, quote_plus

FORMAT_ENV, LEVEL_ENV = "HUB_LOG_FORMAT", "HUB_LOG_LEVEL"
CONTEXT_FIELDS = ("partner", "sha256", "doc_key")
#: what Airflow exports into os.environ before a task executes (task_runner: context_to_airflow_vars)
AIRFLOW_FIELDS = (("dag_id", "AIRFLOW_CTX_DAG_ID"), ("dag_run_id", "AIRFLOW_CTX_DAG_RUN_ID"),
                  ("task_id", "AIRFLOW_CTX_TASK_ID"))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
#: Airflow's own floor ([logging] min_length_masked_secret): shorter values would mask common words
MIN_SECRET_LENGTH = 5
#: Airflow's DEFAULT_SENSITIVE_FIELDS: a Connection extra whose name contains one of these is a
#: secret, the same rule Airflow applies to the extras of the Connections it loads
SENSITIVE_NAMES = ("access_key", "access_token", "api_key", "apikey", "auth_header", "authorization", "bearer",
                   "connection_string", "dsn", "passphrase", "passwd", "password", "private_key", "proxy",
                   "secret", "service_account", "service_key", "token", "keyfile_dict", "webhook_url")
#: uvicorn repeats each message with ANSI colours; noise in a log line
_IGNORED_EXTRAS = frozenset({"color_message"})
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "", (), None))) | {
    "message", "asctime", "taskName", *CONTEXT_FIELDS, *(name for name, _ in AIRFLOW_FIELDS)}

_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("hub_log_context", default={})


# ------------------------------------------------------------------------------------------ context


class LogScope:
    """The fields of one :func:`log_context` block; :meth:`bind` adds fields learnt inside it."""

    def __init__(self) -> None:
        self._tokens: list = []
        self._structlog_tokens: list[dict] = []

    def bind(self, **fields: Any) -> None:
        unknown = sorted(set(fields) - set(CONTEXT_FIELDS))
        if unknown:
            raise TypeError(f"log_context takes {', '.join(CONTEXT_FIELDS)}; not {', '.join(unknown)}")
        values = {name: str(value) for name, value in fields.items() if value is not None}
        self._tokens.append(_CONTEXT.set({**_CONTEXT.get(), **values}))
        structlog = sys.modules.get("structlog.contextvars")
        if structlog is not None and values:
            # Airflow's task log renders structlog's context (merge_contextvars): the fields show there too
            self._structlog_tokens.append(structlog.bind_contextvars(**values))

    def close(self) -> None:
        structlog = sys.modules.get("structlog.contextvars")
        for tokens in reversed(self._structlog_tokens):
            if structlog is not None:
                structlog.reset_contextvars(**tokens)
        if self._tokens:
            _CONTEXT.reset(self._tokens[0])


@contextmanager
def log_context(**fields: Any) -> Iterator[LogScope]:
    """Every record logged inside carries these fields (``partner``, ``sha256``, ``doc_key``)."""
    scope = LogScope()
    try:
        scope.bind(**fields)
        yield scope
    finally:
        scope.close()


def current_context() -> dict[str, str]:
    """The context fields of a record logged now: log_context's, then Airflow's task identity."""
    fields = dict(_CONTEXT.get())
    for name, env_name in AIRFLOW_FIELDS:
        value = os.environ.get(env_name)
        if value:
            fields[name] = value
    return fields


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_context().items():
            if not hasattr(record, name):  # an explicit extra wins
                setattr(record, name, value)
        return True


# ------------------------------------------------------------------------------------------ secrets


def secret_forms(value: str) -> set[str]:
    """How a secret can appear in a log: raw, percent-encoded (URI form, query strings), JSON-escaped."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _is_sensitive(name: str) -> bool:
    normalized = re.sub(r"\W+", "_", name.strip().lower())
    extra = os.environ.get("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "")
    names = SENSITIVE_NAMES + tuple(n.strip().lower() for n in extra.split(",") if n.strip())
    return any(part in normalized for part in names)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _sensitive_extras(extra: Any) -> Iterator[str]:
    if not isinstance(extra, Mapping):
        return
    for key, value in extra.items():
        if _is_sensitive(str(key)):
            yield from _strings(value)
        else:
            yield from _sensitive_extras(value)


def connection_secrets(conn: Any) -> list[str]:
    """The password and the sensitive extras of a Connection (``ConnectionParts`` or Airflow's)."""
    found = [conn.password] if getattr(conn, "password", None) else []
    found += _sensitive_extras(getattr(conn, "extra_dejson", None))
    return [value for value in found if isinstance(value, str) and value]


def _env_connection_secrets(value: str) -> list[str]:
    from hub.connections import parse_connection
    from hub.errors import FatalError

    try:
        return connection_secrets(parse_connection(value, "log_masking"))
    except FatalError:
        return [value]  # unparseable: the whole value is all we can know to hide


def _secrets_file() -> Path:
    from hub.runtime import var_dir

    return var_dir() / "secrets.json"


def _file_secrets(path: Path) -> list[str]:
    try:
        return list(_strings(json.loads(path.read_text(encoding="utf-8"))))
    except (OSError, ValueError):
        return []  # missing or unreadable: nothing to add (and nothing to log about it from here)


class SecretRegistry:
    """Every configured secret, as one compiled pattern, rebuilt when a source changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._explicit: set[str] = set()
        self._sources: Optional[tuple] = None
        self._values: frozenset[str] = frozenset()
        self._pattern: Optional[re.Pattern[str]] = None

    def add(self, *values: Optional[str]) -> None:
        new = {value for value in values if value} - self._explicit
        if new:
            with self._lock:
                self._explicit.update(new)
                self._sources = None  # rebuilt on next use

    def _source_state(self) -> tuple:
        path = _secrets_file()
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        # checked for every record: os.environ's own raw mapping, as decoding all of it costs ~1 ms
        raw = getattr(os.environ, "_data", None)
        if isinstance(raw, dict):
            connections = tuple(sorted((k, v) for k, v in raw.items() if k.startswith(b"AIRFLOW_CONN_")))
        else:
            connections = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")))
        notify = sys.modules.get("hub.notify.redact")
        robot_keys = frozenset(getattr(getattr(notify, "_FILTER", None), "_secrets", ()))
        return connections, str(path), stamp, robot_keys

    def values(self) -> frozenset[str]:
        """The raw secrets known now (without their encoded forms)."""
        self.pattern()
        return self._values

    def pattern(self) -> Optional[re.Pattern[str]]:
        state = self._source_state()
        with self._lock:
            if state == self._sources:
                return self._pattern
            connections, path, stamp, robot_keys = state
            values = set(self._explicit) | set(robot_keys)
            for _, value in connections:
                values.update(_env_connection_secrets(os.fsdecode(value)))
            if stamp is not None:
                values.update(_file_secrets(Path(path)))
            forms = {form for value in values for form in secret_forms(value)}
            # longest first, so a secret's encoded form is not half-masked by a shorter secret
            self._pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True)))) \
                if forms else None
            self._values, self._sources = frozenset(values), state
            return self._pattern


SECRETS = SecretRegistry()


def register_secret(*values: Optional[str]) -> None:
    """Mask these values too (raw and encoded) in the hub's logs."""
    SECRETS.add(*values)


Mask = Callable[[str], str]


def masker() -> Mask:
    """Masks the secrets known now (sources are checked once: take one per record, not per string)."""
    pattern = SECRETS.pattern()
    if pattern is None:
        return lambda text: text
    return lambda text: pattern.sub(MASK, text) if text else text


def redact(text: str) -> str:
    return masker()(text)


def _redact_value(value: Any, mask: Mask) -> Any:
    """``value`` with secrets masked in its strings; the very same object when there was none."""
    if isinstance(value, str):
        masked = mask(value)
        return value if masked == value else masked
    if isinstance(value, Mapping):
        items = [(_redact_value(k, mask), _redact_value(v, mask)) for k, v in value.items()]
        same = all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items()))
        return value if same else dict(items)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_redact_value(v, mask) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else type(value)(items)
    return value


_SENT_TO_AIRFLOW: set[str] = set()


def mask_connection(conn: Any) -> Any:
    """Register a Connection's secrets with the hub's masking and, in a process running Airflow
    tasks, with Airflow's masker (task logs): Airflow masks the Connections it loads itself, but
    the hub reads ``AIRFLOW_CONN_*`` on its own (hub/connections.py). Returns ``conn``."""
    register_secret(*connection_secrets(conn))
    if "airflow.sdk" in sys.modules:  # never import Airflow for this: the CLI must stay fast
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:
            return conn
        for value in sorted(SECRETS.values() - _SENT_TO_AIRFLOW):
            for form in secret_forms(value):
                mask_secret(form)
            _SENT_TO_AIRFLOW.add(value)
    return conn


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the record
        return f"{record.msg!s} (unformattable arguments: {record.args!r})"


class RedactingFilter(logging.Filter):
    """Masks every configured secret in a record: message, traceback, stack and ``extra`` values.

    The record is changed only where a secret was found (as Airflow's SecretsMasker does): other
    handlers then see it masked as well, and records without a secret stay as they came."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask = masker()
        message = _message(record)
        if mask(message) != message:
            record.msg, record.args = mask(message), ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if mask(text) != text:
                record.exc_text = mask(text)
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                record.__dict__[key] = _redact_value(value, mask)
        return True


# ------------------------------------------------------------------------------------------ output


def _printable(text: str) -> str:
    # lone surrogates (undecodable bytes read with surrogateescape) become visible \udcXX text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _jsonable(value: Any, mask: Mask) -> Any:
    if isinstance(value, str):
        return mask(_printable(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {mask(_printable(str(k))): _jsonable(v, mask) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, mask) for v in value]
    return mask(_printable(str(value)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": _message(record)}
        for name in (*CONTEXT_FIELDS, *(field for field, _ in AIRFLOW_FIELDS)):
            if getattr(record, name, None) is not None:
                line[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in _IGNORED_EXTRAS and key not in line:
                line[key] = value
        # every string is masked before serializing: masking the JSON text could cut an escape in two
        return json.dumps(_jsonable(line, masker()), ensure_ascii=True)


class TextFormatter(logging.Formatter):
    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        # on a copy whose message is already formatted: bad arguments must not lose the record
        safe = logging.makeLogRecord(vars(record))
        safe.msg, safe.args = _message(record), ()
        return redact(super().format(safe))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it), like logging's lastResort."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def _level(default: Optional[str]) -> Optional[int]:
    wanted = os.environ.get(LEVEL_ENV, "").strip().upper() or (default or "").upper()
    if not wanted:
        return None
    level = logging.getLevelName(wanted)
    return level if isinstance(level, int) else None


def configure_logging(default_level: Optional[str] = None) -> logging.Handler:
    """Install the hub's root handler (replacing one installed before); returns it.

    ``default_level``: the root level when ``HUB_LOG_LEVEL`` is not set; None leaves the root
    level as it is (the CLI: warnings and errors, as before there was a handler)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "hub_handler", False)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.hub_handler = True  # type: ignore[attr-defined]
    wanted = os.environ.get(FORMAT_ENV, "").strip().lower()
    # the CLI's text is its user interface (stderr: WHERE: CODE message): a log record there reads as
    # Python's last-resort handler printed it before, the bare message; services get time and logger
    plain = TextFormatter("%(message)s") if default_level is None else TextFormatter()
    handler.setFormatter(JsonFormatter() if wanted == "json" else plain)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    level = _level(default_level)
    if level is not None:
        root.setLevel(level)
    # without a chosen level the handler shows what Python's last-resort handler showed before it
    # existed (warnings and errors): libraries that set their own loggers to INFO (alembic) stay quiet
    handler.setLevel(level if level is not None else logging.WARNING)
    if wanted not in ("", "json", "text"):
        logging.getLogger("hub.logs").warning("%s=%r is neither json nor text; logging text", FORMAT_ENV, wanted)
    if os.environ.get(LEVEL_ENV, "").strip() and _level(None) is None:
        logging.getLogger("hub.logs").warning("%s=%r is not a logging level; ignored", LEVEL_ENV,
                                              os.environ[LEVEL_ENV])
    return handler


# ------------------------------------------------------------------------------------------ the check


def log_files(var: Path) -> list[Path]:
    """What the embedded runtime writes as logs: everything under var/logs and var/airflow/logs,
    and any other ``*.log`` under var."""
    found = {p for folder in (var / "logs", var / "airflow" / "logs") if folder.is_dir()
             for p in folder.rglob("*") if p.is_file()}
    found.update(p for p in var.rglob("*.log") if p.is_file())
    return sorted(found)


def find_secrets_in(paths: Iterable[Path], secrets: Mapping[str, str],
                    chunk_bytes: int = 1 << 20) -> list[tuple[Path, str]]:
    """``(path, secret name)`` for every secret found in a file, raw or encoded; files read in chunks."""
    needles = {name: [form.encode() for form in secret_forms(value)]
               for name, value in secrets.items() if isinstance(value, str) and value}
    overlap = max((len(n) for forms in needles.values() for n in forms), default=1) - 1
    hits: list[tuple[Path, str]] = []
    for path in paths:
        found: set[str] = set()
        tail = b""
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_bytes):
                window = tail + chunk
                found.update(name for name, forms in needles.items() if any(f in window for f in forms))
                tail = window[-overlap:] if overlap else b""
        hits.extend((path, name) for name in sorted(found))
    return hits


def find_secrets_in_logs(var: Path) -> list[tuple[Path, str]]:
    """Every (log file, secret name) where a value of ``var/secrets.json`` shows up in a log."""
    secrets = json.loads((var / "secrets.json").read_text(encoding="utf-8"))
    return find_secrets_in(log_files(var), secrets)

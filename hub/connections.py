"""Where endpoints and secrets come from: Airflow Connections, never code.

One mechanism for every adapter, as Airflow providers do it: ``get_connection(conn_id)``
returns a Connection (attributes ``conn_type``, ``host``, ``port``, ``schema``, ``login``,
``password``, ``extra_dejson``) and each adapter's ``Config.from_connection(conn)`` turns it
into typed settings.

``AIRFLOW_CONN_<CONN_ID>`` is read first, in either form Airflow accepts there (URI or JSON),
so the CLI and tests work without Airflow; otherwise the Connection is looked up through
Airflow (which also masks its password in task logs). Errors never echo a Connection value:
it holds secrets.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from hub.errors import FatalError
from hub.logs import mask_connection

#: keys of Airflow's JSON Connection form (``Connection.from_json``)
_JSON_KEYS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")


def conn_env_var(conn_id: str) -> str:
    """The environment variable Airflow's environment secrets backend reads for ``conn_id``."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@dataclass(frozen=True, repr=False)
class ConnectionParts:
    """An Airflow Connection parsed from ``AIRFLOW_CONN_<ID>``; attribute names are Airflow's."""

    conn_id: str
    conn_type: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    schema: Optional[str] = None
    login: Optional[str] = None
    password: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def extra_dejson(self) -> dict[str, Any]:
        return self.extra

    def __repr__(self) -> str:
        # no password, and extra keys only: extras can hold secrets too (app_secret, tokens)
        return (f"ConnectionParts(conn_id={self.conn_id!r}, conn_type={self.conn_type!r}, host={self.host!r}, "
                f"port={self.port!r}, schema={self.schema!r}, login={self.login!r}, "
                f"extra_keys={sorted(self.extra)!r})")


def get_connection(conn_id: str) -> Any:
    """The Airflow Connection ``conn_id``: ``AIRFLOW_CONN_<CONN_ID>`` if set, else Airflow's store."""
    env_name = conn_env_var(conn_id)
    value = os.environ.get(env_name, "").strip()
    if value:
        # read here, not through Airflow, so Airflow's masker would not know its secrets: tell it
        return mask_connection(parse_connection(value, conn_id))
    try:
        from airflow.sdk import BaseHook  # imported lazily: the core must not need Airflow

        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "not configured"
        raise FatalError("CONNECTION_MISSING",
                         f"Airflow Connection {conn_id!r} is not defined; set {env_name} (see .env.example)",
                         conn_id) from exc


def parse_connection(value: str, conn_id: str) -> ConnectionParts:
    """Parse Airflow's URI form (``type://login:password@host:port/schema?key=value``) or JSON form."""
    value = value.strip()
    if value.startswith("{"):
        return _from_json(value, conn_id)
    if "://" not in value:
        raise _invalid(conn_id, "is neither a URI (type://...) nor a JSON object")
    return _from_uri(value, conn_id)


def _invalid(conn_id: str, problem: str) -> FatalError:
    return FatalError("CONNECTION_INVALID", f"Airflow Connection {conn_id!r} {problem}", conn_id)


def _extra_object(extra: Any, conn_id: str, what: str) -> dict[str, Any]:
    if extra in (None, ""):
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise _invalid(conn_id, f"is malformed: {what} is not valid JSON (at char {exc.pos})") from None
    if not isinstance(extra, dict):
        raise _invalid(conn_id, f"is malformed: {what} is not a JSON object")
    return dict(extra)


def _from_json(value: str, conn_id: str) -> ConnectionParts:
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise _invalid(conn_id, f"is malformed: not valid JSON (at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise _invalid(conn_id, "is malformed: not a JSON object")
    unknown = sorted(set(data) - set(_JSON_KEYS))
    if unknown:
        raise _invalid(conn_id, f"is malformed: unknown JSON keys {unknown}; known: {list(_JSON_KEYS)}")
    port = data.get("port")
    if port not in (None, ""):
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise _invalid(conn_id, "is malformed: port is not an integer") from None
    else:
        port = None
    return ConnectionParts(
        conn_id=conn_id,
        conn_type=_normalize_conn_type(data.get("conn_type")),
        host=data.get("host"),
        port=port,
        schema=data.get("schema"),
        login=data.get("login"),
        password=data.get("password"),
        extra=_extra_object(data.get("extra"), conn_id, "extra"),
    )


def _from_uri(value: str, conn_id: str) -> ConnectionParts:
    # Mirrors airflow.models.Connection._parse_from_uri, including the two-scheme form
    # ``type://https://host`` that keeps the host's protocol.
    malformed = _invalid(conn_id, "is malformed (check the URI: type://login:password@host:port/schema?extras)")
    if value.count("://") > 2:
        raise malformed
    try:
        conn_type = urlsplit(value).scheme
        host_with_protocol = value.count("://") == 2
        rest = value.replace(f"{conn_type}://", "" if host_with_protocol else "//", 1)
        protocol = None
        if host_with_protocol:
            protocol, _, _ = rest.partition("://")
            if "@" in protocol or ":" in protocol:
                raise malformed
        parts = urlsplit(rest)
        port = parts.port
    except ValueError:
        # urlsplit's message can quote the netloc, which holds the password.
        raise malformed from None
    if not conn_type:
        raise malformed
    host = unquote(parts.hostname or "")
    if "/" in host:  # an encoded slash in the host: take the netloc literally, as Airflow does
        host = unquote(parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0])
    if protocol:
        host = f"{protocol}://{host}"
    extra: dict[str, Any] = {}
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if key == "__extra__":  # Airflow's get_uri() packs non-string extras as one JSON parameter
            extra = {**_extra_object(item, conn_id, "URI parameter __extra__"), **extra}
        else:
            extra[key] = item
    return ConnectionParts(
        conn_id=conn_id,
        conn_type=_normalize_conn_type(conn_type),
        host=host or None,
        port=port,
        schema=unquote(parts.path[1:]) or None,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra=extra,
    )


def _normalize_conn_type(conn_type: Optional[str]) -> Optional[str]:
    if not conn_type:
        return None
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


class ConnectionSettings:
    """Mixin for adapter settings built by ``from_connection(conn)``: the two other ways in.

    ``from_uri`` takes the URI (or JSON) form of an ``AIRFLOW_CONN_*`` value, ``from_conn_id``
    looks the Connection up (environment first, then Airflow). Subclasses set ``DEFAULT_CONN_ID``.
    """

    DEFAULT_CONN_ID: ClassVar[str]

    @classmethod
    def from_uri(cls, uri: str):
        return cls.from_connection(parse_connection(uri, cls.DEFAULT_CONN_ID))  # type: ignore[attr-defined]

    @classmethod
    def from_conn_id(cls, conn_id: Optional[str] = None):
        return cls.from_connection(get_connection(conn_id or cls.DEFAULT_CONN_ID))  # type: ignore[attr-defined]


def http_base_url(host: Optional[str], port: Optional[int], schema: Optional[str], extra: dict[str, Any],
                  default_path: str) -> str:
    """The base URL of an HTTP(S) service from Connection fields, the way the issue-5 contract reads them.

    Airflow's HTTP connections put the protocol in ``schema`` (``http``/``https``): honoured, and
    the service path then comes from extra ``path`` (default ``default_path``). A ``schema``
    that is not a protocol is taken as the path (the URI form ``type://host:port/<path>``).
    Extra ``protocol`` or a scheme pasted into ``host`` also set the protocol. Pops the extras
    it reads (``protocol``, ``path``) so callers can reject unknown ones.
    """
    protocol = str(extra.pop("protocol", "") or "")
    path = extra.pop("path", None)
    schema = (schema or "").strip()
    if schema.lower() in ("http", "https"):
        protocol = protocol or schema.lower()
    elif schema and path is None:
        path = schema
    host = str(host or "")
    if "://" in host:  # people paste the whole URL into Host; honour its scheme
        protocol, _, host = host.partition("://")
    host = host.rstrip("/")
    netloc = f"{host}:{port}" if port else host
    path = str(default_path if path is None else path).strip("/")
    base = f"{protocol or 'http'}://{netloc}"
    return f"{base}/{path}" if path else base

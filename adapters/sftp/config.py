"""Typed settings for a supplier SFTP drop box, read from the Airflow Connection.

The Connection id is ``supplier_sftp_default``; outside Airflow it comes from the environment
variable ``AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT`` in Airflow's URI form::

    sftp://sup001:s3cr%40t@127.0.0.1:2222/?known_hosts=/srv/hub/known_hosts&min_file_age_seconds=10

or Airflow's JSON form ``{"conn_type": "sftp", "host": ..., "login": ..., "password": ...,
"port": ..., "extra": {"known_hosts": ...}}``. Extras: ``known_hosts`` (required: host keys are
always verified), ``min_file_age_seconds``, ``inbox_folder``, ``outbox_folder``,
``archive_folder``, ``timeout``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.errors import FatalError

DEFAULT_CONN_ID = "supplier_sftp_default"

_EXTRA_FIELDS = ("known_hosts", "min_file_age_seconds", "inbox_folder", "outbox_folder", "archive_folder", "timeout")
# Airflow's own SFTP extras that would weaken host verification: refuse them loudly rather than
# silently ignoring a setting the operator believes is in effect.
_REFUSED_EXTRAS = ("no_host_key_check", "allow_host_key_change")


def conn_env_var(conn_id: str = DEFAULT_CONN_ID) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


class SftpConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    # SecretStr renders as '**********' in repr/str/model_dump_json; repr=False keeps the field
    # out of the repr entirely.
    password: SecretStr = Field(repr=False)
    known_hosts: Path
    #: a file is "ready" only once its server mtime is at least this old, so we never pick up a
    #: file the supplier is still writing (suppliers rarely use temp-name-then-rename).
    min_file_age_seconds: float = Field(default=10, ge=0)
    #: the supplier's outbound folder is our inbox ...
    inbox_folder: str = "out"
    #: ... and their inbound folder is our outbox.
    outbox_folder: str = "in"
    archive_folder: str = "archive"
    #: seconds for TCP connect, SSH banner, auth and each SFTP request
    timeout: float = Field(default=30, gt=0)

    @field_validator("inbox_folder", "outbox_folder", "archive_folder")
    @classmethod
    def _folder_is_relative_and_plain(cls, value: str) -> str:
        from adapters.sftp.errors import check_folder

        check_folder(value)
        return value

    @property
    def where(self) -> str:
        """Location prefix for errors and logs (no secret)."""
        return f"sftp://{self.username}@{self.host}:{self.port}"

    @classmethod
    def from_uri(cls, uri: str) -> "SftpConfig":
        """Parse an Airflow Connection URI (``sftp://user:password@host:port/?extra=value``)."""
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError:
            # urlsplit's message can quote the netloc, which holds the password.
            raise FatalError("SFTP_CONFIG", "connection URI is malformed (check host and port)") from None
        if parts.scheme not in ("sftp", "ssh"):
            raise FatalError("SFTP_CONFIG", f"connection URI scheme must be sftp://, got {parts.scheme!r}://")
        extras: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        if "__extra__" in extras:
            # Airflow's get_uri() packs non-string extras as one JSON query parameter.
            try:
                extras = {**json.loads(extras.pop("__extra__")), **extras}
            except (json.JSONDecodeError, TypeError):
                raise FatalError("SFTP_CONFIG", "connection URI parameter __extra__ is not a JSON object") from None
        return cls._build(
            host=parts.hostname or "",
            port=port,
            login=unquote(parts.username) if parts.username else "",
            password=unquote(parts.password) if parts.password else "",
            extras=extras,
        )

    @classmethod
    def from_json(cls, text: str) -> "SftpConfig":
        """Parse Airflow's JSON Connection form."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FatalError("SFTP_CONFIG", f"connection JSON is malformed at char {exc.pos}") from None
        extras = data.get("extra") or {}
        if isinstance(extras, str):
            extras = json.loads(extras) if extras else {}
        return cls._build(
            host=data.get("host") or "",
            port=data.get("port"),
            login=data.get("login") or "",
            password=data.get("password") or "",
            extras=dict(extras),
        )

    @classmethod
    def from_env(cls, conn_id: str = DEFAULT_CONN_ID, environ: dict[str, str] | None = None) -> "SftpConfig":
        """Read ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON form)."""
        env = os.environ if environ is None else environ
        name = conn_env_var(conn_id)
        value = env.get(name, "").strip()
        if not value:
            raise FatalError("SFTP_CONFIG", f"{name} is not set; define the Airflow Connection {conn_id!r}")
        config = cls.from_json(value) if value.startswith("{") else cls.from_uri(value)
        return config

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "SftpConfig":
        """The Airflow Connection ``conn_id``: ``AIRFLOW_CONN_<ID>`` if set, else Airflow's store."""
        from hub.connections import connection_uri  # Airflow is imported lazily there

        value = connection_uri(conn_id).strip()
        return cls.from_json(value) if value.startswith("{") else cls.from_uri(value)

    @classmethod
    def _build(cls, *, host: str, port: int | None, login: str, password: str, extras: dict[str, Any]) -> "SftpConfig":
        refused = [k for k in _REFUSED_EXTRAS if k in extras]
        if refused:
            raise FatalError(
                "SFTP_CONFIG",
                f"extras {refused} are not supported: host keys are always verified against known_hosts",
            )
        unknown = sorted(set(extras) - set(_EXTRA_FIELDS))
        if unknown:
            raise FatalError("SFTP_CONFIG", f"unknown connection extras {unknown}; known: {list(_EXTRA_FIELDS)}")
        if not extras.get("known_hosts"):
            raise FatalError("SFTP_CONFIG", "extra 'known_hosts' is required (path of an OpenSSH known_hosts file)")
        fields: dict[str, Any] = {"host": host, "username": login, "password": password, **extras}
        if port is not None:
            fields["port"] = port
        try:
            return cls(**fields)
        except ValidationError as exc:
            # Name the failing fields without echoing inputs (one of them is the password).
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
            raise FatalError("SFTP_CONFIG", f"invalid SFTP connection settings: {problems}") from None

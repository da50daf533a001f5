"""Typed settings for a supplier SFTP drop box, read from the Airflow Connection.

The Connection id is ``supplier_sftp_default`` (one per supplier in practice, named by the partner
profile's ``sftp_conn_id``), resolved by :func:`hub.connections.get_connection`: the environment
variable ``AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT`` if set, else Airflow's store. URI form::

    sftp://sup001:s3cr%40t@127.0.0.1:2222/?known_hosts=/srv/hub/known_hosts&min_file_age_seconds=10

or Airflow's JSON form ``{"conn_type": "sftp", "host": ..., "login": ..., "password": ...,
"port": ..., "extra": {"known_hosts": ...}}``. Extras: ``known_hosts`` (required: host keys are
always verified), ``private_key`` (PEM/OpenSSH private key text) or ``key_file`` (its path) for
key login - the Connection password is then the key's passphrase (may be empty) -,
``min_file_age_seconds``, ``inbox_folder``, ``outbox_folder``, ``archive_folder``, ``timeout``.
See adapters/sftp/README.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hub.connections import ConnectionSettings
from hub.errors import FatalError

DEFAULT_CONN_ID = "supplier_sftp_default"

_EXTRA_FIELDS = ("known_hosts", "private_key", "key_file", "min_file_age_seconds", "inbox_folder", "outbox_folder",
                 "archive_folder", "timeout")
# Airflow's own SFTP extras that would weaken host verification: refuse them loudly rather than
# silently ignoring a setting the operator believes is in effect.
_REFUSED_EXTRAS = ("no_host_key_check", "allow_host_key_change")


class SftpConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    # SecretStr renders as '**********' in repr/str/model_dump_json; repr=False keeps the field
    # out of the repr entirely.
    #: the login password, or - when a private key is configured - the key's passphrase
    password: SecretStr = Field(default=SecretStr(""), repr=False)
    #: private key text (PEM or OpenSSH format), a secret like the password
    private_key: SecretStr | None = Field(default=None, repr=False)
    #: path of a private key file on the worker (not secret itself; its content is)
    key_file: Path | None = None
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

    @model_validator(mode="after")
    def _one_credential(self) -> "SftpConfig":
        if self.private_key is not None and self.key_file is not None:
            raise ValueError("set either extra 'private_key' or 'key_file', not both")
        if not self.uses_key and not self.password.get_secret_value():
            raise ValueError("no credential: set the Connection password or a private key extra")
        return self

    @property
    def uses_key(self) -> bool:
        """Key login: the password field then only unlocks the key, it is never sent."""
        return self.private_key is not None or self.key_file is not None

    @property
    def where(self) -> str:
        """Location prefix for errors and logs (no secret)."""
        return f"sftp://{self.username}@{self.host}:{self.port}"

    @classmethod
    def from_connection(cls, conn: Any) -> "SftpConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`."""
        conn_type = getattr(conn, "conn_type", None)
        if conn_type and conn_type not in ("sftp", "ssh"):
            raise FatalError("SFTP_CONFIG", f"connection type (URI scheme) must be sftp or ssh, got {conn_type!r}")
        return cls._build(
            host=conn.host or "",
            port=conn.port,
            login=conn.login or "",
            password=conn.password or "",
            extras=dict(conn.extra_dejson or {}),
        )



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
        for empty in [k for k in ("private_key", "key_file") if k in extras and not extras[k]]:
            del extras[empty]  # Airflow's UI saves untouched fields as ""
        fields: dict[str, Any] = {"host": host, "username": login, "password": password, **extras}
        if port is not None:
            fields["port"] = port
        try:
            return cls(**fields)
        except ValidationError as exc:
            # Name the failing fields without echoing inputs (one of them is the password).
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
            raise FatalError("SFTP_CONFIG", f"invalid SFTP connection settings: {problems}") from None

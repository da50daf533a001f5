"""Deferrable waiting for a partner's SFTP inbox: an Airflow 3 trigger on asyncssh.

While a sensor waits for supplier files it must not hold a worker slot. The sensor
(:class:`adapters.sftp.sensors.SftpInboxSensor`) therefore defers to this trigger, which the
Airflow triggerer runs on its asyncio loop next to thousands of others; it polls the inbox
folder over one asyncssh connection (reused between polls, re-opened after a drop) and fires
one :class:`TriggerEvent` when files are ready, when the deadline passes, or on a fatal error.

Same rules as the paramiko hook: the server's key must be in the Connection's ``known_hosts``
file (asyncssh verifies it; nothing is ever added), only the Connection's own password or
private key is used (no agent, no ``~/.ssh`` keys or config), every step has a timeout, and no
secret is put in an event or a log line. "Ready" means what ``SftpHook.scan`` means: a plain
regular file, not hidden or ``*.part``, whose server mtime is at least the minimum age old.

Event payloads (JSON, small; XCom-safe):

* ``{"status": "ready", "files": [{"path", "name", "size", "mtime"}...], "rejected": [...]}``;
  ``rejected`` lists unsafe names (``repr``) that the collector must quarantine, so they fire
  the event too rather than sit unseen.
* ``{"status": "timeout", ...}`` - nothing arrived before ``deadline`` (an idle partner).
* ``{"status": "error", "kind": "fatal"|"retriable", "code", "message"}`` - fatal at once
  (bad credentials, host key); retriable only if still failing at the deadline.
"""
from __future__ import annotations

import asyncio
import posixpath
import stat
import time
from typing import Any, AsyncIterator

import asyncssh
from airflow.triggers.base import BaseTrigger, TriggerEvent

from adapters.sftp.config import DEFAULT_CONN_ID, SftpConfig
from adapters.sftp.errors import TEMP_SUFFIX, check_folder, name_problem
from hub.errors import FatalError, HubError, RetriableError

CLASSPATH = "adapters.sftp.triggers.SftpInboxTrigger"


class SftpInboxTrigger(BaseTrigger):
    """Fires when ``folder`` (default: the Connection's inbox folder) holds ready files.

    ``deadline`` is an absolute time (epoch seconds) so a trigger re-created after a
    triggerer restart keeps the original window. The trigger enforces it itself, which also
    bounds ``dag.test()`` runs, where triggers run inline without the scheduler's timeout.
    """

    def __init__(self, *, sftp_conn_id: str = DEFAULT_CONN_ID, deadline: float, folder: str | None = None,
                 min_file_age_seconds: float | None = None, poll_interval: float = 30.0) -> None:
        super().__init__()
        self.sftp_conn_id = sftp_conn_id
        self.deadline = float(deadline)
        self.folder = folder
        self.min_file_age_seconds = min_file_age_seconds
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"sftp_conn_id": self.sftp_conn_id, "deadline": self.deadline, "folder": self.folder,
                           "min_file_age_seconds": self.min_file_age_seconds, "poll_interval": self.poll_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            config = await _load_config(self.sftp_conn_id)
            folder = check_folder(config.inbox_folder if self.folder is None else self.folder, config.where)
        except HubError as error:
            yield TriggerEvent(_error_payload(error))
            return
        min_age = config.min_file_age_seconds if self.min_file_age_seconds is None else self.min_file_age_seconds
        poller = InboxPoller(config)
        last_error: RetriableError | None = None
        try:
            while True:
                try:
                    ready, rejected = await poller.poll(folder, min_age)
                    last_error = None
                except RetriableError as error:
                    # A flaky server is waited out until the deadline, then reported.
                    self.log.warning("SFTP poll failed, will retry: %s", error.as_line())
                    last_error = error
                    await poller.close()
                except HubError as error:
                    yield TriggerEvent(_error_payload(error))
                    return
                else:
                    if ready or rejected:
                        yield TriggerEvent(ready_event(self.sftp_conn_id, folder, ready, rejected))
                        return
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    if last_error is not None:
                        yield TriggerEvent(_error_payload(last_error))
                    else:
                        yield TriggerEvent(timeout_event(self.sftp_conn_id, folder, config.where,
                                                         " before the deadline"))
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
        finally:
            await poller.close()


class InboxPoller:
    """One asyncssh SFTP session, opened on first use and re-opened after a failure."""

    def __init__(self, config: SftpConfig) -> None:
        self.config = config
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    async def poll(self, folder: str, min_age: float, now: float | None = None) -> tuple[list[dict], list[str]]:
        """(ready files as dicts sorted by mtime/name, reprs of rejected names)."""
        sftp = await self._session()
        cfg = self.config
        try:
            entries = await asyncio.wait_for(sftp.readdir(folder), cfg.timeout)
        except asyncssh.SFTPNoSuchFile:
            raise FatalError("SFTP_FOLDER_MISSING", f"remote folder {folder!r} does not exist; create it on the "
                             "server or fix the folder setting", f"{cfg.where}/{folder}") from None
        except asyncssh.SFTPPermissionDenied:
            raise FatalError("SFTP_PERMISSION", f"permission denied on {folder!r}; ask the supplier to grant access",
                             f"{cfg.where}/{folder}") from None
        except (asyncssh.Error, OSError, asyncio.TimeoutError) as exc:
            raise RetriableError("SFTP_UNAVAILABLE", f"listing failed ({type(exc).__name__})",
                                 f"{cfg.where}/{folder}") from None
        cutoff = (time.time() if now is None else now) - min_age
        ready: list[dict] = []
        rejected: list[str] = []
        for entry in entries:
            name = entry.filename if isinstance(entry.filename, str) else entry.filename.decode("utf-8", "replace")
            if name in (".", "..") or name.startswith(".") or name.endswith(TEMP_SUFFIX):
                continue
            if entry.attrs.permissions is None or not stat.S_ISREG(entry.attrs.permissions):
                continue
            if name_problem(name):
                rejected.append(repr(name))
                continue
            mtime = float(entry.attrs.mtime or 0)
            if mtime <= cutoff:
                path = posixpath.join(folder, name) if folder else name
                ready.append({"path": path, "name": name, "size": int(entry.attrs.size or 0), "mtime": mtime})
        ready.sort(key=lambda f: (f["mtime"], f["name"]))
        return ready, sorted(rejected)

    async def _session(self) -> asyncssh.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        cfg = self.config
        options: dict[str, Any] = {
            "port": cfg.port, "username": cfg.username,
            # Pinned host key, the hub's file only; an unknown or changed key fails the login.
            "known_hosts": str(cfg.known_hosts),
            # Only the Connection's credential: no agent, no ~/.ssh keys or ~/.ssh/config.
            "agent_path": None, "config": None,
            "connect_timeout": cfg.timeout, "login_timeout": cfg.timeout,
        }
        if cfg.uses_key:
            options.update(client_keys=[_import_key(cfg)], password=None, preferred_auth="publickey")
        else:
            options.update(client_keys=None, password=cfg.password.get_secret_value(), preferred_auth="password")
        if not cfg.known_hosts.exists():
            raise FatalError("SFTP_HOST_KEY", f"known_hosts file {str(cfg.known_hosts)!r} does not exist; create it "
                             "with the server's host key", cfg.where)
        try:
            self._conn = await asyncio.wait_for(asyncssh.connect(cfg.host, **options), cfg.timeout * 2)
            self._sftp = await asyncio.wait_for(self._conn.start_sftp_client(), cfg.timeout)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            raise _classify_connect(exc, cfg) from None
        return self._sftp

    async def close(self) -> None:
        sftp, conn = self._sftp, self._conn
        self._sftp = self._conn = None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), self.config.timeout)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                pass  # closing a dead connection: nothing more to do


def _import_key(cfg: SftpConfig) -> asyncssh.SSHKey:
    passphrase = cfg.password.get_secret_value() or None
    source = f"key_file {str(cfg.key_file)!r}" if cfg.key_file is not None else "extra 'private_key'"
    try:
        if cfg.key_file is not None:
            return asyncssh.read_private_key(str(cfg.key_file), passphrase)
        return asyncssh.import_private_key(cfg.private_key.get_secret_value(), passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError, ValueError) as exc:
        # The exception text is not copied: it could quote key material.
        raise FatalError("SFTP_KEY", f"cannot load the private key from {source} ({type(exc).__name__}): check "
                         "the key and its passphrase (the Connection password)", cfg.where) from None


def _classify_connect(exc: BaseException, cfg: SftpConfig) -> HubError:
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return FatalError("SFTP_HOST_KEY", f"host key of {cfg.where} is not the one pinned in {cfg.known_hosts} "
                          "(unknown or changed). This can be a man-in-the-middle; refresh known_hosts only if the "
                          "supplier confirmed a key change", cfg.where)
    if isinstance(exc, asyncssh.PermissionDenied):
        return FatalError("SFTP_AUTH", f"authentication failed for user {cfg.username!r}; check the login and the "
                          "password or private key of the SFTP connection", cfg.where)
    return RetriableError("SFTP_UNAVAILABLE", f"SFTP server unreachable or connection lost ({type(exc).__name__})",
                          cfg.where)


def ready_event(conn_id: str, folder: str, files: list[dict], rejected: list[str]) -> dict[str, Any]:
    """The "ready" payload, the same whether the trigger or the sensor's first look found the files."""
    return {"status": "ready", "sftp_conn_id": conn_id, "folder": folder, "files": files, "rejected": rejected}


def timeout_event(conn_id: str, folder: str, where: str, when: str = "") -> dict[str, Any]:
    return {"status": "timeout", "sftp_conn_id": conn_id, "folder": folder,
            "message": f"no ready file in {where}/{folder}{when}"}


def _error_payload(error: HubError) -> dict[str, Any]:
    return {"status": "error", "kind": error.kind, "code": error.code, "message": error.as_line()}


async def _load_config(conn_id: str) -> SftpConfig:
    # Airflow's Connection lookup is synchronous (it may call the API server); inside the
    # triggerer's event loop it must run off-loop, which sync_to_async does the Airflow way.
    from asgiref.sync import sync_to_async

    return await sync_to_async(SftpConfig.from_conn_id)(conn_id)

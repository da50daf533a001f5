"""SFTP wire access for supplier drop boxes (paramiko). Connection, listing, transfer only.

The hook always verifies the server's host key against the configured known_hosts file
(``RejectPolicy``); there is deliberately no switch to turn that off. Every exception leaving a
public method is a :class:`hub.errors.HubError` classified in ``adapters/sftp/errors.py``.
"""
from __future__ import annotations

import hashlib
import io
import logging
import posixpath
import secrets
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Iterator

import paramiko

from adapters.sftp.config import DEFAULT_CONN_ID, SftpConfig
from adapters.sftp.errors import (
    TEMP_SUFFIX,
    StrictRejectPolicy,
    check_folder,
    check_path,
    check_upload_name,
    classify_connect_error,
    classify_io_error,
    name_problem,
)
from hub.errors import FatalError, HubError, SkippableError

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_PREFETCH_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    path: str  #: folder/name as passed back to read_bytes / open_read / archive / delete
    name: str
    size: int
    mtime: float  #: server mtime, seconds since the epoch (server clock)


@dataclass
class Listing:
    folder: str
    ready: list[RemoteFile] = field(default_factory=list)
    #: younger than min_file_age_seconds: maybe still being written
    waiting: list[RemoteFile] = field(default_factory=list)
    #: (name, problem) of entries whose names are unsafe
    rejected: list[tuple[str, str]] = field(default_factory=list)


class SftpHook:
    """``with SftpHook(config) as sftp: sftp.list_ready()`` - one SSH session per ``with``."""

    def __init__(self, config: SftpConfig) -> None:
        self.config = config
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "SftpHook":
        """Build from the Airflow Connection (``AIRFLOW_CONN_<CONN_ID>`` or Airflow's store)."""
        return cls(SftpConfig.from_conn_id(conn_id))

    def __repr__(self) -> str:
        return f"SftpHook({self.config.where})"

    # -- session -------------------------------------------------------------------------------

    def connect(self) -> "SftpHook":
        if self._sftp is not None:
            return self
        cfg = self.config
        client = paramiko.SSHClient()
        try:
            # load_host_keys (not load_system_host_keys): only the hub's own pinned file counts,
            # never whatever happens to be in the worker's ~/.ssh.
            client.load_host_keys(str(cfg.known_hosts))
        except FileNotFoundError:
            raise FatalError(
                "SFTP_HOST_KEY",
                f"known_hosts file {str(cfg.known_hosts)!r} does not exist; create it with the server's host key",
                cfg.where,
            ) from None
        client.set_missing_host_key_policy(StrictRejectPolicy())
        pkey = load_private_key(cfg) if cfg.uses_key else None
        try:
            client.connect(
                cfg.host,
                port=cfg.port,
                username=cfg.username,
                # With a key the password is its passphrase (already used above), never sent.
                password=None if pkey is not None else cfg.password.get_secret_value(),
                pkey=pkey,
                timeout=cfg.timeout,
                banner_timeout=cfg.timeout,
                auth_timeout=cfg.timeout,
                channel_timeout=cfg.timeout,
                # Only the configured credential: never try keys or an agent found on the worker.
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(cfg.timeout)
        except Exception as exc:
            client.close()
            error = classify_connect_error(exc, where=cfg.where, username=cfg.username, known_hosts=cfg.known_hosts)
            log.warning("SFTP connect failed: %s", error.as_line())
            raise error from None
        self._client, self._sftp = client, sftp
        log.debug("SFTP connected to %s", cfg.where)
        return self

    def close(self) -> None:
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        if sftp is not None:
            sftp.close()
        if client is not None:
            client.close()

    def __enter__(self) -> "SftpHook":
        return self.connect()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            raise RuntimeError("SftpHook is not connected; use it as a context manager")
        return self._sftp

    @contextmanager
    def _classified(self, path: str, missing: str = "file") -> Iterator[None]:
        try:
            yield
        except HubError:
            raise
        except Exception as exc:
            raise classify_io_error(
                exc, where=self.config.where, path=path, missing=missing, connection_lost=not self._transport_active()
            ) from None

    def _transport_active(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    # -- reading -------------------------------------------------------------------------------

    def list_ready(self, folder: str | None = None, now: float | None = None) -> list[RemoteFile]:
        """Regular files in ``folder`` (default: the inbox) whose server mtime is at least
        ``min_file_age_seconds`` before ``now`` (default: this machine's clock), sorted by
        (mtime, name). Hidden files and ``*.part`` names are in-progress uploads and skipped;
        names that are not plain printable basenames are skipped with a warning."""
        return self.scan(folder, now).ready

    def scan(self, folder: str | None = None, now: float | None = None) -> "Listing":
        """One listing of ``folder`` split into ready files, files still too young, and
        entries whose names were rejected (left on the server; the caller records them)."""
        folder = check_folder(self.config.inbox_folder if folder is None else folder, self.config.where)
        now = time.time() if now is None else now
        cutoff = now - self.config.min_file_age_seconds
        with self._classified(folder, missing="folder"):
            entries = self.sftp.listdir_attr(folder)
        listing = Listing(folder=folder)
        for entry in entries:
            name = entry.filename
            if name.startswith(".") or name.endswith(TEMP_SUFFIX):
                continue
            if entry.st_mode is None or not stat.S_ISREG(entry.st_mode):
                continue
            problem = name_problem(name)
            if problem:
                # It stays on the server untouched (nothing is lost); a human must rename it.
                log.warning("SFTP %s/%s: skipping file %r: %s", self.config.where, folder, name, problem)
                listing.rejected.append((name, problem))
                continue
            # Whole seconds (SFTP v3 has no sub-second mtime): a file can look up to 1 s older
            # than it is, which min_file_age_seconds (default 10) absorbs.
            mtime = float(entry.st_mtime or 0)
            remote = RemoteFile(path=_join(folder, name), name=name, size=int(entry.st_size or 0), mtime=mtime)
            (listing.waiting if mtime > cutoff else listing.ready).append(remote)
        listing.ready.sort(key=lambda f: (f.mtime, f.name))
        return listing

    def stat_file(self, path: str) -> RemoteFile:
        """Size and mtime of one file now (a second look right before download tells a file
        still being written from a finished one)."""
        folder, name = check_path(path, self.config.where)
        with self._classified(path):
            attrs = self.sftp.stat(path)
        return RemoteFile(path=path, name=name, size=int(attrs.st_size or 0), mtime=float(attrs.st_mtime or 0))

    def read_bytes(self, path: str) -> bytes:
        """The whole file (for small files; stream large ones with :meth:`open_read`)."""
        with self.open_read(path) as fh:
            return fh.read()

    def open_read(self, path: str) -> io.BufferedReader:
        """A streaming, read-only binary file object; errors while reading are classified too."""
        check_path(path, self.config.where)
        with self._classified(path):
            remote = self.sftp.open(path, "rb")
            size = remote.stat().st_size or 0
            # prefetch pipelines the reads (else each 32 KiB costs a round trip) but buffers
            # whatever arrives ahead of the consumer, up to the whole file; only allow that
            # where the whole file in memory is acceptable.
            if size <= _PREFETCH_MAX_BYTES:
                remote.prefetch(size)
        return io.BufferedReader(_ClassifiedReader(remote, self, path), buffer_size=_CHUNK)

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        with self.open_read(path) as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()

    # -- writing -------------------------------------------------------------------------------

    def upload_atomic(self, folder: str | None, name: str, data: bytes) -> str:
        """Upload ``data`` as ``folder/name`` (default folder: the outbox) so no reader ever
        sees a partial file: write ``.name.part``, then rename into place.

        Idempotent: if ``folder/name`` already holds identical bytes, nothing is written.
        If it holds different bytes, SkippableError SFTP_TARGET_EXISTS (never overwrite what
        a partner may already have read). Returns the remote path.
        """
        folder = check_folder(self.config.outbox_folder if folder is None else folder, self.config.where)
        check_upload_name(name, f"{self.config.where}/{folder}")
        target = _join(folder, name)
        temp = _join(folder, f".{name}{TEMP_SUFFIX}")
        with self._classified(folder, missing="folder"):
            self.sftp.stat(folder if folder else ".")
        if self._same_content_exists(target, data):
            log.info("SFTP %s/%s already present with identical content; not uploading again", self.config.where, target)
            return target

        with self._classified(temp):
            try:
                with self.sftp.open(temp, "wb") as fh:
                    fh.set_pipelined(True)
                    fh.write(data)
                written = self.sftp.stat(temp).st_size
                if written != len(data):
                    raise OSError(f"temp file holds {written} bytes, expected {len(data)}")
            except BaseException:
                self._remove_quietly(temp)
                raise

        # The existence check above and the rename below are not one atomic step; a concurrent
        # writer of the same name could slip in between. The outbox serialises uploads per
        # partner, so the only other writer would be the supplier (who never writes in/).
        if self._same_content_exists(target, data):
            self._remove_quietly(temp)
            return target
        try:
            with self._classified(target):
                try:
                    self.sftp.posix_rename(temp, target)
                except OSError as exc:
                    if isinstance(exc, (FileNotFoundError, PermissionError)):
                        raise
                    # Server lacks posix-rename@openssh.com: plain SFTP rename (which refuses
                    # to replace an existing target, which is what we want anyway).
                    self.sftp.rename(temp, target)
        except HubError:
            self._remove_quietly(temp)
            if self._same_content_exists(target, data):
                return target
            raise
        log.info("SFTP uploaded %s/%s (%d bytes)", self.config.where, target, len(data))
        return target

    def archive(self, path: str, archive_folder: str | None = None) -> str:
        """Move ``path`` into the archive folder; if the name is taken there, add a UTC
        timestamp and random suffix so no archived file is ever replaced. Returns the new path."""
        _, name = check_path(path, self.config.where)
        folder = check_folder(self.config.archive_folder if archive_folder is None else archive_folder, self.config.where)
        with self._classified(folder, missing="folder"):
            self.sftp.stat(folder if folder else ".")
        with self._classified(path):
            self.sftp.stat(path)  # a vanished source is SFTP_FILE_VANISHED, not a rename failure
        candidate = _join(folder, name)
        for _attempt in range(5):
            if not self._exists(candidate):
                try:
                    # Plain SFTP rename: refuses to replace an existing target, so a name taken
                    # since our check just means "try the next name".
                    with self._classified(path):
                        self.sftp.rename(path, candidate)
                    log.info("SFTP archived %s/%s -> %s", self.config.where, path, candidate)
                    return candidate
                except SkippableError:
                    raise
                except HubError:
                    if not self._exists(candidate):
                        raise
            candidate = _join(folder, _unique_name(name))
        raise FatalError("SFTP_ARCHIVE_NAME", f"could not find a free archive name for {name!r} in {folder!r}", self.config.where)

    def delete(self, path: str) -> bool:
        """Remove ``path``; False if it was already gone (so reruns are no-ops)."""
        check_path(path, self.config.where)
        try:
            with self._classified(path):
                self.sftp.remove(path)
        except SkippableError as exc:
            if exc.code == "SFTP_FILE_VANISHED":
                return False
            raise
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _exists(self, path: str) -> bool:
        try:
            with self._classified(path):
                self.sftp.stat(path)
        except SkippableError as exc:
            if exc.code == "SFTP_FILE_VANISHED":
                return False
            raise
        return True

    def _same_content_exists(self, target: str, data: bytes) -> bool:
        if not self._exists(target):
            return False
        with self._classified(target):
            size = self.sftp.stat(target).st_size
        same = size == len(data) and self.sha256(target) == hashlib.sha256(data).hexdigest()
        if not same:
            raise SkippableError(
                "SFTP_TARGET_EXISTS",
                f"{target!r} already exists with different content ({size} bytes, ours {len(data)}); "
                "not overwriting a file the partner may have read - send under a new name or resolve by hand",
                self.config.where,
            )
        return True

    def _remove_quietly(self, path: str) -> None:
        try:
            self.sftp.remove(path)
        except Exception:  # noqa: BLE001 - best effort cleanup; the original error matters more
            pass


_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def load_private_key(config: SftpConfig) -> paramiko.PKey:
    """The Connection's private key (``private_key`` text or ``key_file``), unlocked with the
    Connection password if it is encrypted. FatalError SFTP_KEY if it cannot be used; the
    message names the key source only, never its content or the passphrase."""
    passphrase = config.password.get_secret_value() or None
    if config.key_file is not None:
        source = f"key_file {str(config.key_file)!r}"
        try:
            text = config.key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise FatalError("SFTP_KEY", f"cannot read {source} ({type(exc).__name__}); fix the path or its "
                             "permissions", config.where) from None
    else:
        source = "extra 'private_key'"
        text = config.private_key.get_secret_value() if config.private_key is not None else ""
    encrypted = False
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            encrypted = True
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            # Also what a wrong passphrase looks like for some formats: try the next type.
            continue
    if encrypted and not passphrase:
        hint = "the key is encrypted: put its passphrase in the Connection password"
    else:
        hint = ("not an RSA, ECDSA or Ed25519 private key in PEM/OpenSSH format, or the passphrase (the "
                "Connection password) is wrong")
    raise FatalError("SFTP_KEY", f"cannot load the private key from {source}: {hint}", config.where)


class _ClassifiedReader(io.RawIOBase):
    """Raw stream over a paramiko SFTPFile that turns read errors into HubErrors."""

    def __init__(self, remote: paramiko.SFTPFile, hook: SftpHook, path: str) -> None:
        self._remote = remote
        self._hook = hook
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with self._hook._classified(self._path):
            chunk = self._remote.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            try:
                self._remote.close()
            except Exception:  # noqa: BLE001 - closing a dropped channel must not mask the read error
                pass
        super().close()


def _join(folder: str, name: str) -> str:
    return posixpath.join(folder, name) if folder else name


def _unique_name(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    extra = f"{stamp}-{secrets.token_hex(4)}"
    return f"{stem}.{extra}.{suffix}" if suffix else f"{name}.{extra}"

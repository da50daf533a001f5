"""Every SFTP failure is classified here, once (fatal / retriable / skippable).

| code                  | class     | when                                                        |
| --------------------- | --------- | ----------------------------------------------------------- |
| SFTP_AUTH             | fatal     | server rejected user/password or key                        |
| SFTP_KEY              | fatal     | private key unreadable, unknown type or wrong passphrase    |
| SFTP_HOST_KEY         | fatal     | server key unknown to, or different from, known_hosts       |
| SFTP_UNAVAILABLE      | retriable | refused, timeout, DNS, EOF, SSH transport dropped           |
| SFTP_REMOTE_FAILURE   | retriable | server answered a request with a generic failure            |
| SFTP_FOLDER_MISSING   | fatal     | a configured folder does not exist on the server            |
| SFTP_PERMISSION       | fatal     | server denied access to a folder or file                    |
| SFTP_FILE_VANISHED    | skippable | a listed file is gone when we read / move it                |
| SFTP_FILE_CHANGED     | skippable | a file changed while (or right before) we read it: still    |
|                       |           | being written; left alone, collected by a later run         |
| SFTP_TARGET_EXISTS    | skippable | upload target exists with different content                 |
| SFTP_BAD_NAME         | skippable | file name is not a plain, printable basename (fatal for a   |
|                       | / fatal   | configured folder)                                          |
| SFTP_CONFIG           | fatal     | connection settings missing or invalid (raised by config)   |

Messages name the server, user and path, never the password: callers pass ``where`` built
from :attr:`SftpConfig.where`, and no exception text that could hold a secret is copied in.
"""
from __future__ import annotations

import errno
import posixpath
import re
import socket
from pathlib import Path

import paramiko

from hub.errors import FatalError, HubError, RetriableError, SkippableError

# C0 and C1 control characters, DEL and the Unicode line/paragraph separators: none of them
# belong in a partner file name, and all of them can forge or break log lines and CSV reports.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_NAME_BYTES = 255
TEMP_SUFFIX = ".part"


class UnknownHostKeyError(paramiko.SSHException):
    """Raised by the hook's RejectPolicy when known_hosts has no entry for the server."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"Server {hostname!r} not found in known_hosts")
        self.hostname = hostname
        self.key = key


class StrictRejectPolicy(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, raising a distinct exception so it is classified reliably
    (RejectPolicy's own is a bare SSHException, indistinguishable from a dropped transport)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKeyError(hostname, key)


# -- names -----------------------------------------------------------------------------------


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe plain file name, or None if it is."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if name in (".", ".."):
        return "it refers to a directory"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if _CONTROL_CHARS.search(name):
        return "it contains control characters (newline, NUL, ...)"
    if len(name.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
        return f"it is longer than {_MAX_NAME_BYTES} bytes"
    return None


def check_name(name: str, where: str = "") -> str:
    """Return ``name`` if it is a plain basename; else SkippableError SFTP_BAD_NAME."""
    problem = name_problem(name)
    if problem:
        # !r escapes newlines and NULs so the message itself stays one honest line.
        raise SkippableError("SFTP_BAD_NAME", f"file name {name!r} rejected: {problem}; quarantine the record", where)
    return name


def check_upload_name(name: str, where: str = "") -> str:
    """Upload names must also not be hidden or temp names, which readers (ours too) skip."""
    check_name(name, where)
    if name.startswith(".") or name.endswith(TEMP_SUFFIX):
        raise SkippableError(
            "SFTP_BAD_NAME",
            f"file name {name!r} rejected: dotfiles and *{TEMP_SUFFIX} names are reserved for incomplete uploads",
            where,
        )
    return name


def check_folder(folder: str, where: str = "") -> str:
    """A configured folder: relative or absolute POSIX path of plain segments, no ``..``."""
    segments = folder.strip("/").split("/") if folder.strip("/") else []
    for segment in segments:
        problem = name_problem(segment)
        if problem:
            raise FatalError("SFTP_BAD_NAME", f"folder {folder!r} rejected: a segment {problem}; fix the setting", where)
    return folder


def check_path(path: str, where: str = "") -> tuple[str, str]:
    """Split a remote file path into (folder, name) after checking both; SkippableError if bad."""
    if not isinstance(path, str):
        raise SkippableError("SFTP_BAD_NAME", f"path {path!r} rejected: not a string", where)
    folder, name = posixpath.split(path)
    try:
        check_folder(folder, where)
    except FatalError as exc:
        # A bad path handed in for one record is that record's problem, not a config error.
        raise SkippableError(exc.code, f"path {path!r} rejected: {exc.message}", where) from None
    check_name(name, f"{where}:{folder}" if where else folder)
    return folder, name


# -- exceptions ------------------------------------------------------------------------------


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def classify_connect_error(exc: BaseException, *, where: str, username: str, known_hosts: Path) -> HubError:
    """Map an exception raised while connecting/authenticating to the hub taxonomy."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, paramiko.AuthenticationException):
        return FatalError(
            "SFTP_AUTH",
            f"authentication failed for user {username!r}; check the login and the password or "
            "private key of the SFTP connection (the account may also be locked on the supplier side)",
            where,
        )
    if isinstance(exc, paramiko.BadHostKeyException):
        return FatalError(
            "SFTP_HOST_KEY",
            f"host key of {where} does not match {known_hosts}: server offered "
            f"{_fingerprint(exc.key)}, known_hosts has {_fingerprint(exc.expected_key)}. This can be a "
            "man-in-the-middle; refresh known_hosts only if the supplier confirmed a key change",
            where,
        )
    if isinstance(exc, UnknownHostKeyError):
        return FatalError(
            "SFTP_HOST_KEY",
            f"server {exc.hostname} is not in {known_hosts} (it offered {_fingerprint(exc.key)}); add its "
            "host key after confirming the fingerprint with the supplier out of band",
            where,
        )
    return classify_io_error(exc, where=where, path="")


def classify_io_error(
    exc: BaseException, *, where: str, path: str, missing: str = "file", connection_lost: bool = False
) -> HubError:
    """Map an exception raised by an SFTP request. ``missing`` says what ENOENT means here:
    ``"folder"`` (a configured folder: fatal) or ``"file"`` (a listed file is gone: skippable).
    ``connection_lost`` tells a dead SSH transport apart from a server-side failure: paramiko
    raises the same bare ``OSError(text)`` for "Socket is closed" and for SSH_FX_FAILURE."""
    if isinstance(exc, HubError):
        return exc
    at = f"{where}/{path}" if path else where
    if connection_lost and not isinstance(exc, (FileNotFoundError, PermissionError)):
        return RetriableError("SFTP_UNAVAILABLE", f"SFTP connection lost ({type(exc).__name__}: {_safe_text(exc)})", at)
    if isinstance(exc, FileNotFoundError):
        if missing == "folder":
            return FatalError(
                "SFTP_FOLDER_MISSING",
                f"remote folder {path!r} does not exist; create it on the server or fix the folder setting",
                at,
            )
        return SkippableError(
            "SFTP_FILE_VANISHED",
            f"remote file {path!r} disappeared between listing and use (moved or deleted by someone else)",
            at,
        )
    if isinstance(exc, PermissionError):
        return FatalError("SFTP_PERMISSION", f"permission denied on {path!r}; ask the supplier to grant access", at)
    # Network-level trouble: retry later, the outbox/ledger keeps our state meanwhile.
    if isinstance(
        exc,
        (
            paramiko.ssh_exception.NoValidConnectionsError,
            socket.timeout,
            TimeoutError,
            ConnectionError,
            socket.gaierror,
            EOFError,
            paramiko.SSHException,
        ),
    ):
        return RetriableError("SFTP_UNAVAILABLE", f"SFTP server unreachable or connection lost ({type(exc).__name__}: {_safe_text(exc)})", at)
    if isinstance(exc, OSError) and exc.errno in (
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EPIPE,
    ):
        return RetriableError("SFTP_UNAVAILABLE", f"SFTP server unreachable ({_safe_text(exc)})", at)
    if isinstance(exc, OSError):
        # paramiko raises a bare IOError(text) for SSH_FX_FAILURE and friends: the server could
        # not do it now (disk full, lock, ...). Retrying is safe; every operation is idempotent.
        return RetriableError("SFTP_REMOTE_FAILURE", f"server refused the request on {path!r}: {_safe_text(exc)}", at)
    return RetriableError("SFTP_UNAVAILABLE", f"unexpected SFTP error {type(exc).__name__}: {_safe_text(exc)}", at)


def _safe_text(exc: BaseException) -> str:
    # Exception texts from paramiko/socket carry host, port and server messages, never our
    # password (it is only ever sent inside the encrypted auth request); still keep them short
    # and single-line so a hostile server cannot flood or forge our logs.
    text = _CONTROL_CHARS.sub("?", str(exc))
    return text[:300]

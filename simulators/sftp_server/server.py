"""A real SSH/SFTP server (asyncssh) standing in for a supplier's SFTP drop box.

Layout per supplier user (each user is chrooted to ``root/<user>/`` and sees it as ``/``)::

    in/       hub -> supplier (ORDERS, DELFOR, ...): the hub uploads here
    out/      supplier -> hub (DESADV, INVRPT, ...): the hub's inbox
    archive/  where the hub moves inbound files once they are safely stored

asyncssh is asyncio-based while the hub's hooks, the demo and the tests are synchronous, so
the server runs its own event loop in a daemon thread; ``start()`` blocks until the socket is
bound and returns the port (bind port 0 in tests so parallel runs never collide).
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import threading
from pathlib import Path
from types import TracebackType

import asyncssh

log = logging.getLogger(__name__)

USER_FOLDERS = ("in", "out", "archive")

# A user name becomes a directory name under root, so it must not be able to point elsewhere.
_SAFE_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_START_TIMEOUT_SECONDS = 10.0


class _SupplierSftp(asyncssh.SFTPServer):
    """Stock asyncssh SFTP file access, chrooted to the authenticated user's folder."""

    def __init__(self, chan: asyncssh.SSHServerChannel, root: Path) -> None:
        username = chan.get_extra_info("username")
        super().__init__(chan, chroot=os.fsencode(root / username))

    # A supplier drop box needs no links. asyncssh already keeps new links inside the chroot,
    # but refusing them outright means a link can never make one path name two files, which
    # would confuse the hub's "list, read, archive" bookkeeping.
    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("symlinks are disabled on this server")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("hard links are disabled on this server")


class _PasswordAuthServer(asyncssh.SSHServer):
    def __init__(self, owner: "SftpServer") -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        keys = self._owner._authorized_keys.get(username)
        if keys is not None and self._conn is not None and username in self._owner._users:
            self._conn.set_authorized_keys(str(keys))
        return True  # always require authentication

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._owner._users.get(username)
        if expected is None:
            # Compare anyway so unknown and known users take about the same time.
            hmac.compare_digest(password.encode(), b"\0" * 16)
            return False
        return hmac.compare_digest(password.encode(), expected.encode())

    def public_key_auth_supported(self) -> bool:
        return bool(self._owner._authorized_keys)


class SftpServer:
    """SSH/SFTP server on ``host:port`` serving ``root/<user>/`` to each user in ``users``.

    ``users`` maps user name to password. ``authorized_keys`` optionally maps a user name to an
    OpenSSH authorized_keys file for public-key login as that user. The ed25519 host key at
    ``host_key_path`` is generated on first start and reused afterwards, so the known_hosts
    line the clients pin stays valid across restarts.
    """

    def __init__(
        self,
        root: Path,
        users: dict[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        host_key_path: Path,
        authorized_keys: dict[str, Path] | None = None,
    ) -> None:
        for name in users:
            if not _SAFE_USER.match(name):
                raise ValueError(f"unsafe SFTP user name {name!r}: letters, digits, _ . - only")
        self.root = Path(root)
        self.host = host
        self.host_key_path = Path(host_key_path)
        self._requested_port = port
        self._users = dict(users)
        self._authorized_keys = {u: Path(p) for u, p in (authorized_keys or {}).items()}
        self._host_key: asyncssh.SSHKey | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()

    def __repr__(self) -> str:
        # Never show passwords; user names are not secret and help when debugging.
        return f"SftpServer(root={str(self.root)!r}, users={sorted(self._users)}, host={self.host!r}, port={self._port})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SftpServer is not running; call start() first")
        return self._port

    def start(self) -> int:
        """Create the user folders, bind, serve in a background thread; return the bound port."""
        if self._thread is not None:
            return self.port
        self._host_key = load_or_create_host_key(self.host_key_path)
        for user in self._users:
            for folder in USER_FOLDERS:
                (self.root / user / folder).mkdir(parents=True, exist_ok=True)

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sftp-simulator", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            future = asyncio.run_coroutine_threadsafe(self._listen(), loop)
            self._port = future.result(timeout=_START_TIMEOUT_SECONDS)
        except BaseException:
            self._shutdown_loop()
            raise
        log.info("SFTP simulator listening on %s:%s for users %s", self.host, self._port, sorted(self._users))
        return self._port

    def stop(self) -> None:
        """Close the listener and every open session, then end the loop thread."""
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=_START_TIMEOUT_SECONDS)
        finally:
            self._shutdown_loop()
            self._port = None

    def __enter__(self) -> "SftpServer":
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- known_hosts ---------------------------------------------------------------------------

    def known_hosts_line(self, host: str | None = None, port: int | None = None) -> str:
        """The OpenSSH known_hosts line pinning this server's host key."""
        key = self._host_key or load_or_create_host_key(self.host_key_path)
        return known_hosts_line(key, host or self.host, self.port if port is None else port)

    def write_known_hosts(self, path: Path, host: str | None = None, port: int | None = None) -> Path:
        """Write a known_hosts file containing only this server's key (clients verify it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.known_hosts_line(host, port) + "\n", encoding="ascii")
        return path

    # -- event-loop side -----------------------------------------------------------------------

    async def _listen(self) -> int:
        self._acceptor = await asyncssh.listen(
            self.host,
            self._requested_port,
            server_host_keys=[self._host_key],
            server_factory=lambda: _PasswordAuthServer(self),
            sftp_factory=lambda chan: _SupplierSftp(chan, self.root),
            # Only SFTP: no process_factory means shell/exec requests are refused, and the
            # other channel types a supplier account never needs are switched off.
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            # An unauthenticated client must not hold a connection open indefinitely.
            login_timeout=30,
        )
        return self._acceptor.get_port()

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        # Closing the listener leaves established sessions running; a "stopped" server must
        # behave like a dead host to clients, so drop them too.
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            await conn.wait_closed()
        self._connections.clear()

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=_START_TIMEOUT_SECONDS)
        if not loop.is_running():
            loop.close()


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """Read the ed25519 host key at ``path``; generate and persist it (mode 0600) if missing."""
    path = Path(path)
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="mes-hub sftp simulator")
    # Create with 0600 from the start: a host key readable by others lets anyone impersonate us.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.export_private_key("openssh"))
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    log.info("generated SFTP simulator host key at %s", path)
    return key


def known_hosts_line(key: asyncssh.SSHKey, host: str, port: int) -> str:
    """``[host]:port ssh-ed25519 AAAA...`` (bare ``host`` on port 22, as OpenSSH writes it)."""
    algorithm, blob = key.export_public_key("openssh").decode("ascii").split()[:2]
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {algorithm} {blob}"


def write_known_hosts(path: Path, host: str, port: int, host_key_path: Path) -> Path:
    """Write the known_hosts line for the host key at ``host_key_path`` served on ``host:port``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = known_hosts_line(load_or_create_host_key(host_key_path), host, port)
    path.write_text(line + "\n", encoding="ascii")
    return path

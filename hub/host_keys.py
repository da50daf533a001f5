"""Host keys of a partner's SFTP server: what the server presents, what its Connection pins, and
replacing the pin once the operator has confirmed the new key out of band (``hub partner host-key``).

Fingerprints are OpenSSH's (``SHA256:`` and the unpadded base64 of the key blob's sha256), as
``ssh-keygen -lf`` prints them, so a supplier can read theirs out over the phone.

Nothing here trusts a key on first use: :func:`trust` writes the known_hosts file only when the
fingerprint the operator typed is one the server presents at that moment, and then it replaces
every older entry of that host (a key that was rotated away must stop being accepted).

The wire part (:func:`presented_keys`) would sit in adapters/sftp/hook.py by the layout; it is here
because that adapter has another owner, and it only reads the key exchange, it never logs in.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from hub.errors import FatalError

if TYPE_CHECKING:
    from adapters.sftp.config import SftpConfig

#: what ``ssh-keygen -lf`` prints after the bit count: SHA256 and 43 unpadded base64 characters
FINGERPRINT_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")  # use fullmatch: no trailing-newline slack

#: one handshake per key family, so a server with (say) an RSA and an Ed25519 key shows both; the
#: first algorithm of a family the server accepts is used (rsa-sha2-* sign with the same ssh-rsa key).
#: These are the algorithms paramiko (the hook) verifies; SHA-1 ``ssh-rsa`` signatures it refuses.
KEY_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("ssh-ed25519",),
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"),
    ("rsa-sha2-512", "rsa-sha2-256"),
)
#: paramiko logs a family the server lacks as an ERROR with a traceback from its own thread; here
#: that is an expected answer (raised to us as IncompatiblePeer), so its log channel is silenced
_QUIET_CHANNEL = "hub.host_keys.transport"
_quiet = logging.getLogger(_QUIET_CHANNEL)
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class HostKey:
    key_type: str      # as known_hosts spells it: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa
    fingerprint: str   # SHA256:...
    base64: str        # the public key blob, for a known_hosts line

    @classmethod
    def of(cls, key: paramiko.PKey) -> "HostKey":
        return cls(key.get_name(), key.fingerprint, key.get_base64())


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH (and paramiko's SSHClient) looks a server up by: bare on port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def pinned_keys(known_hosts: Path, name: str) -> list[HostKey]:
    """The keys ``known_hosts`` holds for ``name`` (hashed entries too); none if the file is missing."""
    if not known_hosts.is_file():
        return []
    try:
        keys = paramiko.HostKeys(str(known_hosts)).lookup(name)
    except paramiko.hostkeys.InvalidHostKey as exc:
        # the hook (paramiko) refuses the whole file for one bad line, so the collection fails too
        raise FatalError("SFTP_HOST_KEY", f"known_hosts has a line the hub cannot read ({exc.exc}): "
                                          f"{exc.line.strip()[:80]!r}; fix or remove it", str(known_hosts)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError("SFTP_HOST_KEY", f"known_hosts unreadable ({type(exc).__name__})", str(known_hosts)) from None
    return sorted((HostKey.of(keys[t]) for t in keys.keys()), key=lambda k: k.key_type) if keys else []


def presented_keys(config: "SftpConfig") -> list[HostKey]:
    """Every host key the server offers (one key exchange per family, no login).

    Unreachable or refusing: ``RetriableError SFTP_UNAVAILABLE`` (adapters/sftp/errors.py).
    """
    from adapters.sftp.errors import classify_connect_error

    found: dict[str, HostKey] = {}
    incompatible = 0
    for family in KEY_FAMILIES:
        try:
            key = _one_key(config, family)
        except paramiko.IncompatiblePeer:
            incompatible += 1  # the server has no key of this family
            continue
        except Exception as exc:  # noqa: BLE001 - classified once, in the adapter's taxonomy
            raise classify_connect_error(exc, where=config.where, username=config.username,
                                         known_hosts=config.known_hosts) from None
        found.setdefault(key.fingerprint, key)
    if not found:
        raise FatalError("SFTP_HOST_KEY", f"the server offered none of the host key types the hub verifies "
                                          f"({', '.join(f[0] for f in KEY_FAMILIES)})", config.where)
    return sorted(found.values(), key=lambda k: k.key_type)


def _one_key(config: "SftpConfig", family: tuple[str, ...]) -> HostKey:
    sock = socket.create_connection((config.host, config.port), timeout=config.timeout)
    transport = paramiko.Transport(sock)
    transport.set_log_channel(_QUIET_CHANNEL)
    try:
        transport.get_security_options().key_types = family
        transport.banner_timeout = config.timeout
        transport.start_client(timeout=config.timeout)
        return HostKey.of(transport.get_remote_server_key())
    finally:
        transport.close()
        sock.close()


def trust(known_hosts: Path, name: str, key: HostKey) -> int:
    """Pin ``key`` for ``name``: every other entry of ``name`` goes, other hosts' lines stay as they were.

    Returns how many old entries were removed. The file is replaced atomically (same folder,
    rename), keeping its permissions; a missing file is created.
    """
    try:
        old = known_hosts.read_text(encoding="utf-8").splitlines(keepends=True) if known_hosts.exists() else []
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError("SFTP_HOST_KEY", f"known_hosts unreadable ({type(exc).__name__})", str(known_hosts)) from None
    kept: list[str] = []
    removed = 0
    for line in old:
        rewritten = _without_host(line, name)
        if rewritten != line:
            removed += 1
        if rewritten:
            kept.append(rewritten)
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    kept.append(f"{name} {key.key_type} {key.base64}\n")
    _replace(known_hosts, "".join(kept))
    return removed


def _without_host(line: str, name: str) -> str:
    """``line`` without ``name`` among its host names ("" when it named only that host)."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "@")):
        return line  # comments and @cert-authority/@revoked markers are the operator's, never ours to drop
    fields = stripped.split(None, 1)
    if len(fields) < 2:
        return line
    hosts = fields[0].split(",")
    others = [h for h in hosts if not _names(h, name)]
    if len(others) == len(hosts):
        return line
    return f"{','.join(others)} {fields[1]}\n" if others else ""


def _names(entry: str, name: str) -> bool:
    if entry.startswith("|1|"):  # hashed (HashKnownHosts yes): compare the hash with the same salt
        return paramiko.HostKeys.hash_host(name, entry) == entry
    return entry == name


def _replace(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FatalError("SFTP_HOST_KEY", f"cannot write known_hosts ({exc.strerror or type(exc).__name__})",
                         str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise FatalError("SFTP_HOST_KEY", f"cannot write known_hosts ({exc.strerror or type(exc).__name__})",
                         str(path)) from None


__all__ = ["FINGERPRINT_RE", "HostKey", "known_hosts_name", "pinned_keys", "presented_keys", "trust"]

"""`hub partner host-key`: the SFTP server's key against the one the partner's Connection pins, and
pinning a rotated key only when the fingerprint the supplier confirmed is the one the server presents.

The server is the project's SFTP simulator (asyncssh) on 127.0.0.1; the expected fingerprints come
from asyncssh reading the server's key file, not from the code under test.
"""
from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path
from urllib.parse import quote

import asyncssh
import paramiko
import pytest
from typer.testing import CliRunner

from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import SftpHook
from hub.cli import app
from hub.errors import FatalError
from hub.host_keys import HostKey, known_hosts_name, pinned_keys, trust

CONN_ENV = "AIRFLOW_CONN_SUPPLIER_SFTP_SUP001"
runner = CliRunner()


def host_key(*args: str):
    return runner.invoke(app, ["partner", "host-key", *args])


def server_fingerprint(tmp_path: Path) -> str:
    # the `sftp` fixture keeps the server's key at tmp_path/host_key
    return asyncssh.read_private_key(str(tmp_path / "host_key")).get_fingerprint("sha256")


def server_name() -> str:
    config = SftpConfig.from_conn_id("supplier_sftp_sup001")
    return known_hosts_name(config.host, config.port)


def other_key() -> HostKey:
    """Some other server's key (asyncssh-made, so its fingerprint is not computed by the code under test)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_type, blob = key.export_public_key("openssh").decode().split()[:2]
    return HostKey(key_type, key.get_fingerprint("sha256"), blob)


def test_the_pinned_key_the_server_presents_matches(sftp, tmp_path):
    result = host_key("SUP-001")

    assert result.exit_code == 0, result.output
    fingerprint = server_fingerprint(tmp_path)
    assert f"server  ssh-ed25519  {fingerprint}" in result.stdout
    assert f"pinned  ssh-ed25519  {fingerprint}" in result.stdout
    assert "match: the server presents the pinned key" in result.stdout
    assert f"entry {server_name()}" in result.stdout and "supplier_sftp_sup001" in result.stdout


def test_a_rotated_key_is_pinned_only_with_the_fingerprint_the_server_presents(sftp, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    old = other_key()
    name = server_name()
    # the pin of the key before the rotation, beside another host's line and the operator's comment
    before = (f"# pinned by hand, ticket OPS-12\nsftp.other.example ssh-ed25519 {other_key().base64}\n"
              f"{name} ssh-ed25519 {old.base64}\n")
    known_hosts.write_text(before)
    os.chmod(known_hosts, 0o640)
    with pytest.raises(FatalError) as refused:  # what the collection flow sees meanwhile
        SftpHook(SftpConfig.from_conn_id("supplier_sftp_sup001")).connect()
    assert refused.value.code == "SFTP_HOST_KEY"

    check = host_key("SUP-001")
    assert check.exit_code == 1 and "MISMATCH" in check.stdout and old.fingerprint in check.stdout
    assert "--trust SHA256:" in check.stdout

    wrong = host_key("SUP-001", "--trust", old.fingerprint)  # a well-formed fingerprint the server does not have
    assert wrong.exit_code == 1
    assert "HOST_KEY_NOT_PRESENTED" in wrong.stderr and "known_hosts unchanged" in wrong.stderr
    assert known_hosts.read_text() == before

    fingerprint = server_fingerprint(tmp_path)
    trusted = host_key("SUP-001", "--trust", fingerprint)
    assert trusted.exit_code == 0, trusted.output
    assert f"trusted ssh-ed25519 {fingerprint}" in trusted.stdout and "1 old entry removed" in trusted.stdout
    after = known_hosts.read_text().splitlines()
    assert after[:2] == before.splitlines()[:2]  # the comment and the other host stay as they were
    assert [line for line in after if line.startswith(name)] == [
        f"{name} ssh-ed25519 {HostKey.of(_server_pkey(tmp_path)).base64}"]
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o640
    assert runner.invoke(app, ["partner", "check", "SUP-001", "--connect"]).exit_code == 0

    again = host_key("SUP-001", "--trust", fingerprint)
    assert again.exit_code == 0 and "already pinned" in again.stdout
    assert known_hosts.read_text().splitlines() == after


def _server_pkey(tmp_path: Path) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key_file(str(tmp_path / "host_key"))


def test_a_server_never_pinned_is_pinned_only_when_confirmed(sftp, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.unlink()

    check = host_key("SUP-001")
    assert check.exit_code == 1 and "NOT PINNED" in check.stdout and "does not exist" in check.stdout
    assert not known_hosts.exists()  # never trusted on first use

    trusted = host_key("SUP-001", "--trust", server_fingerprint(tmp_path))
    assert trusted.exit_code == 0, trusted.output
    assert pinned_keys(known_hosts, server_name()) == [HostKey.of(_server_pkey(tmp_path))]
    assert host_key("SUP-001").exit_code == 0


@pytest.mark.parametrize("args", [
    ["SUP-404"],                                      # no such profile
    ["../SUP-001"],                                   # not a partner id
    ["SUP-001", "--trust", "d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"],  # MD5, not SHA256
    ["SUP-001", "--trust", "SHA256:short"],
    ["SUP-001", "--trust", "SHA256:" + "A" * 43 + "\n[evil]:22 ssh-ed25519 AAAA"],  # a line smuggled in
    ["SUP-001", "--trust", ""],
    ["SUP-001", "--trust"],                           # the option without its value
    [],
])
def test_usage_errors_exit_2_before_any_connection(args, monkeypatch):
    # a Connection to nowhere: were a connection tried, the exit would be 1 (unreachable), not 2
    monkeypatch.setenv(CONN_ENV, f"sftp://sup001:pw@127.0.0.1:{_closed_port()}/?known_hosts=/nonexistent")
    result = host_key(*args)
    assert result.exit_code == 2, result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_exits_1_naming_it(tmp_path, monkeypatch):
    port = _closed_port()
    monkeypatch.setenv(CONN_ENV, f"sftp://sup001:s3cret-pw@127.0.0.1:{port}/"
                                 f"?known_hosts={quote(str(tmp_path / 'known_hosts'), safe='')}")
    result = host_key("SUP-001", "--trust", "SHA256:" + "A" * 43)
    assert result.exit_code == 1
    assert f"sftp://sup001@127.0.0.1:{port}: SFTP_UNAVAILABLE" in result.stderr
    assert "s3cret-pw" not in result.output and not (tmp_path / "known_hosts").exists()


def test_a_server_that_does_not_speak_ssh_exits_1(tmp_path, monkeypatch):
    """A hostile or misconfigured endpoint (an HTTP server on the SFTP port) is unreachable, not a key."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer_http() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_http, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        monkeypatch.setenv(CONN_ENV, f"sftp://sup001:pw@127.0.0.1:{port}/"
                                     f"?known_hosts={quote(str(tmp_path / 'known_hosts'), safe='')}&timeout=5")
        result = host_key("SUP-001")
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert result.exit_code == 1
    assert "SFTP_UNAVAILABLE" in result.stderr


def test_a_broken_connection_exits_1_without_its_secret(monkeypatch):
    monkeypatch.setenv(CONN_ENV, "sftp://sup001:s3cret-pw@127.0.0.1:2222/")  # no known_hosts extra
    result = host_key("SUP-001")
    assert result.exit_code == 1 and "SFTP_CONFIG" in result.stderr and "known_hosts" in result.stderr
    assert "s3cret-pw" not in result.output


# --------------------------------------------------------------------------- the known_hosts rewrite


def test_trust_drops_every_entry_of_the_host_hashed_shared_or_duplicated(tmp_path):
    name = "[127.0.0.1]:2222"
    old, new, kept = other_key(), other_key(), other_key()
    path = tmp_path / "known_hosts"
    path.write_text(
        f"{paramiko.HostKeys.hash_host(name)} ssh-ed25519 {old.base64}\n"   # HashKnownHosts yes
        f"{name} ssh-ed25519 {old.base64}\n"
        f"{name} ssh-ed25519 {old.base64}\n"                                 # the same line twice
        f"# {name} was moved to the new rack\n"                               # a comment naming it
        f"sftp.example,{name} ssh-ed25519 {kept.base64}\n"                   # shared with another name
        f"[127.0.0.1]:22220 ssh-ed25519 {kept.base64}")                      # another port: another host

    removed = trust(path, name, new)

    assert removed == 4
    assert path.read_text().splitlines() == [
        f"# {name} was moved to the new rack",
        f"sftp.example ssh-ed25519 {kept.base64}",
        f"[127.0.0.1]:22220 ssh-ed25519 {kept.base64}",
        f"{name} ssh-ed25519 {new.base64}",
    ]
    assert pinned_keys(path, name) == [new]
    assert pinned_keys(path, "sftp.example") == [kept]


def test_a_known_hosts_line_the_hub_cannot_read_is_a_clear_error(sftp, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts.read_text() + f"{server_name()} ssh-ed25519 not-base64!\n")
    result = host_key("SUP-001")
    assert result.exit_code == 1 and "SFTP_HOST_KEY" in result.stderr and "known_hosts" in result.stderr


def test_port_22_is_pinned_under_the_bare_host_name():
    assert known_hosts_name("sftp.example", 22) == "sftp.example"
    assert known_hosts_name("sftp.example", 2222) == "[sftp.example]:2222"


def test_an_unwritable_known_hosts_is_a_clear_error(tmp_path):
    with pytest.raises(FatalError) as missing_folder:
        trust(tmp_path / "no-such-folder" / "known_hosts", "[127.0.0.1]:2222", other_key())
    assert missing_folder.value.code == "SFTP_HOST_KEY" and "no-such-folder" in missing_folder.value.where

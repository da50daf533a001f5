"""The supplier SFTP simulator is a real SSH server: talk to it with plain paramiko, verifying
its host key, exactly as the hub does."""
from __future__ import annotations

import io
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import asyncssh
import paramiko
import pytest

from simulators.sftp_server import SftpServer, write_known_hosts
from simulators.sftp_server.__main__ import parse_users

REPO = Path(__file__).resolve().parents[2]
USERS = {"sup001": "pw-one-Secret", "sup002": "pw-two-Secret"}


@pytest.fixture
def server(tmp_path: Path):
    srv = SftpServer(tmp_path / "sftp", USERS, host_key_path=tmp_path / "keys" / "ssh_host_ed25519_key")
    with srv:
        yield srv


def connect(server: SftpServer, known_hosts: Path, user: str = "sup001", password: str | None = None, **kw):
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1",
        port=server.port,
        username=user,
        password=USERS[user] if password is None else password,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
        **kw,
    )
    return client


@pytest.fixture
def known_hosts(server: SftpServer, tmp_path: Path) -> Path:
    return server.write_known_hosts(tmp_path / "known_hosts")


def test_start_binds_a_free_port_and_creates_user_folders(server: SftpServer, tmp_path: Path):
    assert server.port > 0
    for user in USERS:
        assert sorted(p.name for p in (tmp_path / "sftp" / user).iterdir()) == ["archive", "in", "out"]


def test_host_key_is_generated_private_and_reused_across_restarts(tmp_path: Path):
    key_path = tmp_path / "keys" / "ssh_host_ed25519_key"
    with SftpServer(tmp_path / "sftp", USERS, host_key_path=key_path) as first:
        line1 = first.known_hosts_line()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with SftpServer(tmp_path / "sftp", USERS, host_key_path=key_path) as second:
        line2 = second.known_hosts_line()
    # Ports differ (port 0), the pinned key must not.
    assert line1.split(" ", 1)[1] == line2.split(" ", 1)[1]


def test_known_hosts_line_is_openssh_format_and_verifies(server: SftpServer, known_hosts: Path):
    line = known_hosts.read_text().strip()
    assert re.fullmatch(rf"\[127\.0\.0\.1\]:{server.port} ssh-ed25519 AAAA[0-9A-Za-z+/]+=*", line)
    # The module-level helper (used when only the key file is at hand) writes the same line.
    other = write_known_hosts(known_hosts.with_name("kh2"), "127.0.0.1", server.port, server.host_key_path)
    assert other.read_text() == known_hosts.read_text()
    client = connect(server, known_hosts)
    client.close()


def test_round_trip_put_list_get(server: SftpServer, known_hosts: Path, tmp_path: Path):
    client = connect(server, known_hosts)
    try:
        sftp = client.open_sftp()
        sftp.putfo(io.BytesIO(b"UNH+1+ORDERS'"), "in/ORDERS_1.edi")
        assert sftp.listdir("in") == ["ORDERS_1.edi"]
        assert (tmp_path / "sftp" / "sup001" / "in" / "ORDERS_1.edi").read_bytes() == b"UNH+1+ORDERS'"
        buf = io.BytesIO()
        sftp.getfo("in/ORDERS_1.edi", buf)
        assert buf.getvalue() == b"UNH+1+ORDERS'"
    finally:
        client.close()


def test_chroot_keeps_each_supplier_in_its_own_folder(server: SftpServer, known_hosts: Path, tmp_path: Path):
    secret = tmp_path / "sftp" / "sup002" / "out" / "DESADV_secret.edi"
    secret.write_bytes(b"sup002 only")
    client = connect(server, known_hosts, "sup001")
    try:
        sftp = client.open_sftp()
        assert sorted(sftp.listdir("/")) == ["archive", "in", "out"]
        assert sftp.normalize("..") == "/"
        for escape in ("../sup002", "../sup002/out", "/../sup002/out", "../../sup002/out", "in/../../sup002/out"):
            with pytest.raises(FileNotFoundError):
                sftp.listdir(escape)
        with pytest.raises(FileNotFoundError):
            sftp.open("../sup002/out/DESADV_secret.edi", "rb")
        # Writing "outside" lands inside the chroot or fails; sup002's folder is untouched.
        with pytest.raises(IOError):
            sftp.putfo(io.BytesIO(b"x"), "../sup002/out/planted.edi")
        with pytest.raises(IOError):
            sftp.symlink("/../sup002/out/DESADV_secret.edi", "out/link")
    finally:
        client.close()
    assert sorted(p.name for p in secret.parent.iterdir()) == ["DESADV_secret.edi"]
    assert not (tmp_path / "sftp" / "sup001" / "out" / "link").exists()


def test_wrong_password_and_unknown_user_are_rejected(server: SftpServer, known_hosts: Path):
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, known_hosts, "sup001", password=USERS["sup002"])
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, known_hosts, "sup001", password="")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect("127.0.0.1", port=server.port, username="nobody", password="x", allow_agent=False, look_for_keys=False, timeout=10)


def test_public_key_auth_from_authorized_keys(tmp_path: Path):
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = tmp_path / "sup001.authorized_keys"
    authorized.write_bytes(user_key.export_public_key("openssh"))
    pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(user_key.export_private_key("openssh").decode()))
    with SftpServer(
        tmp_path / "sftp",
        USERS,
        host_key_path=tmp_path / "hostkey",
        authorized_keys={"sup001": authorized},
    ) as srv:
        kh = srv.write_known_hosts(tmp_path / "known_hosts")
        client = paramiko.SSHClient()
        client.load_host_keys(str(kh))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect("127.0.0.1", port=srv.port, username="sup001", pkey=pkey, allow_agent=False, look_for_keys=False, timeout=10)
        try:
            assert sorted(client.open_sftp().listdir(".")) == ["archive", "in", "out"]
        finally:
            client.close()
        # The same key is not valid for a user it was not authorized for.
        client = paramiko.SSHClient()
        client.load_host_keys(str(kh))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        with pytest.raises(paramiko.AuthenticationException):
            client.connect("127.0.0.1", port=srv.port, username="sup002", pkey=pkey, allow_agent=False, look_for_keys=False, timeout=10)


def test_stop_refuses_new_and_drops_open_sessions(tmp_path: Path):
    srv = SftpServer(tmp_path / "sftp", USERS, host_key_path=tmp_path / "hostkey")
    port = srv.start()
    kh = srv.write_known_hosts(tmp_path / "known_hosts")
    client = connect(srv, kh)
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(10)
    assert sorted(sftp.listdir(".")) == ["archive", "in", "out"]
    srv.stop()
    with pytest.raises((EOFError, OSError, paramiko.SSHException)):
        sftp.listdir(".")
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_repr_does_not_show_passwords(server: SftpServer):
    text = repr(server)
    assert "sup001" in text
    for password in USERS.values():
        assert password not in text


def test_unsafe_user_name_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unsafe"):
        SftpServer(tmp_path, {"../evil": "pw"}, host_key_path=tmp_path / "k")


def test_parse_users():
    assert parse_users("sup001:pw1, sup002:p:w2") == {"sup001": "pw1", "sup002": "p:w2"}
    with pytest.raises(ValueError) as err:
        parse_users("sup001:ok,sup002=pw-Leak")
    assert "#2" in str(err.value) and "pw-Leak" not in str(err.value)
    with pytest.raises(ValueError):
        parse_users("sup001:")
    with pytest.raises(ValueError):
        parse_users(" , ")


def test_cli_serves_users_from_env_and_writes_known_hosts(tmp_path: Path):
    root = tmp_path / "var" / "sftp"
    env = {**os.environ, "SFTP_SIM_USERS": "sup009:cli-Secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.sftp_server", "--root", str(root), "--port", "0", "--users-from-env"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait for the "listening" line (bounded), not for an arbitrary sleep.
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "simulator did not report readiness within 20 s"
        line = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        known_hosts = root / "known_hosts"
        assert known_hosts.read_text().startswith(f"[127.0.0.1]:{port} ssh-ed25519 ")
        assert (root / "sup009" / "out").is_dir()
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect("127.0.0.1", port=port, username="sup009", password="cli-Secret", allow_agent=False, look_for_keys=False, timeout=10)
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "cli-Secret" not in line + stderr


def test_cli_without_users_uses_labelled_demo_credentials(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "SFTP_SIM_USERS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.sftp_server", "--root", str(tmp_path), "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready
        proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert "DEMO-ONLY" in stderr
    assert proc.returncode == 0

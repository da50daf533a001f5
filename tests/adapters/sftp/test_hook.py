"""SftpHook against the real SFTP simulator on 127.0.0.1 (no mocks of our own code).

Files the *supplier* drops are created directly under the server root (``root/<user>/out``)
and aged with os.utime, so ages are exact and nothing waits on the wall clock.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import quote

import asyncssh
import pytest
from pydantic import SecretStr

from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import RemoteFile, SftpHook
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.sftp_server import SftpServer, known_hosts_line

PASSWORD = "S3cret-pw!with:odd@chars"
USERS = {"sup001": PASSWORD, "sup002": "other-Secret"}
T0 = 1_700_000_000.0  # a fixed "server time" for ages; tests pass now= explicitly


@pytest.fixture
def server(tmp_path: Path):
    with SftpServer(tmp_path / "sftp", USERS, host_key_path=tmp_path / "ssh_host_ed25519_key") as srv:
        yield srv


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "sftp"


@pytest.fixture
def config(server: SftpServer, tmp_path: Path) -> SftpConfig:
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")
    return SftpConfig(
        host="127.0.0.1", port=server.port, username="sup001", password=PASSWORD, known_hosts=known_hosts, timeout=10
    )


def drop(root: Path, rel: str, data: bytes, mtime: float) -> Path:
    """What a supplier's upload looks like on the server disk, with an exact mtime."""
    path = root / "sup001" / rel
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


# -- round trip -------------------------------------------------------------------------------


def test_upload_list_read_archive_round_trip(config: SftpConfig, root: Path):
    desadv = b"UNH+1+DESADV:D:96A:UN'BGM+351+ASN-1+9'UNT+3+1'"
    drop(root, "out/DESADV_1.edi", desadv, T0)
    with SftpHook(config) as hook:
        path = hook.upload_atomic(None, "ORDERS_4500001.edi", b"UNH+1+ORDERS'")
        assert path == "in/ORDERS_4500001.edi"
        assert (root / "sup001" / "in" / "ORDERS_4500001.edi").read_bytes() == b"UNH+1+ORDERS'"
        assert os.listdir(root / "sup001" / "in") == ["ORDERS_4500001.edi"]  # no temp left

        ready = hook.list_ready(now=T0 + 60)
        assert ready == [RemoteFile(path="out/DESADV_1.edi", name="DESADV_1.edi", size=len(desadv), mtime=T0)]
        assert hook.read_bytes(ready[0].path) == desadv

        archived = hook.archive(ready[0].path)
        assert archived == "archive/DESADV_1.edi"
        assert (root / "sup001" / "archive" / "DESADV_1.edi").read_bytes() == desadv
        assert hook.list_ready(now=T0 + 60) == []


@pytest.mark.parametrize("prefetch_limit", [64 * 1024 * 1024, 0], ids=["prefetch", "no-prefetch"])
def test_open_read_streams_large_file(config: SftpConfig, root: Path, monkeypatch, prefetch_limit: int):
    monkeypatch.setattr("adapters.sftp.hook._PREFETCH_MAX_BYTES", prefetch_limit)
    data = os.urandom(3 * 1024 * 1024 + 17)
    drop(root, "out/big.csv", data, T0)
    digest = hashlib.sha256()
    with SftpHook(config) as hook, hook.open_read("out/big.csv") as fh:
        while chunk := fh.read(64 * 1024):
            assert len(chunk) <= 64 * 1024
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_archive_never_replaces_an_archived_file(config: SftpConfig, root: Path):
    drop(root, "archive/DESADV_1.edi", b"first delivery", T0)
    drop(root, "out/DESADV_1.edi", b"second delivery", T0)
    with SftpHook(config) as hook:
        archived = hook.archive("out/DESADV_1.edi")
    assert archived.startswith("archive/DESADV_1.") and archived.endswith(".edi") and archived != "archive/DESADV_1.edi"
    assert (root / "sup001" / "archive" / "DESADV_1.edi").read_bytes() == b"first delivery"
    assert (root / "sup001" / archived).read_bytes() == b"second delivery"
    assert not (root / "sup001" / "out" / "DESADV_1.edi").exists()


def test_delete_is_idempotent(config: SftpConfig, root: Path):
    drop(root, "out/x.edi", b"x", T0)
    with SftpHook(config) as hook:
        assert hook.delete("out/x.edi") is True
        assert hook.delete("out/x.edi") is False
    assert not (root / "sup001" / "out" / "x.edi").exists()


# -- what is "ready" --------------------------------------------------------------------------


def test_min_file_age_uses_server_mtime(config: SftpConfig, root: Path):
    assert config.min_file_age_seconds == 10
    drop(root, "out/old.edi", b"o", T0 - 3600)
    drop(root, "out/edge.edi", b"e", T0 - 10)
    # SFTP v3 carries mtime in whole seconds, so ages are compared at 1 s resolution.
    drop(root, "out/young.edi", b"y", T0 - 9)
    with SftpHook(config) as hook:
        assert [f.name for f in hook.list_ready(now=T0)] == ["old.edi", "edge.edi"]
        assert [f.name for f in hook.list_ready(now=T0 + 1)] == ["old.edi", "edge.edi", "young.edi"]


def test_temp_hidden_and_non_regular_entries_are_not_listed(config: SftpConfig, root: Path):
    drop(root, "out/DESADV_2.edi.part", b"half", T0)
    drop(root, "out/.DESADV_3.edi.part", b"half", T0)
    drop(root, "out/.hidden", b"h", T0)
    (root / "sup001" / "out" / "subdir").mkdir()
    drop(root, "out/DESADV_4.edi", b"whole", T0)
    with SftpHook(config) as hook:
        assert [f.name for f in hook.list_ready(now=T0 + 3600)] == ["DESADV_4.edi"]


def test_hostile_names_on_server_are_skipped_with_a_warning(config: SftpConfig, root: Path, caplog):
    drop(root, "out/evil\nname.edi", b"x", T0)
    drop(root, "out/ok.edi", b"ok", T0)
    with caplog.at_level(logging.WARNING, logger="adapters.sftp"), SftpHook(config) as hook:
        assert [f.name for f in hook.list_ready(now=T0 + 3600)] == ["ok.edi"]
    assert "'evil\\nname.edi'" in caplog.text  # escaped: one log line, not two
    assert (root / "sup001" / "out" / "evil\nname.edi").exists()  # left for a human, not lost


def test_missing_folder_is_fatal(config: SftpConfig):
    with SftpHook(config) as hook, pytest.raises(FatalError) as err:
        hook.list_ready("nope")
    assert err.value.code == "SFTP_FOLDER_MISSING"
    assert "nope" in str(err.value)


def test_file_vanished_between_list_and_read_is_skippable(config: SftpConfig, root: Path):
    path = drop(root, "out/DESADV_5.edi", b"x", T0)
    with SftpHook(config) as hook:
        [listed] = hook.list_ready(now=T0 + 3600)
        path.unlink()  # the supplier (or another worker) removed it
        for action in (hook.read_bytes, hook.archive):
            with pytest.raises(SkippableError) as err:
                action(listed.path)
            assert err.value.code == "SFTP_FILE_VANISHED"


# -- idempotent, atomic upload ----------------------------------------------------------------


def test_upload_same_content_twice_is_a_no_op(config: SftpConfig, root: Path):
    target = root / "sup001" / "in" / "ORDERS_1.edi"
    with SftpHook(config) as hook:
        hook.upload_atomic("in", "ORDERS_1.edi", b"payload")
        os.utime(target, (T0, T0))  # mark it so a rewrite would show
        assert hook.upload_atomic("in", "ORDERS_1.edi", b"payload") == "in/ORDERS_1.edi"
    assert target.stat().st_mtime == T0
    assert os.listdir(target.parent) == ["ORDERS_1.edi"]


def test_upload_different_content_refuses_to_overwrite(config: SftpConfig, root: Path):
    target = root / "sup001" / "in" / "ORDERS_1.edi"
    with SftpHook(config) as hook:
        hook.upload_atomic("in", "ORDERS_1.edi", b"version 1")
        with pytest.raises(SkippableError) as err:
            hook.upload_atomic("in", "ORDERS_1.edi", b"version 2!")
    assert err.value.code == "SFTP_TARGET_EXISTS"
    assert target.read_bytes() == b"version 1"
    assert os.listdir(target.parent) == ["ORDERS_1.edi"]


def test_upload_replaces_a_stale_temp_from_a_crashed_run(config: SftpConfig, root: Path):
    (root / "sup001" / "in" / ".ORDERS_2.edi.part").write_bytes(b"half of an older attempt, longer than the new")
    with SftpHook(config) as hook:
        hook.upload_atomic("in", "ORDERS_2.edi", b"complete")
    assert os.listdir(root / "sup001" / "in") == ["ORDERS_2.edi"]
    assert (root / "sup001" / "in" / "ORDERS_2.edi").read_bytes() == b"complete"


def test_upload_falls_back_to_plain_rename(config: SftpConfig, root: Path, monkeypatch):
    # Servers without the posix-rename@openssh.com extension answer with a bare failure.
    with SftpHook(config) as hook:
        def unsupported(*_args):
            raise IOError("Operation unsupported")

        monkeypatch.setattr(hook.sftp, "posix_rename", unsupported)
        assert hook.upload_atomic("in", "ORDERS_3.edi", b"via rename") == "in/ORDERS_3.edi"
    assert os.listdir(root / "sup001" / "in") == ["ORDERS_3.edi"]
    assert (root / "sup001" / "in" / "ORDERS_3.edi").read_bytes() == b"via rename"


def test_upload_to_missing_folder_is_fatal(config: SftpConfig):
    with SftpHook(config) as hook, pytest.raises(FatalError) as err:
        hook.upload_atomic("outbox-typo", "ORDERS_1.edi", b"x")
    assert err.value.code == "SFTP_FOLDER_MISSING"


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a/b.edi", "..", "", "evil\nname.edi", "nul\x00byte.edi", "tab\t.edi", "back\\slash", ".hidden", "x.part"],
)
def test_hostile_upload_names_are_rejected(config: SftpConfig, root: Path, name: str):
    with SftpHook(config) as hook, pytest.raises(SkippableError) as err:
        hook.upload_atomic("in", name, b"x")
    assert err.value.code == "SFTP_BAD_NAME"
    assert "\n" not in str(err.value) and "\x00" not in str(err.value)
    assert os.listdir(root / "sup001" / "in") == []


@pytest.mark.parametrize("path", ["../../etc/passwd", "out/../../sup002/out/x", "out/a\x00b", "out/a\nb", "out/"])
def test_hostile_read_paths_are_rejected(config: SftpConfig, path: str):
    with SftpHook(config) as hook:
        for action in (hook.read_bytes, hook.open_read, hook.archive, hook.delete):
            with pytest.raises(SkippableError) as err:
                action(path)
            assert err.value.code == "SFTP_BAD_NAME"


def test_hostile_folder_is_a_fatal_config_error(config: SftpConfig):
    with SftpHook(config) as hook, pytest.raises(FatalError) as err:
        hook.list_ready("../sup002/out")
    assert err.value.code == "SFTP_BAD_NAME"
    with pytest.raises(FatalError):
        SftpConfig(**{**config.model_dump(), "password": PASSWORD, "inbox_folder": "../sup002/out"})


# -- connection failures ----------------------------------------------------------------------


def test_wrong_password_is_fatal_and_never_leaks(config: SftpConfig, caplog):
    wrong = "Wrong-Pw-Do-Not-Log-42"
    bad = config.model_copy(update={"password": SecretStr(wrong)})
    caplog.set_level(logging.DEBUG)  # every logger, paramiko included
    with pytest.raises(FatalError) as err:
        SftpHook(bad).connect()
    assert err.value.code == "SFTP_AUTH"
    assert "sup001" in str(err.value)
    for text in (str(err.value), repr(err.value), err.value.as_line(), caplog.text, repr(bad), str(bad), repr(SftpHook(bad))):
        assert wrong not in text
        assert PASSWORD not in text
    assert "SFTP_AUTH" in caplog.text  # the failure is logged, just without the secret


def test_unknown_host_key_is_fatal(config: SftpConfig, tmp_path: Path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(FatalError) as err:
        SftpHook(config.model_copy(update={"known_hosts": empty})).connect()
    assert err.value.code == "SFTP_HOST_KEY"
    assert f"[127.0.0.1]:{config.port}" in err.value.message and "fingerprint" in err.value.message


def test_mismatching_host_key_is_fatal(config: SftpConfig, tmp_path: Path):
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    other = tmp_path / "other_known_hosts"
    other.write_text(known_hosts_line(impostor, "127.0.0.1", config.port) + "\n")
    with pytest.raises(FatalError) as err:
        SftpHook(config.model_copy(update={"known_hosts": other})).connect()
    assert err.value.code == "SFTP_HOST_KEY"
    assert "refresh known_hosts only if" in err.value.message


def test_missing_known_hosts_file_is_fatal(config: SftpConfig, tmp_path: Path):
    with pytest.raises(FatalError) as err:
        SftpHook(config.model_copy(update={"known_hosts": tmp_path / "absent"})).connect()
    assert err.value.code == "SFTP_HOST_KEY"


def test_stopped_server_is_retriable(config: SftpConfig, server: SftpServer):
    hook = SftpHook(config).connect()
    server.stop()
    with pytest.raises(RetriableError) as err:
        hook.list_ready(now=T0)  # the open session was dropped
    assert err.value.code == "SFTP_UNAVAILABLE"
    hook.close()
    with pytest.raises(RetriableError) as err:
        SftpHook(config).connect()  # nothing listens any more
    assert err.value.code == "SFTP_UNAVAILABLE"


def test_chrooted_hook_sees_only_its_own_supplier(config: SftpConfig, root: Path):
    drop(root, "../sup002/out/DESADV_sup002.edi", b"secret", T0)
    drop(root, "out/DESADV_sup001.edi", b"mine", T0)
    with SftpHook(config) as hook:
        assert [f.name for f in hook.list_ready(now=T0 + 3600)] == ["DESADV_sup001.edi"]
        with pytest.raises(FatalError) as err:
            hook.list_ready("/sup002/out")  # looks like a path to sup002, is inside sup001's chroot
        assert err.value.code == "SFTP_FOLDER_MISSING"


# -- config ----------------------------------------------------------------------------------


def test_config_from_airflow_uri(tmp_path: Path):
    cfg = SftpConfig.from_uri(
        "sftp://sup001:S3cret-pw%21with%3Aodd%40chars@127.0.0.1:2222/"
        f"?known_hosts={tmp_path}/known_hosts&min_file_age_seconds=30&timeout=5"
    )
    assert (cfg.host, cfg.port, cfg.username) == ("127.0.0.1", 2222, "sup001")
    assert cfg.password.get_secret_value() == PASSWORD
    assert cfg.known_hosts == tmp_path / "known_hosts"
    assert (cfg.min_file_age_seconds, cfg.timeout) == (30, 5)
    assert (cfg.inbox_folder, cfg.outbox_folder, cfg.archive_folder) == ("out", "in", "archive")
    for text in (repr(cfg), str(cfg), cfg.model_dump_json()):
        assert PASSWORD not in text


def test_config_from_conn_id_uri_and_json(tmp_path: Path, monkeypatch):
    uri = f"sftp://sup001:pw-Env-Secret@127.0.0.1:2222/?known_hosts={tmp_path}/kh"
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT", uri)
    cfg = SftpConfig.from_conn_id()
    assert cfg.port == 2222 and cfg.password.get_secret_value() == "pw-Env-Secret"
    js = '{"conn_type": "sftp", "host": "h", "login": "u", "password": "p", "port": 22, "extra": {"known_hosts": "/k"}}'
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT", js)
    assert SftpConfig.from_conn_id("supplier_sftp_default").host == "h"
    monkeypatch.delenv("AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))  # an Airflow without that Connection
    with pytest.raises(FatalError, match="AIRFLOW_CONN_SUPPLIER_SFTP_DEFAULT") as err:
        SftpConfig.from_conn_id()
    assert err.value.code == "CONNECTION_MISSING"
    # Airflow's Connection.get_uri() form for non-string extras
    packed = SftpConfig.from_uri('sftp://u:p@h:22/?__extra__=%7B%22known_hosts%22%3A%22%2Fk%22%2C%22min_file_age_seconds%22%3A60%7D')
    assert (packed.known_hosts, packed.min_file_age_seconds) == (Path("/k"), 60)


def test_hook_from_conn_id_reads_the_connection_env(config: SftpConfig, monkeypatch):
    uri = (
        f"sftp://sup001:{quote(PASSWORD, safe='')}@127.0.0.1:{config.port}/"
        f"?known_hosts={quote(str(config.known_hosts), safe='')}&min_file_age_seconds=0"
    )
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP001", uri)
    with SftpHook.from_conn_id("supplier_sftp_sup001") as hook:
        assert hook.list_ready() == []


@pytest.mark.parametrize(
    "uri, code, fragment",
    [
        ("sftp://u:pw-Leak-1@h:22/", "SFTP_CONFIG", "known_hosts"),
        ("sftp://u:pw-Leak-1@h:22/?known_hosts=/k&no_host_key_check=true", "SFTP_CONFIG", "always verified"),
        ("sftp://u:pw-Leak-1@h:22/?known_hosts=/k&key_fil=/x", "SFTP_CONFIG", "unknown connection extras"),
        # the URI itself is unreadable: reported by hub.connections, for every adapter alike
        ("sftp://u:pw-Leak-1@h:99999/?known_hosts=/k", "CONNECTION_INVALID", "malformed"),
        ("sftp://u:pw-Leak-1@h:22/?known_hosts=/k&min_file_age_seconds=-1", "SFTP_CONFIG", "min_file_age_seconds"),
        ("http://u:pw-Leak-1@h:22/?known_hosts=/k", "SFTP_CONFIG", "scheme"),
    ],
)
def test_config_errors_are_fatal_and_hide_the_password(uri: str, code: str, fragment: str):
    with pytest.raises(FatalError) as err:
        SftpConfig.from_uri(uri)
    assert err.value.code == code
    assert fragment in str(err.value)
    assert "pw-Leak-1" not in str(err.value)


# -- key login --------------------------------------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path):
    """A server accepting sup001's ed25519 key; returns (server, key, authorized_keys path)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes(key.export_public_key("openssh"))
    with SftpServer(tmp_path / "sftp", {"sup001": PASSWORD}, host_key_path=tmp_path / "ssh_host_ed25519_key",
                    authorized_keys={"sup001": authorized}) as srv:
        yield srv, key


def _key_config(srv: SftpServer, tmp_path: Path, **extra) -> SftpConfig:
    known_hosts = srv.write_known_hosts(tmp_path / "known_hosts")
    return SftpConfig(host="127.0.0.1", port=srv.port, username="sup001", known_hosts=known_hosts, timeout=10, **extra)


def test_key_login_from_private_key_text_without_password(keyed, tmp_path: Path):
    srv, key = keyed
    cfg = _key_config(srv, tmp_path, private_key=key.export_private_key("openssh").decode())
    assert cfg.uses_key and "BEGIN" not in repr(cfg) + str(cfg) + cfg.model_dump_json()
    drop(tmp_path / "sftp", "out/k.edi", b"key", T0)
    with SftpHook(cfg) as hook:
        assert [f.name for f in hook.list_ready(now=T0 + 60)] == ["k.edi"]


def test_key_login_from_encrypted_key_file_with_passphrase_in_password(keyed, tmp_path: Path, caplog):
    srv, key = keyed
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key("openssh", passphrase="Key-Phrase-77"))
    with SftpHook(_key_config(srv, tmp_path, key_file=key_file, password="Key-Phrase-77")) as hook:
        assert hook.list_ready(now=T0) == []
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FatalError) as err:
        SftpHook(_key_config(srv, tmp_path, key_file=key_file, password="Wrong-Phrase-88")).connect()
    assert err.value.code == "SFTP_KEY" and "passphrase" in err.value.message
    with pytest.raises(FatalError) as err:
        SftpHook(_key_config(srv, tmp_path, key_file=key_file)).connect()
    assert err.value.code == "SFTP_KEY" and "encrypted" in err.value.message
    for text in (caplog.text, str(err.value)):
        assert "Wrong-Phrase-88" not in text and "Key-Phrase-77" not in text


def test_key_not_authorized_is_fatal_auth(keyed, tmp_path: Path):
    srv, _ = keyed
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    with pytest.raises(FatalError) as err:
        SftpHook(_key_config(srv, tmp_path, private_key=other)).connect()
    assert err.value.code == "SFTP_AUTH"
    assert "PRIVATE KEY" not in str(err.value)


def test_key_config_from_connection_extras(tmp_path: Path):
    pem = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    cfg = SftpConfig.from_uri(f"sftp://sup001@h:22/?known_hosts=/k&private_key={quote(pem, safe='')}")
    assert cfg.uses_key and cfg.private_key.get_secret_value() == pem
    with pytest.raises(FatalError, match="not both"):
        SftpConfig.from_uri(f"sftp://u@h:22/?known_hosts=/k&key_file=/a&private_key={quote(pem, safe='')}")
    with pytest.raises(FatalError, match="no credential"):
        SftpConfig.from_uri("sftp://u@h:22/?known_hosts=/k")
    (tmp_path / "kh").write_text("")
    with pytest.raises(FatalError) as err:  # garbage key text: named by source, never echoed
        SftpHook(SftpConfig.from_uri(f"sftp://u@127.0.0.1:22/?known_hosts={tmp_path}/kh&private_key=NotAKey-Leak-5")).connect()
    assert err.value.code == "SFTP_KEY" and "NotAKey-Leak-5" not in str(err.value)

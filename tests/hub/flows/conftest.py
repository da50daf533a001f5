"""A real supplier SFTP server for the flow tests, reachable through the partner's Connection."""
from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from simulators.sftp_server.server import SftpServer


@pytest.fixture
def sftp(tmp_path: Path, monkeypatch) -> Path:
    """SUP-001's home folder on a running SFTP server (in/, out/, archive/ inside)."""
    password = secrets.token_urlsafe(12)
    server = SftpServer(tmp_path / "sftp", {"sup001": password}, host_key_path=tmp_path / "host_key")
    port = server.start()
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP001",
                       f"sftp://sup001:{quote(password, safe='')}@127.0.0.1:{port}/"
                       f"?known_hosts={quote(str(known_hosts), safe='')}")
    yield tmp_path / "sftp" / "sup001"
    server.stop()

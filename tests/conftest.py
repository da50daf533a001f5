"""Shared fixtures: a migrated store on SQLite and on the machine's real PostgreSQL; SUP-001's folder on a
real SFTP server, reachable through the partner's Connection."""
from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from urllib.parse import quote

# Airflow configures its logging (a root handler on sys.stderr) when first imported: import it here,
# on the session's stderr, not first inside a CliRunner test whose stream is closed after it
import airflow  # noqa: F401
import pytest
from sqlalchemy import create_engine, text

from canonical_model.store import Store, open_store
from simulators.sftp_server.server import SftpServer

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL; in CI its absence is a failure, elsewhere a skip."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} (CI must run store tests on it)")
        pytest.skip("PostgreSQL not reachable")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str):
    """A private schema per test, so parallel runs and reruns never collide."""
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    st = open_store(url, archive_dir=tmp_path / "archive")
    yield st
    st.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    st = open_store(f"sqlite:///{tmp_path / 'hub.db'}", archive_dir=tmp_path / "archive")
    yield st
    st.dispose()


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

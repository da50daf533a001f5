"""Opening the store: engine, migrations, sessions, and the raw archive folder."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def var_dir() -> Path:
    """Runtime folder for the embedded default (``HUB_VAR_DIR``, default ``./var``)."""
    return Path(os.environ.get("HUB_VAR_DIR", "var")).resolve()


def default_database_url() -> str:
    return os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{var_dir() / 'hub.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets Airflow tasks read while another task writes; busy_timeout waits instead of
    # failing with "database is locked" when two tasks commit at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass
class Store:
    engine: Engine
    archive_dir: Path

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, archive_dir: Path | None = None, migrate: bool = True) -> Store:
    engine = make_engine(url or default_database_url())
    if migrate:
        upgrade(engine)
    archive = archive_dir or var_dir() / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    return Store(engine=engine, archive_dir=archive)

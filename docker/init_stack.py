"""One-shot set-up of the scale-out stack: the compose service ``airflow-init`` runs it before any
other Airflow role or the ingress API starts. In order:

1. ``airflow db migrate``: Airflow's metadata database;
2. the hub store's Alembic migrations on ``HUB_DATABASE_URL`` (the ``upgrade`` the hub runs when it
   opens the store), once here so that workers and the ingress API never race to migrate;
3. the simple auth manager's password file gets every configured user's password before the
   api-server starts, so Airflow generates none and prints none to its log (the embedded default
   does the same, hub/airflow_auth.py): those that must be known in advance from
   ``AIRFLOW_SEED_PASSWORD_<USER>`` (the UI admin, the ``hub`` user the ingress API triggers DAG
   runs as), a random one for the others (``planner``), kept across runs.

Every step is idempotent, so the service runs on each ``docker compose up``. Nothing it prints
carries a password or the database URL (which holds one).
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional

SEED_PREFIX = "AIRFLOW_SEED_PASSWORD_"
USERS_SETTING = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
PASSWORDS_FILE_SETTING = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
STORE_SETTING = "HUB_DATABASE_URL"


def configured_users(environ: Mapping[str, str]) -> set[str]:
    """User names of ``user:role[,user:role...]`` (Airflow's format for the simple auth manager)."""
    return {entry.split(":", 1)[0].strip() for entry in environ.get(USERS_SETTING, "").split(",") if entry.strip()}


def seeded_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """``{user: password}`` from ``AIRFLOW_SEED_PASSWORD_<USER>``; refuses an empty value and a user
    the auth manager does not know (a typo would otherwise seed a password nobody can log in with)."""
    seeds = {key[len(SEED_PREFIX):].lower(): value for key, value in environ.items() if key.startswith(SEED_PREFIX)}
    empty = sorted(user for user, value in seeds.items() if not value.strip())
    if empty:
        raise ValueError(f"{', '.join(SEED_PREFIX + u.upper() for u in empty)} is empty: set it in .env")
    unknown = sorted(set(seeds) - configured_users(environ))
    if unknown:
        raise ValueError(f"users {unknown} have a seeded password but are not in {USERS_SETTING}")
    return seeds


def store_url(environ: Mapping[str, str]) -> str:
    """The hub store of the stack; without it the hub would quietly migrate a SQLite file in the container."""
    url = environ.get(STORE_SETTING, "").strip()
    if not url:
        raise ValueError(f"{STORE_SETTING} is not set: the stack's hub store is the 'hub' database in PostgreSQL")
    if url.startswith("sqlite"):
        raise ValueError(f"{STORE_SETTING} points at SQLite: workers in other containers could not share it")
    return url


def read_passwords(path: Path) -> dict[str, str]:
    """The password file's ``{user: password}``; empty when it does not exist yet."""
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return {}
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON (line {exc.lineno}); remove it and run airflow-init again") from None
    if not isinstance(current, dict):
        raise ValueError(f"{path} is not a JSON object of user: password; remove it and run airflow-init again")
    return current


def write_passwords(path: Path, seeds: Mapping[str, str], users: set[str]) -> dict[str, list[str]]:
    """Set the seeded passwords, give every other user in ``users`` without one a random one, keep
    the rest; ``{"seeded": [...], "generated": [...]}`` names what changed (never a password).

    Written atomically with mode 600: the api-server may read it at any moment, and it is plaintext."""
    current = read_passwords(path)
    generated = {user: secrets.token_urlsafe(16) for user in sorted(users - set(current) - set(seeds))}
    merged = {**current, **generated, **seeds}
    changed = {"seeded": sorted(u for u in seeds if current.get(u) != seeds[u]), "generated": sorted(generated)}
    if merged != current:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(merged, handle)
            handle.write("\n")
        os.replace(tmp, path)
    return changed


def migrate_store(url: str) -> None:
    from canonical_model.store.db import make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        # every setting is checked before anything changes, so a bad .env leaves the databases alone
        seeds = seeded_passwords(environ)
        url = store_url(environ)
        users = configured_users(environ)
        passwords_setting = environ.get(PASSWORDS_FILE_SETTING, "").strip()
        if users and not passwords_setting:
            raise ValueError(f"{PASSWORDS_FILE_SETTING} is not set: nowhere to put the users' passwords")
        passwords_file = Path(passwords_setting)
        if users:
            read_passwords(passwords_file)  # an unreadable file is refused now, not after the migrations
    except ValueError as exc:
        print(f"airflow-init: {exc}", file=sys.stderr)
        return 2
    print("airflow-init: migrating Airflow's metadata database", flush=True)
    subprocess.run(["airflow", "db", "migrate"], check=True)
    print("airflow-init: migrating the hub store", flush=True)
    migrate_store(url)
    if users:
        changed = write_passwords(passwords_file, seeds, users)
        print(f"airflow-init: passwords seeded from .env {changed['seeded']}, generated {changed['generated']} "
              f"(in {passwords_file})", flush=True)
    print("airflow-init: done", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"airflow-init: {' '.join(exc.cmd)} failed with exit code {exc.returncode}", file=sys.stderr)
        sys.exit(1)

"""Passwords of Airflow's simple auth manager, made before Airflow starts.

On first start the simple auth manager generates a password for every user it does not find in
``AIRFLOW_HOME/simple_auth_manager_passwords.json.generated`` and *prints it to its log*. The
hub writes that file first (mode 600, a random password per user named in
``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``), so Airflow finds every user and prints nothing;
the logs of a demo carry no password. Existing entries are kept: a rerun keeps its logins.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"


def seed_passwords(airflow_home: Path | None = None, users: str | None = None) -> Path:
    home = Path(airflow_home or os.environ["AIRFLOW_HOME"])
    setting = users if users is not None else os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    names = [entry.split(":", 1)[0].strip() for entry in setting.split(",") if entry.strip()]
    path = home / PASSWORD_FILE
    current = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
    missing = {name: secrets.token_urlsafe(16) for name in names if name not in current}
    if missing or not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({**current, **missing}, handle)
        os.replace(tmp, path)
    return path


def passwords(airflow_home: Path | None = None) -> dict[str, str]:
    """The users' passwords (never printed)."""
    return json.loads((Path(airflow_home or os.environ["AIRFLOW_HOME"]) / PASSWORD_FILE).read_text())

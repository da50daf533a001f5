"""Airflow's simple auth manager finds every user's password before it starts: it prints none."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from hub.airflow_auth import PASSWORD_FILE, passwords, seed_passwords


def test_every_user_gets_a_private_password_once(tmp_path: Path):
    path = seed_passwords(tmp_path, "admin:admin, planner:op")
    first = passwords(tmp_path)
    assert set(first) == {"admin", "planner"} and len(set(first.values())) == 2
    assert all(len(p) >= 20 for p in first.values())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a rerun keeps the logins; a new user is added beside them
    seed_passwords(tmp_path, "admin:admin,planner:op,viewer:viewer")
    again = passwords(tmp_path)
    assert {k: again[k] for k in first} == first and set(again) == {"admin", "planner", "viewer"}


def test_passwords_airflow_already_made_are_kept(tmp_path: Path):
    (tmp_path / PASSWORD_FILE).write_text(json.dumps({"admin": "chosen-by-airflow"}))
    seed_passwords(tmp_path, "admin:admin,planner:op")
    assert passwords(tmp_path)["admin"] == "chosen-by-airflow" and "planner" in passwords(tmp_path)


def test_an_empty_file_airflow_left_is_filled(tmp_path: Path):
    (tmp_path / PASSWORD_FILE).write_text("")
    seed_passwords(tmp_path, "admin:admin")
    assert set(passwords(tmp_path)) == {"admin"}


def test_the_airflow_simple_auth_manager_reads_the_seeded_file_and_generates_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,planner:op")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(tmp_path / PASSWORD_FILE))
    seed_passwords(tmp_path)
    before = passwords(tmp_path)
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    printed: list[str] = []
    monkeypatch.setattr(SimpleAuthManager, "_print_output", staticmethod(printed.append))
    SimpleAuthManager().init()
    assert printed == [] and passwords(tmp_path) == before

"""docker/init_stack.py, the airflow-init service: settings refused before anything changes, every
Airflow user's password written before the api-server starts (so it prints none), the hub store migrated."""
from __future__ import annotations

import json
import stat

import pytest
from sqlalchemy import create_engine, inspect

USERS = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin, planner:op,hub:user"}


def test_seeded_passwords_map_variables_to_configured_users(init_stack):
    environ = {**USERS, "AIRFLOW_SEED_PASSWORD_ADMIN": "a-pass", "AIRFLOW_SEED_PASSWORD_HUB": "h-pass", "OTHER": "x"}
    assert init_stack.seeded_passwords(environ) == {"admin": "a-pass", "hub": "h-pass"}
    assert init_stack.configured_users(USERS) == {"admin", "planner", "hub"}


@pytest.mark.parametrize(("environ", "message"), [
    ({**USERS, "AIRFLOW_SEED_PASSWORD_ADNIM": "s3cret-value"}, "users ['adnim'] have a seeded password but are not in"),
    ({"AIRFLOW_SEED_PASSWORD_ADMIN": "s3cret-value"}, "users ['admin'] have a seeded password but are not in"),
    ({**USERS, "AIRFLOW_SEED_PASSWORD_HUB": "  "}, "AIRFLOW_SEED_PASSWORD_HUB is empty"),
])
def test_a_seed_nobody_could_log_in_with_is_refused_without_echoing_it(init_stack, environ, message):
    with pytest.raises(ValueError) as error:
        init_stack.seeded_passwords(environ)
    assert message in str(error.value) and "s3cret-value" not in str(error.value)


@pytest.mark.parametrize(("url", "message"), [
    ("", "HUB_DATABASE_URL is not set"),
    ("sqlite:////opt/mes-hub/var/hub.db", "points at SQLite"),
])
def test_the_store_must_be_the_shared_database(init_stack, url, message):
    with pytest.raises(ValueError, match=message):
        init_stack.store_url({"HUB_DATABASE_URL": url})
    assert init_stack.store_url({"HUB_DATABASE_URL": " postgresql+psycopg://h/hub "}) == "postgresql+psycopg://h/hub"


def test_every_user_gets_a_password_seeds_win_and_a_rerun_keeps_them(init_stack, tmp_path):
    path = tmp_path / "auth" / "passwords.json"
    users = {"admin", "planner", "hub"}
    assert init_stack.write_passwords(path, {"admin": "a1", "hub": "h1"}, users) == {
        "seeded": ["admin", "hub"], "generated": ["planner"]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = json.loads(path.read_text())
    assert first["admin"] == "a1" and len(first["planner"]) >= 20
    # a new admin password in .env replaces the old; the generated one stays
    assert init_stack.write_passwords(path, {"admin": "a2", "hub": "h1"}, users) == {"seeded": ["admin"],
                                                                                     "generated": []}
    assert json.loads(path.read_text()) == {**first, "admin": "a2"}
    before = path.stat().st_mtime_ns
    assert init_stack.write_passwords(path, {"admin": "a2"}, users) == {"seeded": [], "generated": []}
    assert path.stat().st_mtime_ns == before and not list(path.parent.glob("*.tmp"))


def test_airflow_finds_every_password_and_prints_none(init_stack, tmp_path, monkeypatch):
    """The real simple auth manager, started on the file airflow-init wrote, as the api-server does."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    path = tmp_path / "passwords.json"
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"])
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(path))
    init_stack.write_passwords(path, {"admin": "a1", "hub": "h1"}, init_stack.configured_users(USERS))
    written = path.read_text()
    printed: list[str] = []
    monkeypatch.setattr(SimpleAuthManager, "_print_output", staticmethod(printed.append))
    SimpleAuthManager().init()
    assert printed == [] and path.read_text() == written
    assert SimpleAuthManager.get_passwords()["hub"] == "h1"


@pytest.mark.parametrize(("content", "message"), [("{not json", "is not JSON (line 1)"),
                                                  ('["admin", "a1"]', "is not a JSON object")])
def test_a_broken_password_file_is_refused_with_its_path(init_stack, tmp_path, content, message):
    path = tmp_path / "passwords.json"
    path.write_text(content)
    with pytest.raises(ValueError) as error:
        init_stack.write_passwords(path, {"admin": "a1"}, {"admin"})
    assert str(path) in str(error.value) and message in str(error.value)
    assert path.read_text() == content


@pytest.mark.parametrize(("extra", "message"), [
    ({"HUB_DATABASE_URL": ""}, "HUB_DATABASE_URL is not set"),
    ({"AIRFLOW_SEED_PASSWORD_ROOT": "s3cret-seed"}, "users ['root']"),
    ({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": ""}, "nowhere to put the users' passwords"),
    ({"broken_file": True}, "is not JSON"),
])
def test_bad_settings_stop_before_any_migration(init_stack, tmp_path, capsys, extra, message):
    passwords = tmp_path / "passwords.json"
    environ = {**USERS, "HUB_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/hub",
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
               "AIRFLOW_SEED_PASSWORD_ADMIN": "s3cret-seed"}
    if extra.pop("broken_file", False):
        passwords.write_text("{")
    environ.update(extra)
    # `airflow db migrate` and the store migration would run (and fail on port 1) if it went on
    assert init_stack.main(environ) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("airflow-init: ") and message in captured.err
    assert "s3cret-seed" not in captured.err + captured.out
    assert "migrating" not in captured.out


@pytest.mark.postgres
def test_the_hub_store_migration_is_idempotent_on_postgres(init_stack, postgres_schema_url):
    init_stack.migrate_store(postgres_schema_url)
    init_stack.migrate_store(postgres_schema_url)  # every `docker compose up` runs it again
    engine = create_engine(postgres_schema_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "alembic_version" in tables and len(tables) > 5

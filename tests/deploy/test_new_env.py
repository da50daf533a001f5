"""docker/new_env.py: a .env that satisfies every variable docker-compose.yml requires."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_new_env_satisfies_the_compose_file(new_env, check_compose, raw_compose, tmp_path, capsys):
    target = tmp_path / ".env"
    assert new_env.main([str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = check_compose.read_env_file(target)
    required = check_compose.required_variables(raw_compose)
    assert all(values[name] for name in required)
    assert len({values[name] for name in required}) == len(required), "two secrets are the same"
    # what Compose would do with it: no variable missing, the result valid
    assert check_compose.schema_errors(check_compose.interpolate_tree(raw_compose, values)) == []
    # the names are printed, the values never
    out = capsys.readouterr().out
    assert "POSTGRES_PASSWORD" in out and values["POSTGRES_PASSWORD"] not in out


def test_the_fernet_key_is_one_airflow_accepts_and_the_others_are_url_and_json_safe(new_env, check_compose, tmp_path):
    from cryptography.fernet import Fernet

    target = tmp_path / ".env"
    new_env.main([str(target)])
    values = check_compose.read_env_file(target)
    token = Fernet(values["AIRFLOW_FERNET_KEY"].encode()).encrypt(b"conn")  # raises on a malformed key
    assert Fernet(values["AIRFLOW_FERNET_KEY"].encode()).decrypt(token) == b"conn"
    for name in new_env.compose_variables(new_env.EXAMPLE.read_text(encoding="utf-8")):
        if name != "AIRFLOW_FERNET_KEY":
            assert len(values[name]) == 48 and set(values[name]) <= set("0123456789abcdef"), name


def test_the_lines_above_the_compose_section_are_copied_unchanged(new_env, tmp_path):
    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    target = tmp_path / ".env"
    new_env.main([str(target)])
    head = example.split(new_env.COMPOSE_SECTION)[0]
    written = target.read_text(encoding="utf-8")
    assert written.startswith(head)
    assert written.count("\n") == example.count("\n")
    # the embedded default's empty Connection lines stay empty: the stack does not read them
    assert "\nAIRFLOW_CONN_KINGDEE_DEFAULT=\n" in written


def test_an_existing_env_is_never_overwritten(new_env, tmp_path, capsys):
    target = tmp_path / ".env"
    target.write_text("POSTGRES_PASSWORD=the-one-the-volume-was-made-with\n")
    assert new_env.main([str(target)]) == 1
    assert target.read_text() == "POSTGRES_PASSWORD=the-one-the-volume-was-made-with\n"
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["a", "b"], ["--help"]])
def test_usage_errors_exit_2(new_env, argv, capsys):
    assert new_env.main(argv) == 2
    assert "new_env.py" in capsys.readouterr().err


def test_an_example_without_the_compose_section_is_refused(new_env):
    with pytest.raises(ValueError, match="no line starting with '# ==== docker compose'"):
        new_env.fill("POSTGRES_PASSWORD=\n")
    assert new_env.fill("A=\n# ==== docker compose\nB=\nC=set\n# D=\n", lambda name: name.lower()) == (
        "A=\n# ==== docker compose\nB=b\nC=set\n# D=\n")

"""docker/check_compose.py: Compose's interpolation rules and the schema check, on small documents."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("${A}", {"A": "x"}, "x"),
    ("$A/b", {"A": "x"}, "x/b"),
    ("${A}", {}, ""),  # unset and no default: Compose substitutes "" (with a warning)
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),  # without ":" only an unset variable takes the default
    ("${A-d}", {}, "d"),
    ("${A:?m}", {"A": "x"}, "x"),
    ("${A?m}", {"A": ""}, ""),
    ("${A:+alt}", {"A": "x"}, "alt"),
    ("${A:+alt}", {"A": ""}, ""),
    ("${A+alt}", {"A": ""}, "alt"),
    ("${A:-${B:-c}}", {}, "c"),
    ("${A:-${B}/x}", {"B": "b"}, "b/x"),
    ("$$", {}, "$"),
    ("$${HOSTNAME}", {"HOSTNAME": "not-me"}, "${HOSTNAME}"),
    ("$$A$A", {"A": "x"}, "$Ax"),
    ("a:${A}@h:${B:-1}/p", {"A": "u"}, "a:u@h:1/p"),
    ("no variables: 100% {}", {}, "no variables: 100% {}"),
    ("cost: 5$", {}, "cost: 5$"),  # a "$" that starts no reference stays, as compose-go leaves it
    ("$ HOME $-", {}, "$ HOME $-"),
])
def test_interpolation_follows_compose(check_compose, text, env, expected):
    assert check_compose.interpolate(text, env, "x") == expected


@pytest.mark.parametrize(("text", "env"), [("${A:?set A in .env}", {}), ("${A:?set A in .env}", {"A": ""}),
                                          ("${A?set A in .env}", {})])
def test_a_missing_required_variable_names_itself_its_message_and_where(check_compose, text, env):
    with pytest.raises(check_compose.MissingVariable) as error:
        check_compose.interpolate(text, env, "services.web.environment.X")
    assert error.value.name == "A"
    assert str(error.value) == ("services.web.environment.X: required variable A is missing a value: "
                                "set A in .env")


@pytest.mark.parametrize(("text", "problem"), [
    ("${A", "unclosed"),
    ("${A:-${B}", "unclosed"),
    ("${}", "no variable name"),
    ("${1A}", "no variable name"),
    ("${A/x/y}", "unexpected '/'"),
    ("${ A}", "no variable name"),
])
def test_malformed_references_are_refused_with_where(check_compose, text, problem):
    with pytest.raises(check_compose.InterpolationError) as error:
        check_compose.interpolate(text, {"A": "x"}, "services.web.command[2]")
    assert str(error.value).startswith("services.web.command[2]: ") and problem in str(error.value)


def test_values_are_interpolated_keys_are_not(check_compose):
    document = {"services": {"web": {"environment": {"${KEY}": "${A}", "N": 3, "L": ["$A", "${B:-b}"]}}}}
    resolved = check_compose.interpolate_tree(document, {"A": "a", "KEY": "k"})
    assert resolved == {"services": {"web": {"environment": {"${KEY}": "a", "N": 3, "L": ["a", "b"]}}}}


def test_references_list_nested_defaults_and_their_place(check_compose):
    found = [(where, ref.name, ref.operator) for where, ref in
             check_compose.references({"a": ["x ${A:-${B:?m}} $C $$D"]})]
    assert found == [("a[0]", "A", ":-"), ("a[0]", "B", ":?"), ("a[0]", "C", "")]
    assert check_compose.required_variables({"a": ["${A:-${B:?m}}", "${C?m}"]}) == {"B", "C"}


def test_schema_errors_say_where_and_what(check_compose):
    errors = check_compose.schema_errors({"services": {"web": {"image": "x", "ports": "80:80"}}, "servics": {}})
    assert any(e.startswith("<top level>: ") and "'servics'" in e for e in errors)
    assert any(e.startswith("services.web.ports: ") for e in errors)
    assert check_compose.schema_errors({"services": {"web": {"image": "x", "ports": ["80:80"]}}}) == []


def test_env_file_lines_are_read_like_compose(check_compose, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\n\nA=1\nB='two words'\nC=\"x=y\"\nD=\n", encoding="utf-8")
    assert check_compose.read_env_file(env_file) == {"A": "1", "B": "two words", "C": "x=y", "D": ""}
    env_file.write_text("A=1\nnot an assignment\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\.env:2: not a NAME=value line"):
        check_compose.read_env_file(env_file)


def test_the_command_line_reports_each_problem_and_exits_1(check_compose, tmp_path, capsys):
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text("services:\n  web:\n    image: x\n    ports: ${PORTS:?set PORTS}\n", encoding="utf-8")
    (tmp_path / ".env").write_text("PORTS=8080:80\n", encoding="utf-8")
    assert check_compose.main([str(compose_file)]) == 1
    assert "services.web.ports: '8080:80' is not of type 'array'" in capsys.readouterr().out
    (tmp_path / ".env").write_text("PORTS=\n", encoding="utf-8")
    assert check_compose.main([str(compose_file)]) == 1
    assert "required variable PORTS is missing a value: set PORTS" in capsys.readouterr().out
    assert check_compose.main([str(compose_file), "--env-file", str(tmp_path / "none")]) == 1
    compose_file.write_text("services: [unclosed\n", encoding="utf-8")
    assert check_compose.main([str(compose_file), "--dummy"]) == 2
    assert "error:" in capsys.readouterr().err

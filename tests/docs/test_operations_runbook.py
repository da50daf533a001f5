"""docs/operations.md: every command in it is real, parses as written and is run by a test or the demo;
every alert type the code defines has a row whose party, SLA and chain are mappings/alerting.yaml's.

The checker itself (tests/docs/runbook_check.py) is tested here too, on planted mistakes, so a
runbook check that passes can be trusted to fail when a command nothing runs is added.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.docs import runbook_check as rc

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def runbook() -> str:
    return rc.RUNBOOK.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def runs() -> list:
    # this folder's planted examples must not count as exercising anything
    return rc.invocations_in_tests(skip=[HERE]) + rc.demo_invocations()


def sh(*lines: str) -> str:
    return "```sh\n" + "\n".join(lines) + "\n```\n"


# --------------------------------------------------------------------------- the runbook


def test_every_command_is_real_parses_and_is_exercised(runbook, runs):
    problems = rc.check(runbook, runs)
    assert problems == [], "docs/operations.md:\n" + "\n".join(problems)


def test_every_operator_task_has_its_commands(runbook):
    commands, _ = rc.sh_commands(runbook)
    used = {(rc.resolve(c.argv)[0], rc.flags(c.argv, rc.resolve(c.argv)[0])) for c in commands}
    paths = {path for path, _ in used}
    wanted = {
        ("alerts", "list"), ("alerts", "ack"), ("alerts", "resolve"), ("alerts", "close"), ("alerts", "escalate"),
        ("quarantine", "list"), ("quarantine", "show"), ("quarantine", "replay"),           # replaying quarantine
        ("partner", "host-key"), ("partner", "check"),                                      # SFTP host key
        ("doctor",), ("erp", "pull"), ("erp", "push"),                                      # ERP secret
        ("partner", "add"), ("partner", "certify"), ("partner", "list"),                    # pilot -> live
        ("show",), ("trace",), ("audit",),                                                  # lineage
    }
    assert wanted <= paths, sorted(wanted - paths)
    assert any(path == ("replay",) and "--day" in options for path, options in used)          # a partner's day
    assert any(path == ("partner", "host-key") and "--trust" in options for path, options in used)


def test_settings_shown_are_ones_the_hub_reads(runbook):
    """A ```dotenv block sets a variable .env.example documents (a typo there would do nothing)."""
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (rc.REPO_ROOT / ".env.example").read_text(), re.M))
    shown = [line.split("=", 1)[0].strip() for info, _start, lines in rc.fenced_blocks(runbook) if info == "dotenv"
             for _number, line in lines if "=" in line]
    assert shown and set(shown) <= documented, set(shown) - documented


def test_every_alert_type_the_code_defines_has_a_row(runbook):
    rows = rc.alert_table(runbook)
    types = [row.alert_type for row in rows]
    defined = rc.defined_alert_types()
    assert len(types) == len(set(types)), "a type has two rows"
    assert defined - set(types) == set(), "alert types without a row in docs/operations.md"
    assert set(types) - defined == set(), "rows for alert types the code does not define (a typo?)"
    for row in rows:
        assert all(row.cells[column] for column in rc.ALERT_COLUMNS), f"line {row.line_no}: an empty cell"


def test_each_rows_party_sla_and_chain_are_those_of_alerting_yaml(runbook):
    problems = [p for row in rc.alert_table(runbook) for p in rc.party_problems(row)]
    assert problems == []


def test_feed_quiet_and_lineage_are_covered(runbook):
    """The two additions of the parallel change (FEED_QUIET, `hub show`) named explicitly: these fail
    on a checkout without them, and say so."""
    assert "FEED_QUIET" in {row.alert_type for row in rc.alert_table(runbook)}
    assert "FEED_QUIET" in rc.defined_alert_types()
    assert any(c.argv[:1] == ("show",) and rc.resolve(c.argv)[1] is None for c in rc.sh_commands(runbook)[0])


# --------------------------------------------------------------------------- the checker fails when it should


def test_a_planted_command_nothing_runs_is_reported(tmp_path):
    (tmp_path / "test_some.py").write_text(textwrap.dedent("""
        def test_list(runner, app):
            runner.invoke(app, ["partner", "list"])
    """))
    runs = rc.invocations_in_tests(tmp_path)
    text = "# doc\n" + sh("hub partner list", "hub partner host-key SUP-001")

    problems = rc.check(text, runs)

    assert len(problems) == 1 and problems[0].startswith("line 4: `hub partner host-key` is run by no test")


def test_removing_the_tests_of_a_runbook_command_fails_the_real_runbook(runbook, runs):
    without = [run for run in runs if list(run[:2]) != ["partner", "host-key"]]
    problems = rc.check(runbook, without)
    lines = [c.line_no for c in rc.sh_commands(runbook)[0] if c.argv[:2] == ("partner", "host-key")]
    assert lines and [int(p.split(":")[0].split()[1]) for p in problems] == lines
    assert all("`hub partner host-key`" in p for p in problems)


def test_an_option_no_test_uses_is_reported(runs):
    # the command is run, but not with --show-unchanged: that line of the runbook would be untested
    problems = rc.check(sh("hub replay --partner SUP-001 --since 2026-11-01 --show-unchanged"),
                        [["replay", "--partner", "SUP-001", "--since", "2000-01-01"]])
    assert problems and "with --partner --show-unchanged --since is run by no test" in problems[0]


@pytest.mark.parametrize("line, words", [
    ("hub partner frobnicate SUP-001", "`hub partner frobnicate` is no command"),
    ("hub partner list --bogus", "No such option: --bogus"),
    ("hub quarantine show ID", "valid integer"),                      # parsed as click would: ID is a number
    ("hub alerts ack SOME-ALERT", "Missing option '--by'"),
    ("hub alerts", "is a group"),
    ("hub", "is a group"),
    (".venv/bin/hub status", "only plain `hub ...` commands"),        # one spelling, as the runbook says
    ("rm -rf var", "only plain `hub ...` commands"),
    ("hub status | tee status.txt", "only plain `hub ...` commands"),
    ("hub alerts resolve X --by me --root-cause 'unclosed", "No closing quotation"),
])
def test_lines_that_are_not_runnable_hub_commands_are_reported(line, words):
    problems = rc.check(sh(line), [["status"], ["partner", "list"], ["alerts", "ack"]])
    assert len(problems) == 1 and words in problems[0], problems


def test_inline_commands_must_exist_and_be_exercised_but_may_leave_arguments_out():
    text = ("Replay with `hub quarantine replay`, see `hub partner frob`, `hub doctor --verbose` and "
            "`hub partner host-key SUP-001`.\n")
    problems = rc.check(text, [["quarantine", "replay", "1"], ["doctor"]])
    assert [p.split(": ", 1)[1][:40] for p in problems] == [
        "`hub partner frob` is no command", "`hub doctor` has no option --verbose",
        "`hub partner host-key` is run by no test"]


def test_comments_blank_lines_and_continuations_are_read_as_a_shell_would():
    text = sh("# a comment", "", "hub replay --partner SUP-001 \\", "    --day 2026-11-26  # the partner's day")
    commands, problems = rc.sh_commands(text)
    assert problems == [] and [c.argv for c in commands] == [("replay", "--partner", "SUP-001", "--day", "2026-11-26")]
    assert rc.check(text, [["replay", "--partner", None, "--day", None]]) == []


def test_an_unclosed_fence_is_an_error():
    with pytest.raises(ValueError, match="never closed"):
        rc.fenced_blocks("text\n```sh\nhub status\n")


def test_what_counts_as_running_a_command_in_a_test():
    source = textwrap.dedent("""
        import subprocess, sys
        runner.invoke_alerts = lambda *args: runner.invoke(root, ["alerts", *args])
        def hub(var, *args, **env):
            return subprocess.run([str(BIN), *args], env=env)
        def show(*args):
            return runner.invoke(app, ["show", *args])

        runner.invoke_alerts("ack", ID, "--by", "li.wei")
        hub(tmp, "whatif", "--late", "SUP-001")
        show(KEY, "--format", "json")
        subprocess.run([sys.executable, "quarantine", "list"])
        runner.invoke(app, ["erp", "pull", *args, "--since", "x"])   # unknown after *args
        sorted(["status"])                                            # not a command line
        rows = [["doctor"]]                                           # not handed to a runner
    """)
    assert sorted(rc.invocations(source), key=str) == sorted([
        ["alerts", "ack", None, "--by", "li.wei"],
        ["whatif", "--late", "SUP-001"],
        ["show", None, "--format", "json"],
        ["quarantine", "list"],
        ["erp", "pull"],
    ], key=str)
    assert rc.exercised(("alerts", "ack"), frozenset({"--by"}), rc.invocations(source))
    assert not rc.exercised(("erp", "pull"), frozenset({"--since"}), rc.invocations(source))
    assert not rc.exercised(("status",), frozenset(), rc.invocations(source))


def test_a_missing_or_wrong_alert_row_is_reported(runbook):
    rows = [row for row in rc.alert_table(runbook) if row.alert_type != "PUSH_FAILING"]
    assert rc.defined_alert_types() - {row.alert_type for row in rows} == {"PUSH_FAILING"}

    table = ("| type | meaning | responsible party | what to do | how it closes |\n| --- | --- | --- | --- | --- |\n"
             "| `INSPECTION_FAILED` | m | `quality` (ack 8 h; escalates quality → quality_manager) | d | c |\n"
             "| `SHORT_SHIPMENT` | m | `buyer` (ack 8 h; escalates buyer → purchasing_manager) | d | c |\n"
             "| `ORDER_CHANGED` | m | buyer | d | c |\n"
             "| `NO_SUCH_TYPE` | m | `buyer` (ack 8 h; escalates buyer) | d | c |\n")
    problems = [p for row in rc.alert_table(table) for p in rc.party_problems(row)]
    assert len(problems) == 4
    assert "INSPECTION_FAILED says ('quality', 8.0," in problems[0] and "('quality', 2.0," in problems[0]  # SLA
    assert "SHORT_SHIPMENT says ('buyer'" in problems[1] and "('supplier'" in problems[1]                # party
    assert "is not `party` (ack N h; escalates a → b)" in problems[2]
    assert "NO_SUCH_TYPE has no entry in mappings/alerting.yaml" in problems[3]


def test_alert_types_are_found_in_the_source_as_literals_and_module_constants():
    source = textwrap.dedent("""
        RUN_LATE = "RUN_LATE"
        party = "it_ops"
        def rule():
            a = Alert(alert_type="GOODS_LOST", responsible_party=party)
            b = Alert(alert_type=RUN_LATE)
            c = Alert(alert_type=discrepancy.kind)    # dynamic: the alerting file names these
            d = Alert(alert_type="not a code")
    """)
    assert rc._alert_types_in(source) == {"GOODS_LOST", "RUN_LATE"}

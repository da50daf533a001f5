"""What tests/docs/test_operations_runbook.py checks in docs/operations.md, as plain functions.

* Every line of a ```sh block is a ``hub`` command (comments and blank lines aside): its
  subcommand path exists in the CLI (``hub.cli.app``) and the whole line parses as click would
  parse it (options, argument count, types), without running it.
* A ``hub ...`` in an inline code span of the prose names an existing command with options it
  has (it may leave out arguments: ``hub quarantine replay`` names the command).
* Every such command is exercised: a test under tests/ or the demo (hub/demo.py) runs that
  subcommand path with every option the runbook line uses. Tests are read, not run: an
  invocation is a list or tuple of literal tokens handed to ``CliRunner.invoke`` /
  ``subprocess.run`` and the like (``runner.invoke(app, ["quarantine", "replay", "7"])``), or a
  call of a test's own helper that puts a fixed prefix before its ``*args``
  (``invoke_alerts = lambda *args: runner.invoke(root, ["alerts", *args])``).
* Every alert type the code defines has a row in the runbook's alert table, and the row's party,
  acknowledgement SLA and escalation chain are those of mappings/alerting.yaml.
"""
from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = REPO_ROOT / "docs" / "operations.md"
DEMO = REPO_ROOT / "hub" / "demo.py"
#: the tests that may exercise a command: all of tests/ but this folder (its planted examples must not count)
TESTS = REPO_ROOT / "tests"
#: where alert types are defined (alert_type=... of an Alert)
ALERT_SOURCES = ("collaboration", "hub", "adapters")

#: callees that run a command line: CliRunner.invoke, subprocess.run / call / check_output / Popen
_RUNNERS = re.compile(r"invoke|^run$|^call$|^check_call$|^check_output$|^Popen$")
_ALERT_TYPE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
Token = Optional[str]  # None: a value the source computes (a variable, an f-string)


# --------------------------------------------------------------------------- the runbook's commands


@dataclass(frozen=True)
class Command:
    line_no: int
    text: str
    argv: tuple[str, ...]   # the words after `hub`


def fenced_blocks(text: str) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """(info string, first line number, [(line number, line)]) of every ``` block."""
    blocks: list[tuple[str, int, list[tuple[int, str]]]] = []
    current: Optional[tuple[str, int, list[tuple[int, str]]]] = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = line.strip().startswith("```")
        if current is None and fence:
            current = (line.strip()[3:].strip().split(" ")[0], number, [])
        elif current is not None and fence:
            blocks.append(current)
            current = None
        elif current is not None:
            current[2].append((number, line))
    if current is not None:
        raise ValueError(f"line {current[1]}: a ``` block is never closed")
    return blocks


def sh_commands(text: str) -> tuple[list[Command], list[str]]:
    """The commands of the ```sh blocks, and the lines that are not a `hub` command."""
    commands: list[Command] = []
    problems: list[str] = []
    for info, _start, lines in fenced_blocks(text):
        if info != "sh":
            continue
        pending = ""
        for number, line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            whole, pending = pending + line, ""
            try:
                words = shlex.split(whole, comments=True)
            except ValueError as exc:
                problems.append(f"line {number}: {exc}: {whole.strip()}")
                continue
            if not words:
                continue  # blank or comment
            if words[0] != "hub" or any(w in ("|", "&&", ";", "||", ">", "<") for w in words):
                problems.append(f"line {number}: only plain `hub ...` commands belong in sh blocks: {whole.strip()}")
                continue
            commands.append(Command(number, whole.strip(), tuple(words[1:])))
    return commands, problems


_INLINE = re.compile(r"`(hub [^`]+)`")


def inline_commands(text: str) -> list[Command]:
    """``hub ...`` code spans of the prose (outside the ``` blocks)."""
    fenced = {number for _info, start, lines in fenced_blocks(text)
              for number in [start, *(n for n, _ in lines), (lines[-1][0] if lines else start) + 1]}
    commands = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number in fenced:
            continue
        for span in _INLINE.findall(line):
            commands.append(Command(number, span, tuple(shlex.split(span)[1:])))
    return commands


def resolve(argv: Sequence[str], parse: bool = True) -> tuple[tuple[str, ...], Optional[str]]:
    """(subcommand path, problem or None): the path must name a command and the rest must parse
    (``parse=False``: only its options must exist)."""
    import typer

    command = _root()
    path: list[str] = []
    rest = list(argv)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            return tuple(path), f"`hub {' '.join([*path, rest[0]])}` is no command"
        path.append(rest.pop(0))
        command = sub
    if _is_group(command):
        return tuple(path), f"`hub {' '.join(path) or '(nothing)'}` is a group: name one of its commands"
    if not parse:
        declared = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        unknown = sorted(flags(argv, path) - declared)
        return tuple(path), (f"`hub {' '.join(path)}` has no option {', '.join(unknown)}" if unknown else None)
    if "--help" in rest:
        return tuple(path), None  # click would print the help and stop there
    try:
        command.make_context(" ".join(["hub", *path]), rest)
    except typer.TyperException as exc:  # the usage errors of the click typer parses with
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return tuple(path), f"`hub {' '.join(argv)}` does not parse: {message}"
    return tuple(path), None


@lru_cache(maxsize=1)
def _root():
    import typer.main

    from hub.cli import app

    return typer.main.get_command(app)


def _is_group(command) -> bool:
    # duck-typed: typer vendors its own click (typer._click), whose classes are not click's
    return isinstance(getattr(command, "commands", None), dict)


def flags(argv: Sequence[str], path: Sequence[str]) -> frozenset[str]:
    """The options a command line uses (``--x=y`` counts as ``--x``)."""
    return frozenset(w.split("=", 1)[0] for w in argv[len(path):] if w.startswith("-") and w != "-")


# --------------------------------------------------------------------------- invocations in tests / the demo


def _token(node: ast.expr) -> Token:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _run_of(elements: Sequence[ast.expr]) -> list[Token]:
    """The tokens of a command line display, up to an unpacked ``*rest`` (unknown from there on)."""
    run: list[Token] = []
    for element in elements:
        if isinstance(element, ast.Starred):
            break
        run.append(_token(element))
    # the program itself (sys.executable, the hub binary) comes first in a subprocess argv; which
    # program it is stays unknown, so `airflow db migrate` would count for a `hub db migrate` too
    if run and (run[0] is None or run[0] == "hub" or run[0].endswith("/hub")):
        run = run[1:]
    return run


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _helpers(tree: ast.AST) -> tuple[dict[str, tuple[list[Token], int]], set[int]]:
    """Functions and lambdas that run a command line made of a fixed prefix and their ``*args``:
    name -> (prefix, number of positional parameters before ``*args``); and the ids of those
    template displays (a helper nobody calls runs nothing)."""
    found: dict[str, tuple[list[Token], int]] = {}
    templates: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            name, function = node.name, node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and len(node.targets) == 1:
            target = node.targets[0]
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            function = node.value
        else:
            continue
        vararg = function.args.vararg
        if vararg is None or not name:
            continue
        fixed = len(function.args.posonlyargs) + len(function.args.args)
        for display in ast.walk(function):
            if isinstance(display, (ast.List, ast.Tuple)) and any(
                    isinstance(e, ast.Starred) and isinstance(e.value, ast.Name) and e.value.id == vararg.arg
                    for e in display.elts):
                prefix = _run_of(display.elts)
                if None not in prefix:
                    found[name] = (prefix, fixed)
                    templates.add(id(display))
                break
    return found, templates


def invocations(source: str) -> list[list[Token]]:
    """Every command line a Python source runs (see the module doc for what counts)."""
    tree = ast.parse(source)
    helpers, templates = _helpers(tree)
    runs: list[list[Token]] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = _callee(call)
        if name in helpers:
            prefix, fixed = helpers[name]
            runs.append(prefix + _plain_run(call.args[fixed:]))
        elif _RUNNERS.search(name):
            for arg in call.args:
                if isinstance(arg, (ast.List, ast.Tuple)) and id(arg) not in templates:
                    runs.append(_run_of(arg.elts))
    return [run for run in runs if run]


def _plain_run(args: Sequence[ast.expr]) -> list[Token]:
    run: list[Token] = []
    for arg in args:
        if isinstance(arg, ast.Starred):
            break
        run.append(_token(arg))
    return run


def demo_invocations() -> list[list[Token]]:
    """What the demo runs: its epilogue's commands, and any command line hub/demo.py itself runs."""
    from hub.demo import EPILOGUE

    return [list(args) for _title, args in EPILOGUE] + invocations(DEMO.read_text(encoding="utf-8"))


def invocations_in_tests(folder: Path = TESTS, skip: Iterable[Path] = ()) -> list[list[Token]]:
    skipped = [Path(s).resolve() for s in skip]
    runs: list[list[Token]] = []
    for path in sorted(folder.rglob("*.py")):
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        runs.extend(invocations(path.read_text(encoding="utf-8")))
    return runs


def exercised(path: Sequence[str], used: frozenset[str], runs: Iterable[Sequence[Token]]) -> bool:
    """Does some run start with ``path`` and name every option in ``used``?"""
    width = len(path)
    return any(list(run[:width]) == list(path) and used <= set(run[width:]) for run in runs)


def check(text: str, runs: Sequence[Sequence[Token]]) -> list[str]:
    """Every problem of the runbook ``text``'s sh blocks, one line each (empty: all good)."""
    commands, problems = sh_commands(text)
    for command, parse in [*((c, True) for c in commands), *((c, False) for c in inline_commands(text))]:
        path, problem = resolve(command.argv, parse)
        if problem:
            problems.append(f"line {command.line_no}: {problem}")
            continue
        used = flags(command.argv, path) - {"--help"}
        if not exercised(path, used, runs):
            options = f" with {' '.join(sorted(used))}" if used else ""
            problems.append(f"line {command.line_no}: `hub {' '.join(path)}`{options} is run by no test under "
                            f"tests/ and not by the demo: {command.text}")
    return problems


# --------------------------------------------------------------------------- alert types


@lru_cache(maxsize=1)
def defined_alert_types() -> frozenset[str]:
    """Alert types the code defines: mappings/alerting.yaml's, collaboration/alerts/rules.py's codes and
    every ``alert_type=`` given to an Alert (a literal, or a module constant) in the source."""
    from collaboration.alerts import rules
    from collaboration.alerts.config import load_config

    types = set(load_config().alert_types)
    types |= {v for k, v in vars(rules).items() if k.isupper() and isinstance(v, str) and _ALERT_TYPE.match(v)}
    for folder in ALERT_SOURCES:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            types |= _alert_types_in(path.read_text(encoding="utf-8"))
    return frozenset(types)


def _alert_types_in(source: str) -> set[str]:
    tree = ast.parse(source)
    constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}
    found: set[str] = set()
    for keyword in (n for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "alert_type"):
        value = keyword.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.add(value.value)
        elif isinstance(value, ast.Name) and value.id in constants:
            found.add(constants[value.id])
    return {t for t in found if _ALERT_TYPE.match(t)}


@dataclass(frozen=True)
class AlertRow:
    line_no: int
    alert_type: str
    cells: dict[str, str]


ALERT_COLUMNS = ("type", "meaning", "responsible party", "what to do", "how it closes")


def alert_table(text: str) -> list[AlertRow]:
    """The rows of the table whose header is :data:`ALERT_COLUMNS`."""
    lines = text.splitlines()
    rows: list[AlertRow] = []
    for index, line in enumerate(lines):
        if tuple(_cells(line)) != ALERT_COLUMNS:
            continue
        for number in range(index + 2, len(lines)):  # after the |---| rule
            cells = _cells(lines[number])
            if not cells:
                break
            alert_type = cells[0].strip("`")
            rows.append(AlertRow(number + 1, alert_type, dict(zip(ALERT_COLUMNS, cells))))
    return rows


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    if not (stripped.startswith("|") and stripped.endswith("|")):
        return []
    # a | inside `code` would split a cell: the runbook writes none there
    return [cell.strip() for cell in stripped[1:-1].split("|")]


_PARTY = re.compile(r"^`(?P<party>[a-z_]+)`(?: \(ack (?P<sla>[0-9.]+) h; escalates (?P<chain>[a-z_ →]+)\))?")


def party_problems(row: AlertRow) -> list[str]:
    """The party cell is ``\\`party\\` (ack N h; escalates a → b)``, as mappings/alerting.yaml says."""
    from collaboration.alerts.config import load_config

    config = load_config()
    spec = config.spec(row.alert_type)
    cell = row.cells["responsible party"]
    match = _PARTY.match(cell)
    if spec is None:
        return [f"line {row.line_no}: {row.alert_type} has no entry in mappings/alerting.yaml"]
    if match is None or match["sla"] is None:
        return [f"line {row.line_no}: party cell {cell!r} is not `party` (ack N h; escalates a → b)"]
    want_sla = config.ack_sla(row.alert_type).total_seconds() / 3600
    want = (spec.party, want_sla, tuple(config.chain(row.alert_type)))
    got = (match["party"], float(match["sla"]), tuple(p.strip() for p in match["chain"].split("→")))
    return [] if got == want else [f"line {row.line_no}: {row.alert_type} says {got}, mappings/alerting.yaml {want}"]

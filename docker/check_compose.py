"""Check docker-compose.yml without Docker: interpolate ``${VAR...}`` as Compose does, then validate
the result against the vendored Compose Specification schema (docker/compose-spec.json).

    .venv/bin/python docker/check_compose.py                 # variables from .env and the environment
    .venv/bin/python docker/check_compose.py --dummy         # placeholders for every required variable

Exit codes: 0 valid, 1 invalid (one line per problem: where, what), 2 usage or unreadable input.

Interpolation follows the Compose Specification (12-interpolation.md): ``$VAR``, ``${VAR}``,
``${VAR:-default}`` / ``${VAR-default}``, ``${VAR:?err}`` / ``${VAR?err}``, ``${VAR:+alt}`` /
``${VAR+alt}``, nesting inside the default, ``$$`` for a literal ``$``; values only, never keys.
INFERRED from compose-go's template pattern, not the written spec: ``${`` without a valid reference
is an error, a lone ``$`` followed by anything else stays literal, and ``:+`` / ``+`` exist.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Union

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SCHEMA_FILE = HERE / "compose-spec.json"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the operators a braced reference may carry, longest first so ":-" wins over "-"
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A value Compose would refuse: bad syntax, or a required variable unset/empty."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or '<value>'}: {problem}")
        self.where = where
        self.problem = problem


class MissingVariable(InterpolationError):
    def __init__(self, where: str, name: str, message: str) -> None:
        super().__init__(where, f"required variable {name} is missing a value: {message}")
        self.name = name


@dataclass(frozen=True)
class Reference:
    """``${name<operator>argument}``; ``argument`` is parsed too, since defaults may nest."""

    name: str
    operator: str = ""
    argument: tuple["Part", ...] = ()


Part = Union[str, Reference]


def parse(text: str, where: str = "") -> tuple[Part, ...]:
    parts, _ = _parse(text, 0, where, inside_braces=False)
    return parts


def _parse(text: str, i: int, where: str, inside_braces: bool) -> tuple[tuple[Part, ...], int]:
    """Parts of ``text`` from ``i`` up to the end, or (inside a default) up to its closing brace."""
    parts: list[Part] = []
    literal: list[str] = []
    while i < len(text):
        char = text[i]
        if inside_braces and char == "}":
            break
        if char != "$":
            literal.append(char)
            i += 1
            continue
        following = text[i + 1:i + 2]
        name = _NAME.match(text, i + 1)
        if following == "$" or (following != "{" and not name):
            # "$$" is a literal "$"; a "$" that starts no reference stays as it is (compose-go's
            # pattern does not match there)
            literal.append("$")
            i += 2 if following == "$" else 1
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        if following == "{":
            reference, i = _braced(text, i + 2, where)
            parts.append(reference)
        else:
            parts.append(Reference(name.group()))
            i = name.end()
    if literal:
        parts.append("".join(literal))
    return tuple(parts), i


def _braced(text: str, i: int, where: str) -> tuple[Reference, int]:
    name = _NAME.match(text, i)
    if not name:
        raise InterpolationError(where, f"invalid interpolation at {text[max(i - 2, 0):i + 10]!r}: no variable name")
    i = name.end()
    if i >= len(text):
        raise InterpolationError(where, f"unclosed ${{ in the reference to {name.group()}")
    operator = next((op for op in _OPERATORS if text.startswith(op, i)), "")
    if not operator and not text.startswith("}", i):
        raise InterpolationError(where, f"invalid interpolation of {name.group()}: unexpected {text[i:i + 1]!r}")
    argument, i = _parse(text, i + len(operator), where, inside_braces=True)
    if i >= len(text):
        raise InterpolationError(where, f"unclosed ${{ in the reference to {name.group()}")
    return Reference(name.group(), operator, argument), i + 1


def render(parts: tuple[Part, ...], env: Mapping[str, str], where: str = "") -> str:
    out: list[str] = []
    for part in parts:
        out.append(part if isinstance(part, str) else _resolve(part, env, where))
    return "".join(out)


def _resolve(ref: Reference, env: Mapping[str, str], where: str) -> str:
    value = env.get(ref.name)
    if not ref.operator:
        return value or ""  # Compose warns and substitutes "" for an unset variable
    # ":" makes an empty value count as missing; without it only an unset one does
    missing = (value is None or value == "") if ref.operator.startswith(":") else value is None
    kind = ref.operator[-1]
    if kind == "-":
        return render(ref.argument, env, where) if missing else value
    if kind == "?":
        if missing:
            raise MissingVariable(where, ref.name, render(ref.argument, env, where))
        return value
    return "" if missing else render(ref.argument, env, where)  # "+": the alternative when set


def interpolate(text: str, env: Mapping[str, str], where: str = "") -> str:
    return render(parse(text, where), env, where)


def interpolate_tree(node: Any, env: Mapping[str, str], where: str = "") -> Any:
    """The document with every string value interpolated; keys are left alone (as Compose does)."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, _join(where, key)) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env, f"{where}[{n}]") for n, value in enumerate(node)]
    if isinstance(node, str):
        return interpolate(node, env, where)
    return node


def references(node: Any, where: str = "") -> Iterator[tuple[str, Reference]]:
    """Every variable reference in the document's values, nested defaults included, with its place."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from references(value, _join(where, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from references(value, f"{where}[{n}]")
    elif isinstance(node, str):
        yield from _walk(parse(node, where), where)


def _walk(parts: tuple[Part, ...], where: str) -> Iterator[tuple[str, Reference]]:
    for part in parts:
        if isinstance(part, Reference):
            yield where, part
            yield from _walk(part.argument, where)


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def required_variables(document: Any) -> set[str]:
    return {ref.name for _, ref in references(document) if ref.operator in (":?", "?")}


def dummy_environment(document: Any) -> dict[str, str]:
    """A distinct placeholder for each required variable (URL- and JSON-safe, like real values must be)."""
    return {name: f"dummy-{name.lower().replace('_', '-')}" for name in sorted(required_variables(document))}


def load_yaml(path: Path) -> Any:
    import yaml  # PyYAML's safe loader resolves anchors and << merge keys, as Compose does

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def schema_errors(document: Any, schema: Optional[dict[str, Any]] = None) -> list[str]:
    """One ``where: what`` line per schema violation, in document order; empty when valid."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema if schema is not None else load_schema())
    found = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<top level>'}: {error.message}" for error in found]


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a .env file (comments and blank lines skipped, one level of quotes removed)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not _NAME.fullmatch(name.strip()):
            raise ValueError(f"{path}:{number}: not a NAME=value line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def check(compose_file: Path, env: Mapping[str, str]) -> list[str]:
    document = load_yaml(compose_file)
    try:
        resolved = interpolate_tree(document, env)
    except InterpolationError as exc:
        return [str(exc)]
    return schema_errors(resolved)


def main(argv: Optional[list[str]] = None) -> int:
    import os

    import yaml

    parser = argparse.ArgumentParser(prog="check_compose.py", description=__doc__.splitlines()[0])
    parser.add_argument("compose_file", nargs="?", type=Path, default=COMPOSE_FILE)
    parser.add_argument("--env-file", type=Path, default=None, help="default: .env next to the compose file")
    parser.add_argument("--dummy", action="store_true", help="a placeholder for every required variable")
    args = parser.parse_args(argv)
    try:
        if args.dummy:
            env: dict[str, str] = dummy_environment(load_yaml(args.compose_file))
        else:
            env_file = args.env_file or args.compose_file.parent / ".env"
            # the shell's environment wins over .env, as in Compose
            env = {**(read_env_file(env_file) if env_file.exists() else {}), **os.environ}
        problems = check(args.compose_file, env)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args.compose_file}: valid against {SCHEMA_FILE.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

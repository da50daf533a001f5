"""The OData v4 query options the simulator answers: ``$filter``, ``$orderby``, ``$top``, ``$skip``,
``$count``, ``$select`` (``$expand`` is accepted and ignored: no set here has navigations).

``$filter`` grammar (protocols/opcenter.md §2.2 confirms ``eq``, ``and``, ``startswith``,
``contains`` and navigation paths; the rest is standard OData v4, INFERRED for Opcenter)::

    expr    := and ('or' and)*
    and     := unary ('and' unary)*
    unary   := 'not' unary | '(' expr ')' | func | compare
    func    := (startswith | endswith | contains) '(' path ',' literal ')'
    compare := path (eq | ne | gt | ge | lt | le) literal
    path    := Name ('/' Name)*       -- Quantity/UoMNId reads the nested object
    literal := 'text' ('' escapes a quote) | number | true | false | null
             | 2026-11-20T08:00:00Z (Edm.DateTimeOffset) | 5b0c2a3e-... (Edm.Guid)

Comparisons of date-times compare instants; GUIDs compare as lower-case text, the same order
``$orderby=Id`` uses, so keyset paging (``Id gt <last>``) is consistent. Anything else is an
:class:`ODataError`, answered as HTTP 400.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w-]))
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)
_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_FUNCTIONS = ("startswith", "endswith", "contains")
MAX_FILTER_LENGTH = 8000


class ODataError(ValueError):
    pass


class _Literal:
    def __init__(self, kind: str, value: Any) -> None:
        self.kind, self.value = kind, value


def _tokens(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_FILTER_LENGTH:
        raise ODataError(f"$filter longer than {MAX_FILTER_LENGTH} characters")
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ODataError(f"$filter: unexpected character {text[pos]!r} at position {pos}")
        pos = match.end()
        if match.lastgroup != "ws":
            out.append((match.lastgroup or "", match.group()))
    return out


def _as_datetime(value: Any) -> Optional[dt.datetime]:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def resolve(entity: dict[str, Any], path: str) -> Any:
    value: Any = entity
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _compare(actual: Any, op: str, literal: _Literal) -> bool:
    expected = literal.value
    if literal.kind == "null":
        return (actual is None) if op == "eq" else (actual is not None) if op == "ne" else False
    if actual is None:
        return op == "ne"
    if literal.kind == "datetime":
        left = _as_datetime(actual)
        if left is None:
            return op == "ne"
        right = expected
    elif literal.kind == "guid":
        left, right = str(actual).lower(), expected
    elif literal.kind == "number":
        try:
            left, right = Decimal(str(actual)), expected
        except InvalidOperation:
            return op == "ne"
    elif literal.kind == "bool":
        left, right = actual, expected
        if op not in ("eq", "ne"):
            raise ODataError("booleans compare with eq/ne only")
    else:
        left, right = str(actual), expected
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if op == "gt":
        return left > right
    if op == "ge":
        return left >= right
    if op == "lt":
        return left < right
    return left <= right


def parse_filter(text: str, known_fields: Optional[set[str]] = None) -> Predicate:
    """Compile ``$filter`` text into a predicate over entity dicts."""
    tokens = _tokens(text)
    pos = 0

    def peek() -> Optional[tuple[str, str]]:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise ODataError("$filter ends too early")
        pos += 1
        return tokens[pos - 1]

    def expect(kind: str, text_: Optional[str] = None) -> tuple[str, str]:
        token = take()
        if token[0] != kind or (text_ is not None and token[1] != text_):
            raise ODataError(f"$filter: expected {text_ or kind}, found {token[1]!r}")
        return token

    def is_word(word: str) -> bool:
        token = peek()
        return token is not None and token[0] == "name" and token[1] == word

    def path() -> str:
        kind, value = take()
        if kind != "name" or value in _COMPARISONS or value in ("and", "or", "not"):
            raise ODataError(f"$filter: expected a property, found {value!r}")
        if known_fields is not None and value.split("/")[0] not in known_fields:
            raise ODataError(f"$filter: the entity has no property {value.split('/')[0]!r}")
        return value

    def literal() -> _Literal:
        kind, value = take()
        if kind == "string":
            return _Literal("string", value[1:-1].replace("''", "'"))
        if kind == "datetime":
            return _Literal("datetime", _as_datetime(value))
        if kind == "guid":
            return _Literal("guid", value.lower())
        if kind == "number":
            return _Literal("number", Decimal(value))
        if kind == "name" and value in ("true", "false"):
            return _Literal("bool", value == "true")
        if kind == "name" and value == "null":
            return _Literal("null", None)
        raise ODataError(f"$filter: expected a literal, found {value!r}")

    def unary() -> Predicate:
        if is_word("not"):
            take()
            inner = unary()
            return lambda e: not inner(e)
        token = peek()
        if token == ("punct", "("):
            take()
            inner = expr()
            expect("punct", ")")
            return inner
        if token is not None and token[0] == "name" and token[1] in _FUNCTIONS:
            name = take()[1]
            expect("punct", "(")
            field = path()
            expect("punct", ",")
            value = literal()
            expect("punct", ")")
            if value.kind != "string":
                raise ODataError(f"$filter: {name} takes a string literal")
            needle = value.value
            if name == "startswith":
                return lambda e: str(resolve(e, field) or "").startswith(needle)
            if name == "endswith":
                return lambda e: str(resolve(e, field) or "").endswith(needle)
            return lambda e: needle in str(resolve(e, field) or "")
        field = path()
        op = take()
        if op[0] != "name" or op[1] not in _COMPARISONS:
            raise ODataError(f"$filter: expected one of {', '.join(_COMPARISONS)} after {field}, found {op[1]!r}")
        value = literal()
        return lambda e: _compare(resolve(e, field), op[1], value)

    def conjunction() -> Predicate:
        parts = [unary()]
        while is_word("and"):
            take()
            parts.append(unary())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def expr() -> Predicate:
        parts = [conjunction()]
        while is_word("or"):
            take()
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    if not tokens:
        raise ODataError("$filter is empty")
    predicate = expr()
    if pos != len(tokens):
        raise ODataError(f"$filter: unexpected {tokens[pos][1]!r} at the end")
    return predicate


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    when = _as_datetime(value) if isinstance(value, str) and "T" in value else None
    if when is not None:
        return (1, when.timestamp())
    if isinstance(value, bool):
        return (2, int(value))
    if isinstance(value, (int, float, Decimal)):
        return (2, Decimal(str(value)))
    return (3, str(value).lower())


def parse_orderby(text: str, known_fields: set[str]) -> list[tuple[str, bool]]:
    """``LastUpdatedOn desc,Id`` -> ``[("LastUpdatedOn", True), ("Id", False)]`` (field, descending)."""
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"$orderby: cannot read {part.strip()!r}")
        if words[0].split("/")[0] not in known_fields:
            raise ODataError(f"$orderby: the entity has no property {words[0]!r}")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order

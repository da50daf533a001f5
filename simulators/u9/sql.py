"""The slice of T-SQL ``QueryCommon/QueryInfoBySql`` needs in the simulator (protocols/yonyou-u9.md §1.3).

Real U9 Cloud hands the string to SQL Server. The simulator understands one statement form::

    SELECT [TOP n] * | col[, col...] FROM table [WITH (NOLOCK)]
      [WHERE cond] [ORDER BY col [ASC|DESC][, ...]] [OFFSET n ROWS [FETCH NEXT m ROWS ONLY]]

with ``cond`` built from ``col op literal`` (= <> != > < >= <=), ``col [NOT] IN (...)``,
``col IS [NOT] NULL``, ``col [NOT] LIKE 'x%'``, AND, OR, NOT and parentheses; literals are
``'text'`` (``''`` escapes a quote), ``N'text'``, numbers and NULL. Anything else is refused the
way SQL Server words it (INFERRED: the simulator answers ResCode 500 with that text).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>[Nn]?'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<op><>|!=|>=|<=|=|>|<)"
    r"|(?P<punct>[(),*])|(?P<ident>\[[^\]]+\]|[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?))"
)
_KEYWORDS = {"SELECT", "TOP", "FROM", "WHERE", "ORDER", "BY", "ASC", "DESC", "AND", "OR", "NOT", "IN", "IS",
             "NULL", "LIKE", "OFFSET", "ROWS", "ROW", "FETCH", "NEXT", "FIRST", "ONLY", "WITH", "NOLOCK", "DISTINCT"}


class SqlError(Exception):
    """A statement SQL Server would refuse; the message is SQL Server's (zh-CN) wording."""


@dataclass(frozen=True)
class Query:
    table: str
    columns: tuple[str, ...]  # resolved names; all columns for *
    where: Optional[Callable[[dict[str, Any]], bool]]
    order: tuple[tuple[str, bool], ...]  # (column, descending)
    top: Optional[int]
    offset: int
    fetch: Optional[int]
    #: top-level conjuncts the executor can use as an index: ("gt_id", n) / ("parent_in", column, ids)
    hints: tuple[tuple[Any, ...], ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            snippet = text[pos:pos + 10].strip()
            raise SqlError(f"'{snippet}' 附近有语法错误。")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "ident":
            if value.startswith("["):
                value = value[1:-1]
            elif value.upper() in _KEYWORDS:
                kind = "kw"
                value = value.upper()
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _literal(kind: str, value: str) -> Any:
    if kind == "str":
        body = value[1:] if value[0] in "Nn" else value
        return body[1:-1].replace("''", "'")
    if kind == "num":
        return Decimal(value)
    raise SqlError(f"'{value}' 附近有语法错误。")


def _coerce(actual: Any, literal: Any) -> tuple[Any, Any]:
    """Compare like SQL Server would after implicit conversion of the literal to the column type."""
    if isinstance(actual, bool):
        return int(actual), Decimal(str(literal)) if not isinstance(literal, Decimal) else literal
    if isinstance(actual, dt.datetime):
        if isinstance(literal, str):
            try:
                return actual, dt.datetime.fromisoformat(literal.strip().replace(" ", "T", 1))
            except ValueError:
                raise SqlError("从字符串转换日期和/或时间时，转换失败。") from None
        raise SqlError("操作数类型冲突: datetime 与 numeric 不兼容")
    if isinstance(actual, (int, Decimal)):
        if isinstance(literal, Decimal):
            return Decimal(actual), literal
        try:
            return Decimal(actual), Decimal(str(literal).strip())
        except InvalidOperation:
            raise SqlError(f"将 varchar 值 '{literal}' 转换为数据类型 numeric 时失败。") from None
    return ("" if actual is None else str(actual)), str(literal)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
}


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def parse(text: str, columns_of: Callable[[str], Optional[tuple[str, ...]]],
          parents: dict[str, str]) -> Query:
    """Parse one SELECT; ``columns_of(table)`` gives a table's columns (None: unknown table)."""
    if not isinstance(text, str) or not text.strip():
        raise SqlError("SqlString 不能为空")
    tokens = _tokens(text)
    index = 0

    def peek(offset: int = 0) -> tuple[str, str]:
        return tokens[index + offset] if index + offset < len(tokens) else ("eof", "")

    def take(kind: Optional[str] = None, value: Optional[str] = None) -> tuple[str, str]:
        nonlocal index
        token = peek()
        if token[0] == "eof" or (kind and token[0] != kind) or (value and token[1] != value):
            near = token[1] or (tokens[-1][1] if tokens else "")
            raise SqlError(f"'{near}' 附近有语法错误。")
        index += 1
        return token

    def is_kw(word: str, offset: int = 0) -> bool:
        return peek(offset) == ("kw", word)

    if not is_kw("SELECT"):
        raise SqlError("QueryInfoBySql 只允许 SELECT 语句")  # INFERRED: reads only
    take()
    if is_kw("DISTINCT"):
        raise SqlError("模拟器不支持 DISTINCT")
    top = None
    if is_kw("TOP"):
        take()
        top = int(_literal(*take("num")))
    selected: list[str] = []
    if peek() == ("punct", "*"):
        take()
    else:
        while True:
            selected.append(take("ident")[1])
            if peek() != ("punct", ","):
                break
            take()
    take("kw", "FROM")
    table_token = take("ident")[1]
    table_columns = None
    table = table_token
    for candidate in (table_token, table_token.split(".")[-1]):
        table_columns = columns_of(candidate)
        if table_columns is not None:
            table = candidate
            break
    if table_columns is None:
        raise SqlError(f"对象名 '{table_token}' 无效。")
    if is_kw("WITH"):
        take()
        take("punct", "(")
        take("kw", "NOLOCK")
        take("punct", ")")

    def column(name: str) -> str:
        bare = name.split(".")[-1]
        for known in table_columns:
            if known.lower() == bare.lower():
                return known
        raise SqlError(f"列名 '{bare}' 无效。")

    columns = tuple(column(c) for c in selected) if selected else tuple(table_columns)
    hints: list[tuple[Any, ...]] = []

    def parse_or(top_level: bool) -> Callable[[dict], bool]:
        parts = [parse_and(top_level)]
        while is_kw("OR"):
            take()
            parts.append(parse_and(False))
        if len(parts) > 1 and top_level:
            hints.clear()  # an OR at the top makes no single conjunct an index
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def parse_and(top_level: bool) -> Callable[[dict], bool]:
        parts = [parse_not(top_level)]
        while is_kw("AND"):
            take()
            parts.append(parse_not(top_level))
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def parse_not(top_level: bool) -> Callable[[dict], bool]:
        if is_kw("NOT"):
            take()
            inner = parse_not(False)
            return lambda row: not inner(row)
        return parse_atom(top_level)

    def parse_atom(top_level: bool) -> Callable[[dict], bool]:
        if peek() == ("punct", "("):
            take()
            inner = parse_or(False)
            take("punct", ")")
            return inner
        name = column(take("ident")[1])
        negate = False
        if is_kw("NOT"):
            take()
            negate = True
        if is_kw("IN"):
            take()
            take("punct", "(")
            values = []
            while True:
                kind, value = take()
                values.append(_literal(kind, value))
                if peek() != ("punct", ","):
                    break
                take()
            take("punct", ")")
            if top_level and not negate and name == parents.get(table):
                hints.append(("parent_in", name, {int(v) for v in values if isinstance(v, Decimal)}))

            def in_list(row: dict) -> bool:
                actual = row.get(name)
                if actual is None:
                    return False
                hit = any(a == b for a, b in (_coerce(actual, v) for v in values))
                return hit != negate
            return in_list
        if is_kw("IS"):
            take()
            not_null = False
            if is_kw("NOT"):
                take()
                not_null = True
            take("kw", "NULL")
            return lambda row: (row.get(name) is not None) == not_null
        if is_kw("LIKE"):
            take()
            pattern = _like(str(_literal(*take("str"))))
            return lambda row: (row.get(name) is not None and bool(pattern.match(str(row.get(name))))) != negate
        if negate:
            raise SqlError("'NOT' 附近有语法错误。")
        op = take("op")[1]
        if is_kw("NULL"):
            take()
            return lambda row: False  # "= NULL" is never true in SQL
        literal = _literal(*take())
        if top_level and name == "ID" and op in (">", ">=") and isinstance(literal, Decimal):
            hints.append(("gt_id", int(literal) - (1 if op == ">=" else 0)))
        compare = _OPS[op]

        def comparison(row: dict) -> bool:
            actual = row.get(name)
            if actual is None:
                return False
            left, right = _coerce(actual, literal)
            return compare(left, right)
        return comparison

    where = None
    if is_kw("WHERE"):
        take()
        where = parse_or(True)
    order: list[tuple[str, bool]] = []
    if is_kw("ORDER"):
        take()
        take("kw", "BY")
        while True:
            name = column(take("ident")[1])
            descending = False
            if is_kw("ASC") or is_kw("DESC"):
                descending = take()[1] == "DESC"
            order.append((name, descending))
            if peek() != ("punct", ","):
                break
            take()
    offset, fetch = 0, None
    if is_kw("OFFSET"):
        if not order:
            raise SqlError("OFFSET 需要 ORDER BY 子句。")
        take()
        offset = int(_literal(*take("num")))
        take("kw")  # ROWS / ROW
        if is_kw("FETCH"):
            take()
            take("kw")  # NEXT / FIRST
            fetch = int(_literal(*take("num")))
            take("kw")
            take("kw", "ONLY")
    if peek()[0] != "eof":
        raise SqlError(f"'{peek()[1]}' 附近有语法错误。")
    return Query(table, columns, where, tuple(order), top, offset, fetch, tuple(hints))


def execute(query: Query, rows_in_id_order: Callable[[int], Any], children_of: Callable[[str, int], list],
            ) -> list[dict[str, Any]]:
    """Run a parsed query. ``rows_in_id_order(after_id)`` iterates rows with ID > after_id ascending;
    ``children_of(table, parent_id)`` gives a child table's rows of one parent."""
    by_id_only = not query.order or query.order == (("ID", False),)
    parent_hint = next((h for h in query.hints if h[0] == "parent_in"), None)
    after = max([h[1] for h in query.hints if h[0] == "gt_id"], default=-1)
    if parent_hint is not None:
        candidates: Any = sorted((r for pid in sorted(parent_hint[2]) for r in children_of(query.table, pid)),
                                 key=lambda r: r["ID"])
        candidates = [r for r in candidates if r["ID"] > after]
    else:
        candidates = rows_in_id_order(after)
    limit = None
    if by_id_only and query.offset == 0:
        limit = min(x for x in (query.top, query.fetch, None) if x is not None) if (query.top or query.fetch) else None
    matched = []
    for row in candidates:
        if query.where is None or query.where(row):
            matched.append(row)
            if limit is not None and len(matched) >= limit:
                break
    for name, descending in reversed(query.order):
        matched.sort(key=lambda r: (r.get(name) is not None, r.get(name) if r.get(name) is not None else 0),
                     reverse=descending)
    if query.offset or query.fetch is not None:
        end = None if query.fetch is None else query.offset + query.fetch
        matched = matched[query.offset:end]
    if query.top is not None:
        matched = matched[:query.top]
    return [{c: row.get(c) for c in query.columns} for row in matched]

"""The ``data/list`` filter grammar (protocols/jiandaoyun.md §2.2), checked and evaluated.

A filter the notes do not allow (unknown method, a method not allowed for the field's type, a
``value`` that is not an array, more than 1000 values for in/nin/all, a subform field, a field
the form does not have, a condition type that does not fit the widget) is refused with code 4815.

INFERRED: ``range`` bounds are inclusive; ``like`` is a substring match; text comparisons are
exact; datetime values in a filter accept the formats writes accept.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from simulators.jiandaoyun.forms import MULTI_TYPES, TEXT_TYPES, FormSpec, JdyError, parse_datetime

_TEXT_METHODS = {"eq", "ne", "in", "nin", "empty", "not_empty"}
_ALLOWED = {
    "text": _TEXT_METHODS,
    "number": {"eq", "ne", "range", "gt", "lt", "empty", "not_empty"},
    "datetime": {"eq", "ne", "range", "empty", "not_empty"},
    "multi": {"in", "all", "empty", "not_empty"},
    "sn": {"eq", "ne", "in", "nin", "like", "empty", "not_empty"},
    "data_id": {"eq", "in", "empty", "not_empty"},
    "flowstate": {"eq", "ne", "in", "nin"},
}
METHODS = set().union(*_ALLOWED.values()) | {"verified", "unverified"}
#: condition ``type`` names accepted per family
_FAMILY_OF_TYPE = {**{t: "text" for t in TEXT_TYPES + ("radio",)}, "number": "number", "datetime": "datetime",
                   "createTime": "datetime", "updateTime": "datetime", **{t: "multi" for t in MULTI_TYPES},
                   "sn": "sn", "data_id": "data_id", "flowstate": "flowstate"}
_SYSTEM_FIELDS = {"createTime": "datetime", "updateTime": "datetime", "_id": "data_id", "flowState": "flowstate"}
MAX_VALUES = 1000

Predicate = Callable[[dict[str, Any]], bool]


def bad_filter(msg: str) -> JdyError:
    return JdyError(4815, f"过滤条件不合法：{msg}")


def compile_filter(spec: FormSpec, flt: Any) -> Predicate:
    if flt in (None, {}):
        return lambda record: True
    if not isinstance(flt, dict):
        raise bad_filter("filter 须为对象")
    rel = flt.get("rel", "and")
    if rel not in ("and", "or"):
        raise bad_filter("rel 须为 and 或 or")
    conds = flt.get("cond", [])
    if not isinstance(conds, list):
        raise bad_filter("cond 须为数组")
    predicates = [_condition(spec, cond, i) for i, cond in enumerate(conds)]
    if not predicates:
        return lambda record: True
    if rel == "and":
        return lambda record: all(p(record) for p in predicates)
    return lambda record: any(p(record) for p in predicates)


def _condition(spec: FormSpec, cond: Any, index: int) -> Predicate:
    where = f"cond[{index}]"
    if not isinstance(cond, dict):
        raise bad_filter(f"{where} 须为对象")
    field, method, values = cond.get("field"), cond.get("method"), cond.get("value", [])
    if not isinstance(field, str) or not field:
        raise bad_filter(f"{where}.field 缺失")
    if method not in METHODS:
        raise bad_filter(f"{where}.method {method!r} 不存在")
    if method in ("empty", "not_empty") and "value" not in cond:
        values = []
    if not isinstance(values, list):
        raise bad_filter(f"{where}.value 须为数组")
    if field in _SYSTEM_FIELDS:
        family = _SYSTEM_FIELDS[field]
    else:
        widget = spec.by_name.get(field)
        if widget is None:
            if any(field in (i.name for i in w.items) for w in spec.widgets):
                raise bad_filter(f"{where} 子表单字段 {field} 不能用于过滤")
            raise bad_filter(f"{where} 字段 {field} 不存在")
        if widget.type == "subform":
            raise bad_filter(f"{where} 子表单字段 {field} 不能用于过滤")
        family = {"number": "number", "datetime": "datetime", "sn": "sn"}.get(
            widget.type, "multi" if widget.type in MULTI_TYPES else "text")
    declared = cond.get("type")
    if declared is not None:
        declared_family = _FAMILY_OF_TYPE.get(str(declared))
        if declared_family != family and not (family == "data_id" and declared_family == "text"):
            raise bad_filter(f"{where}.type {declared!r} 与字段 {field} 的类型不符")
    if method not in _ALLOWED[family]:
        raise bad_filter(f"{where} 字段 {field} 不支持 {method}")
    if method in ("in", "nin", "all") and len(values) > MAX_VALUES:
        raise bad_filter(f"{where}.value 超过 {MAX_VALUES} 个")
    if method in ("eq", "ne", "gt", "lt", "like") and len(values) < 1:
        raise bad_filter(f"{where}.value 缺少比较值")
    if method == "range" and len(values) != 2:
        raise bad_filter(f"{where}.value 须为 [from, to]")
    convert = _converter(family, where)
    operands = [None if v is None and method == "range" else convert(v) for v in values]

    def actual(record: dict[str, Any]) -> Any:
        value = record.get(field)
        if value in (None, "", []):
            return None
        if family == "multi":
            return list(value)
        return convert(value)

    if method == "empty":
        return lambda r: actual(r) is None
    if method == "not_empty":
        return lambda r: actual(r) is not None
    if method == "eq":
        return lambda r: actual(r) == operands[0]
    if method == "ne":
        return lambda r: actual(r) != operands[0]
    if method == "in":
        if family == "multi":
            return lambda r: bool(set(actual(r) or []) & set(operands))
        return lambda r: actual(r) in operands
    if method == "nin":
        return lambda r: actual(r) not in operands
    if method == "all":
        return lambda r: set(operands) <= set(actual(r) or [])
    if method == "gt":
        return lambda r: actual(r) is not None and actual(r) > operands[0]
    if method == "lt":
        return lambda r: actual(r) is not None and actual(r) < operands[0]
    if method == "like":
        return lambda r: actual(r) is not None and str(operands[0]) in str(actual(r))
    if method == "range":
        low, high = operands

        def in_range(r: dict[str, Any]) -> bool:
            value = actual(r)
            return value is not None and (low is None or value >= low) and (high is None or value <= high)
        return in_range
    raise bad_filter(f"{where}.method {method!r} 不支持")  # verified/unverified: phone widgets only


def _converter(family: str, where: str) -> Callable[[Any], Any]:
    if family == "number":
        def number(value: Any) -> float:
            if isinstance(value, bool):
                raise bad_filter(f"{where}.value 须为数字")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise bad_filter(f"{where}.value 须为数字") from None
        return number
    if family == "datetime":
        def moment(value: Any) -> dt.datetime:
            try:
                return parse_datetime(value, where)
            except JdyError:
                raise bad_filter(f"{where}.value 日期格式不支持") from None
        return moment
    if family == "flowstate":
        return lambda value: value
    if family == "multi":
        return lambda value: str(value)
    return lambda value: value if isinstance(value, str) else str(value)

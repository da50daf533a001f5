"""Form metadata and value handling of the Jiandaoyun simulator (protocols/jiandaoyun.md §1.3, §2.3).

A form is a list of widgets. ``name`` is the key records use on the API: the widget's alias when
one is configured, else its ``widgetName`` (``_widget_1700000000001``). Writes wrap every value
as ``{"value": ...}`` (subform rows too); reads return plain values, datetimes as UTC
``2024-05-06T02:00:00.000Z``.

INFERRED (the notes do not say): an unknown field or an unwrapped value in a write is refused
with code 17017; a value of the wrong type for its widget is refused with 17017; naive datetimes
on write are read in the enterprise time zone (Asia/Shanghai); widgets never set read back as
``""`` (text-like), ``None`` (number, datetime) or ``[]`` (checkbox, subform); writes to ``sn``
widgets are ignored (the notes: not writable) and a new record gets the next serial number.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

TEXT_TYPES = ("text", "textarea", "radiogroup", "combo")
MULTI_TYPES = ("checkboxgroup", "combocheck")
WIDGET_TYPES = TEXT_TYPES + MULTI_TYPES + ("number", "datetime", "sn", "subform")
ENTERPRISE_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
#: a millisecond epoch has 13 digits today; 10 digits is a second epoch, which the API refuses
MIN_MS_EPOCH = 10 ** 11


class JdyError(Exception):
    """A refusal the handler answers with ``{"code", "msg"}`` and ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def invalid(msg: str) -> JdyError:
    return JdyError(17017, f"参数不合法：{msg}")


@dataclass(frozen=True)
class Widget:
    name: str
    label: str
    type: str
    widget_name: str = ""
    items: tuple["Widget", ...] = ()
    #: radiogroup/combo/checkbox options (shown by widget/list; not enforced: API writes skip validation)
    options: tuple[str, ...] = ()
    sn_prefix: str = ""

    def __post_init__(self) -> None:
        if self.type not in WIDGET_TYPES:
            raise ValueError(f"unknown widget type {self.type!r}")
        if self.type == "subform" and not self.items:
            raise ValueError(f"subform {self.name} needs items")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "name": self.name, "widgetName": self.widget_name or self.name,
                               "type": self.type}
        if self.items:
            out["items"] = [item.describe() for item in self.items]
        return out


@dataclass
class FormSpec:
    entry_id: str
    app_id: str
    name: str
    widgets: tuple[Widget, ...]
    by_name: dict[str, Widget] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {w.name: w for w in self.widgets}
        if len(self.by_name) != len(self.widgets):
            raise ValueError(f"form {self.name}: duplicate widget names")


def utc_text(moment: dt.datetime) -> str:
    """The API's read format: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_PLAIN_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(value: Any, what: str) -> dt.datetime:
    """A datetime as the API accepts it on write (§1.3); JdyError 17017 otherwise."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"{what} 不能为空")
    if isinstance(value, (int, float)):
        if value < MIN_MS_EPOCH:
            raise invalid(f"{what} 时间戳须为毫秒")
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{what} 不能为空")
    text = value.strip()
    try:
        if _PLAIN_DATETIME.match(text) or _PLAIN_DATE.match(text) or _ISO.match(text):
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T") if _PLAIN_DATETIME.match(text) else text)
        else:
            raise ValueError(text)
    except ValueError:
        raise invalid(f"{what} 日期格式不支持") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ENTERPRISE_ZONE)
    return parsed.astimezone(dt.timezone.utc)


def unwrap(value: Any, what: str) -> Any:
    if not isinstance(value, dict) or "value" not in value:
        raise invalid(f"{what} 须写作 {{\"value\": ...}}")
    return value["value"]


def coerce(widget: Widget, value: Any, what: str,
           existing_rows: Optional[dict[str, dict[str, Any]]] = None,
           new_id: Optional[Callable[[], str]] = None) -> Any:
    """One written value (already unwrapped) in the stored/read form."""
    kind = widget.type
    if kind in TEXT_TYPES:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid(f"{what} 须为文本")
        return str(value)
    if kind == "number":
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise invalid(f"{what} 须为数字")
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise invalid(f"{what} 须为数字") from None
            return int(number) if number.is_integer() and "." not in value else number
        raise invalid(f"{what} 须为数字")
    if kind == "datetime":
        return utc_text(parse_datetime(value, what))
    if kind in MULTI_TYPES:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"{what} 须为文本数组")
        return list(value)
    if kind == "subform":
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise invalid(f"{what} 须为子表单行数组")
        assert new_id is not None
        existing_rows = existing_rows or {}
        rows = []
        used: set[str] = set()
        items = {item.name: item for item in widget.items}
        for index, row in enumerate(value):
            row_id = row.get("_id")
            if isinstance(row_id, dict):
                row_id = row_id.get("value")
            # rows without a correct _id get a new one (§2.3); an id may not be taken twice
            if not isinstance(row_id, str) or row_id not in existing_rows or row_id in used:
                row_id = new_id()
            used.add(row_id)
            out = {"_id": row_id}
            for item in widget.items:
                out[item.name] = empty_value(item)
            for key, wrapped in row.items():
                if key == "_id":
                    continue
                item = items.get(key)
                if item is None:
                    raise invalid(f"{what}[{index}] 没有字段 {key}")
                if item.type == "sn":
                    continue
                out[key] = coerce(item, unwrap(wrapped, f"{what}[{index}].{key}"), f"{what}[{index}].{key}")
            rows.append(out)
        return rows
    raise invalid(f"{what} 不可写")  # pragma: no cover - sn is skipped by the caller


def empty_value(widget: Widget) -> Any:
    if widget.type in TEXT_TYPES or widget.type == "sn":
        return ""
    if widget.type in MULTI_TYPES or widget.type == "subform":
        return []
    return None


# --------------------------------------------------------------------------- the demo app

DEMO_APP_ID = "64b7c1e2a1b2c3d4e5f60718"
DEMO_APP_NAME = "供应链协同平台"
#: purpose -> form id of the demo app (what the demo's jiandaoyun_default Connection names)
DEMO_FORMS = {
    "inspection": "64b7c2f0a1b2c3d4e5f60720",
    "purchase_task": "64b7c2f0a1b2c3d4e5f60721",
    "plan_change": "64b7c2f0a1b2c3d4e5f60722",
    "asn": "64b7c2f0a1b2c3d4e5f60723",
    "production_order": "64b7c2f0a1b2c3d4e5f60724",
    "delivery_schedule": "64b7c2f0a1b2c3d4e5f60725",
}
_ANSWER = ("接受", "拒绝", "部分接受")
_LINE_ANSWER = ("接受", "拒绝", "修改")
_TASK_STATUS = ("待确认", "已答复", "已确认", "已关闭", "已取消")


class _Numberer:
    """Widget names ``_widget_17000000000NN`` in declaration order, so the demo forms are stable."""

    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self, alias: str, label: str, type_: str, **kw: Any) -> Widget:
        self.next += 1
        return Widget(alias, label, type_, widget_name=f"_widget_{self.next}", **kw)


def demo_forms() -> list[FormSpec]:
    """The six forms the hub uses (aliases as in mappings/jiandaoyun/*.yaml and, for the delivery
    schedule, adapters/jiandaoyun/schedule.py). Widget names follow declaration order: a new form
    goes last, so the others keep theirs."""
    w = _Numberer(1700000000000)
    purchase_task = FormSpec(DEMO_FORMS["purchase_task"], DEMO_APP_ID, "采购任务", (
        w("hub_key", "集成键", "text"), w("po_number", "采购订单号", "text"), w("supplier_id", "供应商编码", "text"),
        w("order_date", "下单日期", "datetime"), w("currency", "币别", "text"), w("version", "版本", "number"),
        w("task_status", "任务状态", "radiogroup", options=_TASK_STATUS),
        w("response", "供应商答复", "radiogroup", options=_ANSWER), w("responded_at", "答复时间", "datetime"),
        w("response_note", "答复说明", "textarea"),
        w("lines", "订单明细", "subform", items=(
            w("line_no", "行号", "number"), w("material_id", "物料编码", "text"),
            w("supplier_material_id", "供应商料号", "text"), w("quantity", "订购数量", "number"),
            w("uom", "单位", "text"), w("unit_price", "单价", "number"), w("delivery_date", "要求交期", "datetime"),
            w("line_response", "行答复", "radiogroup", options=_LINE_ANSWER),
            w("promised_quantity", "承诺数量", "number"), w("promised_date", "承诺交期", "datetime"),
            w("reason", "原因", "text"))),
    ))
    plan_change = FormSpec(DEMO_FORMS["plan_change"], DEMO_APP_ID, "计划变更确认", (
        w("hub_key", "变更单号", "text"), w("po_number", "采购订单号", "text"), w("supplier_id", "供应商编码", "text"),
        w("version", "订单版本", "number"), w("change_reason", "变更原因", "textarea"),
        w("task_status", "任务状态", "radiogroup", options=_TASK_STATUS),
        w("response", "供应商确认", "radiogroup", options=("确认", "拒绝", "部分确认")),
        w("responded_at", "确认时间", "datetime"), w("response_note", "确认说明", "textarea"),
        w("lines", "变更明细", "subform", items=(
            w("line_no", "行号", "number"), w("material_id", "物料编码", "text"), w("uom", "单位", "text"),
            w("old_quantity", "原数量", "number"), w("new_quantity", "新数量", "number"),
            w("old_date", "原交期", "datetime"), w("new_date", "新交期", "datetime"),
            w("line_response", "行确认", "radiogroup", options=("确认", "拒绝", "修改")),
            w("promised_quantity", "承诺数量", "number"), w("promised_date", "承诺交期", "datetime"),
            w("line_note", "说明", "text"))),
    ))
    asn = FormSpec(DEMO_FORMS["asn"], DEMO_APP_ID, "发货通知", (
        w("asn_number", "发货单号", "text"), w("supplier_id", "供应商编码", "text"), w("ship_to", "收货工厂", "text"),
        w("ship_date", "发货日期", "datetime"), w("expected_arrival", "预计到货", "datetime"),
        w("asn_status", "单据状态", "radiogroup", options=("有效", "作废")),
        w("lines", "发货明细", "subform", items=(
            w("po_number", "采购订单号", "text"), w("po_line_no", "订单行号", "number"),
            w("material_id", "物料编码", "text"), w("supplier_material_id", "供应商料号", "text"),
            w("quantity", "发货数量", "number"), w("uom", "单位", "text"), w("batch_number", "批号", "text"),
            w("package_id", "箱码(SSCC)", "text"), w("expiry_date", "有效期至", "datetime"))),
    ))
    inspection = FormSpec(DEMO_FORMS["inspection"], DEMO_APP_ID, "来料检验", (
        w("inspection_id", "检验单号", "sn", sn_prefix="IQC"), w("batch_id", "批次号", "text"),
        w("material_id", "物料编码", "text"), w("supplier_id", "供应商编码", "text"),
        w("receipt_id", "收货单号", "text"), w("po_number", "采购订单号", "text"),
        w("inspected_quantity", "检验数量", "number"), w("rejected_quantity", "不合格数量", "number"),
        w("uom", "单位", "text"), w("result", "检验结论", "radiogroup", options=("合格", "不合格", "让步接收")),
        w("inspected_at", "检验时间", "datetime"),
        w("defects", "缺陷类型", "checkboxgroup", options=("外观划伤", "尺寸超差", "锈蚀", "异响")),
        w("characteristics", "检验项目", "subform", items=(
            w("name", "项目", "text"), w("value", "实测值", "text"),
            w("item_result", "判定", "radiogroup", options=("合格", "不合格")))),
    ))
    production_order = FormSpec(DEMO_FORMS["production_order"], DEMO_APP_ID, "生产工单", (
        w("order_id", "工单号", "text"), w("material_id", "产品编码", "text"), w("quantity", "计划数量", "number"),
        w("uom", "单位", "text"), w("start", "计划开工", "datetime"), w("due", "计划完工", "datetime"),
        w("line", "产线", "combo", options=("L1", "L2")), w("version", "版本", "number"),
        w("status", "工单状态", "radiogroup", options=("计划", "已下达", "生产中", "已完工", "已关闭", "已取消")),
    ))
    # INFERRED layout: the notes describe no delivery-schedule form; this is the hub's design
    delivery_schedule = FormSpec(DEMO_FORMS["delivery_schedule"], DEMO_APP_ID, "交货计划确认", (
        w("hub_key", "集成键", "text"), w("schedule_id", "计划编号", "text"), w("supplier_id", "供应商编码", "text"),
        w("ship_to", "收货工厂", "text"), w("version", "计划版本", "number"), w("issued_at", "发布时间", "datetime"),
        w("horizon_start", "计划起始", "datetime"), w("horizon_end", "计划截止", "datetime"),
        w("task_status", "任务状态", "radiogroup", options=_TASK_STATUS),
        w("response", "供应商确认", "radiogroup", options=("确认", "拒绝")),
        w("responded_at", "确认时间", "datetime"), w("response_note", "确认说明", "textarea"),
        w("lines", "交货计划明细", "subform", items=(
            w("material_id", "物料编码", "text"), w("supplier_material_id", "供应商料号", "text"),
            w("date", "交货日期", "datetime"), w("quantity", "数量", "number"), w("uom", "单位", "text"),
            w("commitment", "计划类型", "radiogroup", options=("确定", "预测")))),
        w("changes", "变更明细", "subform", items=(
            w("kind", "变更类型", "radiogroup", options=("新增", "取消", "数量变更", "日期变更")),
            w("material_id", "物料编码", "text"), w("uom", "单位", "text"),
            w("old_date", "原交期", "datetime"), w("new_date", "新交期", "datetime"),
            w("old_quantity", "原数量", "number"), w("new_quantity", "新数量", "number"),
            w("requires_approval", "需审批", "radiogroup", options=("是", "否")))),
    ))
    return [inspection, purchase_task, plan_change, asn, production_order, delivery_schedule]


#: (order id, product, qty, start local, due local, line, status)
DEMO_PRODUCTION_ORDERS = (
    ("MO-JDY-0001", "3.01.0001", 200, "2026-12-02 08:00:00", "2026-12-04 17:00:00", "L1", "已下达"),
    ("MO-JDY-0002", "3.01.0002", 120, "2026-12-05 08:00:00", "2026-12-06 17:00:00", "L2", "计划"),
)

"""A small in-memory stand-in for the Odoo ORM: just enough of ``search_read`` / ``create`` /
``write`` / ``read`` / domains for the stock models the hub touches (protocols/wms.md §1).

Faithful where a client can tell: many2one values read as ``[id, display_name]`` or ``false``,
one2many as id lists, empty values as ``false``; unknown fields raise Odoo's
``ValueError: Invalid field ...``; ``[0, 0, vals]`` / ``[1, id, vals]`` / ``[2, id]`` / ``[4, id]`` /
``[6, 0, ids]`` commands; domains in Polish notation with ``&``, ``|``, ``!`` and dotted paths
through many2one fields; ``order`` strings; ``offset``/``limit``. Not modelled: access rules per
record, companies, translations, computed-field dependencies (computed here on every read).
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional


class OdooError(Exception):
    """An exception the JSON-RPC layer serialises as ``error.data.name`` / ``error.data.message``."""

    name = "odoo.exceptions.UserError"
    code = 200

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    name = "odoo.exceptions.UserError"


class ValidationError(OdooError):
    name = "odoo.exceptions.ValidationError"


class AccessDenied(OdooError):
    name = "odoo.exceptions.AccessDenied"


class AccessError(OdooError):
    name = "odoo.exceptions.AccessError"


class MissingError(OdooError):
    name = "odoo.exceptions.MissingError"


class SessionExpired(OdooError):
    name = "odoo.http.SessionExpiredException"
    code = 100


class PyValueError(OdooError):
    name = "builtins.ValueError"


class PyTypeError(OdooError):
    name = "builtins.TypeError"


class PyAttributeError(OdooError):
    name = "builtins.AttributeError"


class ForeignKeyViolation(OdooError):
    name = "psycopg2.errors.ForeignKeyViolation"


class OperationalError(OdooError):
    name = "psycopg2.OperationalError"


class BadRequest(OdooError):
    name = "werkzeug.exceptions.BadRequest"


@dataclass
class Field:
    type: str  # char, float, int, bool, datetime, selection, m2o, o2m, m2m
    relation: Optional[str] = None
    inverse: Optional[str] = None  # o2m: the many2one on ``relation`` pointing back
    required: bool = False
    default: Any = None
    selection: tuple[str, ...] = ()
    compute: Optional[Callable[["Database", dict[str, Any]], Any]] = None
    string: str = ""


MAGIC = {"id": Field("int"), "create_date": Field("datetime"), "write_date": Field("datetime")}


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Database:
    """One Odoo database: ``schema`` maps model -> {field: Field}; records are plain dicts."""

    def __init__(self, name: str, schema: dict[str, dict[str, Field]], descriptions: dict[str, str]) -> None:
        self.name = name
        self.schema = {model: {**MAGIC, **fields} for model, fields in schema.items()}
        self.descriptions = descriptions
        self.tables: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in schema}
        self._next: dict[str, int] = {model: 1 for model in schema}
        self.lock = threading.RLock()
        #: (model, event) -> hook(db, record) run after create/write (Odoo's overridden create)
        self.on_create: dict[str, Callable[["Database", dict[str, Any]], None]] = {}

    # -- schema helpers ---------------------------------------------------------------------
    def fields(self, model: str) -> dict[str, Field]:
        if model not in self.schema:
            raise KeyErrorModel(model)  # Odoo: env[model] -> KeyError
        return self.schema[model]

    def field(self, model: str, name: str) -> Field:
        field = self.fields(model).get(name)
        if field is None:
            raise PyValueError(f"Invalid field {name!r} on model {model!r}")
        return field

    def get(self, model: str, record_id: Any) -> dict[str, Any]:
        record = self.tables[model].get(record_id) if isinstance(record_id, int) else None
        if record is None:
            raise MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({record_id!r},), "
                               "User: 7)")
        return record

    def value(self, model: str, record: dict[str, Any], name: str) -> Any:
        field = self.field(model, name)
        if field.compute is not None:
            return field.compute(self, record)
        if field.type in ("o2m",):
            return sorted(r["id"] for r in self.tables[field.relation].values() if r.get(field.inverse) == record["id"])
        return record.get(name)

    def display_name(self, model: str, record: dict[str, Any]) -> str:
        fields = self.fields(model)
        if "display_name" in fields and fields["display_name"].compute is not None:
            return str(fields["display_name"].compute(self, record))
        return str(record.get("name") or f"{model},{record['id']}")

    # -- conversion ---------------------------------------------------------------------------
    def _convert(self, model: str, name: str, value: Any) -> Any:
        field = self.field(model, name)
        if field.compute is not None:
            return _IGNORED
        if value is False or value is None:
            if field.type in ("float", "int"):
                return 0
            return False
        if field.type == "char":
            if not isinstance(value, str):
                raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")
            return value
        if field.type in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise PyValueError(f"could not convert string to float: {value!r}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")
            return float(value) if field.type == "float" else int(value)
        if field.type == "bool":
            return bool(value)
        if field.type == "datetime":
            try:
                dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise PyValueError(f"time data {value!r} does not match format '%Y-%m-%d %H:%M:%S'") from None
            return str(value)
        if field.type == "selection":
            if value not in field.selection:
                raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")
            return value
        if field.type == "m2o":
            if isinstance(value, bool) or not isinstance(value, int):
                raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")
            if value not in self.tables[field.relation]:
                raise ForeignKeyViolation(f'insert or update on table "{model.replace(".", "_")}" violates foreign key '
                                          f'constraint "{model.replace(".", "_")}_{name}_fkey"\nDETAIL:  Key ({name})=('
                                          f'{value}) is not present in table "{field.relation.replace(".", "_")}".')
            return value
        if field.type == "m2m":
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")
            return list(value)
        raise PyValueError(f"Wrong value for {model}.{name}: {value!r}")

    # -- CRUD ---------------------------------------------------------------------------------
    def create(self, model: str, vals: dict[str, Any]) -> int:
        if not isinstance(vals, dict):
            raise PyValueError(f"create() takes a dict of values, got {type(vals).__name__}")
        fields = self.fields(model)
        record: dict[str, Any] = {"id": self._next[model]}
        children: list[tuple[str, Any]] = []
        for name, value in vals.items():
            field = self.field(model, name)
            if name in MAGIC:
                continue
            if field.type == "o2m":
                children.append((name, value))
                continue
            converted = self._convert(model, name, value)
            if converted is not _IGNORED:
                record[name] = converted
        for name, field in fields.items():
            if name not in record and field.type not in ("o2m",) and field.compute is None and name not in MAGIC:
                default = field.default(self, record) if callable(field.default) else field.default
                record[name] = default if default is not None else (0 if field.type in ("float", "int") else False)
        missing = [n for n, f in fields.items() if f.required and record.get(n) in (False, None, "")]
        if missing:
            raise ValidationError("The operation cannot be completed:\n- Create/update: a mandatory field is not "
                                  f"set.\n- Delete: another model requires the record being deleted.\n\nModel: "
                                  f"{self.descriptions.get(model, model)} ({model})\nField: {missing[0]}")
        stamp = now_text()
        record["create_date"] = record["write_date"] = stamp
        self._next[model] += 1
        self.tables[model][record["id"]] = record
        hook = self.on_create.get(model)
        if hook is not None:
            hook(self, record)
        for name, commands in children:
            self._o2m(model, record, name, commands)
        return record["id"]

    def write(self, model: str, ids: Iterable[int], vals: dict[str, Any]) -> bool:
        if not isinstance(vals, dict):
            raise PyValueError("write() takes a dict of values")
        records = [self.get(model, i) for i in ids]
        for record in records:
            for name, value in vals.items():
                field = self.field(model, name)
                if name in MAGIC:
                    continue
                if field.type == "o2m":
                    self._o2m(model, record, name, value)
                    continue
                converted = self._convert(model, name, value)
                if converted is not _IGNORED:
                    record[name] = converted
            record["write_date"] = now_text()
        return True

    def unlink(self, model: str, ids: Iterable[int]) -> bool:
        for record_id in list(ids):
            self.get(model, record_id)
            del self.tables[model][record_id]
        return True

    def _o2m(self, model: str, record: dict[str, Any], name: str, commands: Any) -> None:
        field = self.field(model, name)
        if not isinstance(commands, list):
            raise PyValueError(f"Wrong value for {model}.{name}: {commands!r}")
        for command in commands:
            if not isinstance(command, (list, tuple)) or not command or not isinstance(command[0], int):
                raise PyValueError(f"Wrong command for {model}.{name}: {command!r}")
            code = command[0]
            if code == 0 and len(command) == 3 and isinstance(command[2], dict):
                self.create(field.relation, {**command[2], field.inverse: record["id"]})
            elif code == 1 and len(command) == 3:
                self.write(field.relation, [command[1]], command[2])
            elif code == 2 and len(command) >= 2:
                self.unlink(field.relation, [command[1]])
            elif code == 4 and len(command) >= 2:
                self.write(field.relation, [command[1]], {field.inverse: record["id"]})
            elif code == 6 and len(command) == 3 and isinstance(command[2], list):
                for child in self.tables[field.relation].values():
                    if child.get(field.inverse) == record["id"] and child["id"] not in command[2]:
                        child[field.inverse] = False
                for child_id in command[2]:
                    self.write(field.relation, [child_id], {field.inverse: record["id"]})
            else:
                raise PyValueError(f"Wrong command for {model}.{name}: {command!r}")

    def read(self, model: str, ids: Iterable[int], fields: Optional[list[str]] = None) -> list[dict[str, Any]]:
        names = list(fields) if fields else list(self.fields(model))
        for name in names:
            self.field(model, name)
        return [self._present(model, self.get(model, i), names) for i in ids]

    def _present(self, model: str, record: dict[str, Any], names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": record["id"]}
        for name in names:
            field = self.field(model, name)
            value = self.value(model, record, name)
            if field.type == "m2o":
                if value:
                    target = self.tables[field.relation].get(value)
                    out[name] = [value, self.display_name(field.relation, target)] if target else False
                else:
                    out[name] = False
            elif field.type in ("o2m", "m2m"):
                out[name] = list(value or [])
            elif value is None:
                out[name] = False
            else:
                out[name] = value
        return out

    # -- search -------------------------------------------------------------------------------
    def search(self, model: str, domain: Any, offset: int = 0, limit: Optional[int] = None,
               order: Optional[str] = None) -> list[int]:
        if not isinstance(domain, list):
            raise PyValueError(f"Invalid domain {domain!r}")
        for key, value in (("offset", offset), ("limit", limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise PyValueError(f"Invalid {key} {value!r}")
        self._check_domain(model, domain)
        records = [r for r in self.tables[model].values() if self._matches(model, r, domain)]
        records = self._ordered(model, records, order or "id asc")
        ids = [r["id"] for r in records]
        return ids[offset: offset + limit if limit else None] if (offset or limit) else ids

    def _ordered(self, model: str, records: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
        if not isinstance(order, str):
            raise PyValueError(f"Invalid order {order!r}")
        keys = []
        for part in order.split(","):
            bits = part.split()
            if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
                raise PyValueError(f"Invalid \"order\" specified ({order}).")
            self.field(model, bits[0])
            keys.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
        for name, descending in reversed(keys):
            # NULLs last for ascending, first for descending, as PostgreSQL orders them
            records.sort(key=lambda r: (self.value(model, r, name) in (False, None),
                                        _sortable(self.value(model, r, name))), reverse=descending)
        return records

    def _check_domain(self, model: str, domain: list[Any]) -> None:
        """Odoo validates a domain before it queries, so a bad one fails on an empty table too."""
        depth = 0
        for item in reversed(domain):
            if item in ("&", "|", "!"):
                arity = 1 if item == "!" else 2
                if depth < arity:
                    raise PyValueError(f"Invalid domain {domain!r}: {item!r} lacks operands")
                depth -= arity - 1
                continue
            if not isinstance(item, (list, tuple)) or len(item) != 3 or not isinstance(item[0], str) \
                    or item[1] not in OPERATORS:
                raise PyValueError(f"Invalid leaf {item!r}")
            current = model
            names = item[0].split(".")
            for name in names[:-1]:
                field = self.field(current, name)
                if field.type != "m2o":
                    raise PyValueError(f"Invalid field {current}.{name} in leaf {tuple(item)!r}")
                current = field.relation
            if names[-1] not in self.fields(current):
                raise PyValueError(f"Invalid field {current}.{names[-1]} in leaf {tuple(item)!r}")
            depth += 1

    def _matches(self, model: str, record: dict[str, Any], domain: list[Any]) -> bool:
        stack: list[bool] = []
        for item in reversed(domain):
            if item == "&":
                a, b = stack.pop(), stack.pop()
                stack.append(a and b)
            elif item == "|":
                a, b = stack.pop(), stack.pop()
                stack.append(a or b)
            elif item == "!":
                stack.append(not stack.pop())
            else:
                stack.append(self._leaf(model, record, item))
        return all(stack)

    def _leaf(self, model: str, record: dict[str, Any], leaf: Any) -> bool:
        if not isinstance(leaf, (list, tuple)) or len(leaf) != 3 or not isinstance(leaf[0], str):
            raise PyValueError(f"Invalid leaf {leaf!r}")
        path, operator, wanted = leaf
        names = path.split(".")
        current_model, current = model, record
        for name in names[:-1]:
            field = self.field(current_model, name)
            if field.type != "m2o":
                raise PyValueError(f"Invalid field {current_model}.{name} in leaf {tuple(leaf)!r}")
            target = self.value(current_model, current, name)
            if not target:
                return operator in ("!=", "not in") or (operator == "=" and wanted is False)
            current_model, current = field.relation, self.tables[field.relation][target]
        name = names[-1]
        if name not in self.fields(current_model):
            raise PyValueError(f"Invalid field {current_model}.{name} in leaf {tuple(leaf)!r}")
        field = self.field(current_model, name)
        value = self.value(current_model, current, name)
        if operator == "child_of":
            roots = wanted if isinstance(wanted, list) else [wanted]
            relation = field.relation if field.type == "m2o" else current_model
            return bool(value) and self._descends(relation, value, set(roots))
        if field.type == "m2o" and isinstance(wanted, str) and operator in ("=", "!=", "ilike", "like"):
            target = self.tables[field.relation].get(value) if value else None
            value = self.display_name(field.relation, target) if target else False
            operator = {"=": "=", "!=": "!=", "like": "like", "ilike": "ilike"}[operator]
        return _compare(value, operator, wanted, leaf)

    def _descends(self, model: str, record_id: int, roots: set[int]) -> bool:
        parent_field = "location_id" if model == "stock.location" else "parent_id"
        seen = set()
        current: Any = record_id
        while current and current not in seen:
            if current in roots:
                return True
            seen.add(current)
            row = self.tables[model].get(current)
            current = row.get(parent_field) if row else None
        return False


OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "not like", "not ilike", "=like",
             "=ilike", "child_of")


class KeyErrorModel(OdooError):
    name = "builtins.KeyError"

    def __init__(self, model: str) -> None:
        super().__init__(repr(model))


_IGNORED = object()


def _sortable(value: Any) -> Any:
    if value in (False, None):
        return ""
    return value


def _empty(value: Any) -> bool:
    return value is False or value is None or value == ""


def _compare(value: Any, operator: str, wanted: Any, leaf: Any) -> bool:
    if operator == "=":
        return _empty(value) if wanted is False else value == wanted
    if operator == "!=":
        return not _empty(value) if wanted is False else value != wanted
    if operator in ("in", "not in"):
        if not isinstance(wanted, list):
            raise PyValueError(f"Invalid leaf {tuple(leaf)!r}")
        hit = value in wanted or (_empty(value) and False in wanted)
        return hit if operator == "in" else not hit
    if operator in (">", ">=", "<", "<="):
        if _empty(value) and not isinstance(value, (int, float)):
            return False
        try:
            return {">": value > wanted, ">=": value >= wanted, "<": value < wanted, "<=": value <= wanted}[operator]
        except TypeError:
            raise PyValueError(f"Invalid leaf {tuple(leaf)!r}") from None
    if operator in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        text, pattern = ("" if _empty(value) else str(value)), str(wanted)
        if operator.endswith("ilike"):
            text, pattern = text.lower(), pattern.lower()
        hit = text == pattern if operator.startswith("=") else pattern in text
        return not hit if operator.startswith("not") else hit
    raise PyValueError(f"Invalid leaf {tuple(leaf)!r}")

"""The fast path of a compiled mapping: one specialised function per mapping.

``CompiledMapping`` (mappings/engine.py) interprets its rules field by field: readable, and the
definition of what a mapping means, but each field costs a handful of generic calls (resolve,
look up, convert, type) with their isinstance chains. At hundreds of thousands of fields per
file that interpretation was most of the time of ``hub translate``. This module specialises a
mapping once, when it is compiled, into

* a *header* and a *line* function whose code is one straight block per field: the index
  lookups for its paths with their element/component positions and qualifier conditions in
  place, the whitespace and default rules, and the common conversions (plain text, crosswalk
  lookup) inline; other conversions call a converter bound to that field;
* a *runner* that cuts the message into line groups in one pass, indexing per segment tag
  only the tags some field looks at (X12 HL groups: each level's own index merged with its
  parent's chain once, when the level is complete, and shared by its children).

Conversions whose result depends on the text alone (decimal, int, dates; not crosswalks, which
depend on the partner) are remembered per field in a bounded dict: quantities, dates and line
numbers repeat all through a file.

The fast path only ever *succeeds* with the interpreter's result. Whenever a record is not
the happy case (a required field is missing, a code is not in its crosswalk, a value does not
convert, the document fails validation, the HL tree is broken, ...) it gives up and
``CompiledMapping.apply`` maps the record again with the interpreter, which raises the error
with its exact code, message and ``where``. Errors are rare and cost one more mapping; the
happy path never formats a location.

Generated code, not evaluated mapping text: the source is assembled from this module's own
templates, names it makes up (``k12``) and integers (element and component positions, checked
to be ``int``). Every value that comes from a mapping file (tags, qualifier values, field
names, constants, defaults, crosswalk tables) reaches the code only as an argument of the
factory function, i.e. as a closure constant, never as text, so however a mapping is written
it cannot put code into the function. ``source_text`` is kept on the plan for reading.

For segment sources the same decisions also drive a compiled accelerator when it is built
(``mappings/_fastmap.pyx``, built with the EDI tokenizer by ``adapters/edi/build_speedups.py``):
instead of generated code, each field becomes a ``FieldOp`` (its lookups, rules and the very
conversion objects the generated code would call) that C code runs, and X12 HL levels are
cut and indexed in C as well. Without the module, or with ``HUB_MAPPING_PURE_PYTHON=1``, the
generated Python functions run; both give the interpreter's documents or give up, and
tests/mappings/test_fastmap.py compares the three.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

if TYPE_CHECKING:  # engine imports this module; the names below are only for type hints
    from mappings.engine import CompiledMapping, FieldRule


class Fallback(Exception):
    """The fast path cannot vouch for this record: let the interpreter map it (and word the error)."""


# builtins the generated functions may use; nothing else is reachable from them
_GENERATED_BUILTINS = {"IndexError": IndexError, "type": type, "str": str, "len": len}


class FastPlan:
    """``plan.run(record, source)`` -> the canonical document, or any exception, meaning "ask
    the interpreter". ``source_text`` is the generated code, for reading and for tests;
    ``accelerated`` says whether the compiled module runs it instead (mappings/_fastmap.pyx)."""

    def __init__(self, run: Callable[[Any, Any], Any], source_text: str, memos: list[dict],
                 accelerated: bool = False) -> None:
        self.run = run
        self.source_text = source_text
        self.memos = memos  # the remembered conversions, one dict per field that has them
        self.accelerated = accelerated


# --------------------------------------------------------------------------- the accelerator

#: set to 1 to ignore a built mappings/_fastmap (debugging, comparing both paths)
PURE_PYTHON_ENV = "HUB_MAPPING_PURE_PYTHON"
#: the calling convention of mappings/_fastmap this module speaks; a stale build is not used
FASTMAP_ABI = 1

# where a field's value comes from, and how it is converted: FieldOp's codes (checked against
# the built module's own when it is loaded)
SOURCE_PATHS, SOURCE_CONST, SOURCE_SEQUENCE = 0, 1, 2
CONVERT_TEXT, CONVERT_CROSSWALK, CONVERT_REMEMBERED, CONVERT_CALL, CONVERT_GIVE_UP = 0, 1, 2, 3, 4
_CODES = {"SOURCE_PATHS": SOURCE_PATHS, "SOURCE_CONST": SOURCE_CONST, "SOURCE_SEQUENCE": SOURCE_SEQUENCE,
          "CONVERT_TEXT": CONVERT_TEXT, "CONVERT_CROSSWALK": CONVERT_CROSSWALK,
          "CONVERT_REMEMBERED": CONVERT_REMEMBERED, "CONVERT_CALL": CONVERT_CALL, "CONVERT_GIVE_UP": CONVERT_GIVE_UP}


def load_fastmap(switch: bool = True) -> Optional[ModuleType]:
    """The built accelerator, or None: not built, a build of another ABI, or switched off by
    ``HUB_MAPPING_PURE_PYTHON`` (unless ``switch=False``: tests compare both paths)."""
    if switch and os.environ.get(PURE_PYTHON_ENV, "").strip() not in ("", "0"):
        return None
    try:
        from mappings import _fastmap  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_fastmap, "ABI", None) != FASTMAP_ABI or any(getattr(_fastmap, name, None) != code
                                                           for name, code in _CODES.items()):
        return None  # a stale build: the generated Python is right, only slower
    from adapters.edi.segments import Segment

    try:  # segment fields read at their slot offsets; any other record type still works, by getattr
        _fastmap.use_segment_type(Segment, ("tag", "elements"))
    except TypeError:
        pass
    return _fastmap


#: what build_plan uses unless told otherwise (read once, like adapters/edi/segments.py's switch)
FASTMAP: Optional[ModuleType] = load_fastmap()
_DEFAULT: Any = object()


def build_plan(mapping: "CompiledMapping", fastmap: Optional[ModuleType] = _DEFAULT) -> FastPlan:
    """Specialise ``mapping``; segment sources run on ``fastmap`` (default: :data:`FASTMAP`)
    when it is given, else on the generated functions (``fastmap=None``: the pure path)."""
    from mappings import engine as eng

    if fastmap is _DEFAULT:
        fastmap = FASTMAP
    segment_source = mapping.source_kind in eng.SEGMENT_SOURCES
    gen = _Generator(mapping, eng)
    header_args = "mix, hix, partner" if segment_source else "rec, partner"
    line_args = "gix, hix, mix, seq, partner" if segment_source else "ent, rec, seq, partner"
    body = [f"def header({header_args}):", *gen.function(mapping.fields, in_lines=False)]
    if mapping.lines is not None:
        body += [f"def line({line_args}):", *gen.function(mapping.lines.fields, in_lines=True)]
    else:
        body += ["line = None"]
    body += ["return header, line"]
    params = ", ".join((*gen.PARAMS, *gen.const_names))
    source_text = f"def factory({params}):\n" + "".join(f"    {line}\n" for line in body)
    accelerated = segment_source and fastmap is not None
    if accelerated:
        program = fastmap.Program(gen.ops(fastmap, mapping.fields, in_lines=False),
                                  gen.ops(fastmap, mapping.lines.fields, in_lines=True) if mapping.lines else (),
                                  Fallback)
        header, line = program.header, (program.line if mapping.lines is not None else None)
    else:
        namespace: dict[str, Any] = {"__builtins__": _GENERATED_BUILTINS}
        exec(compile(source_text, f"<mapping {mapping.file} (generated)>", "exec"), namespace)
        header, line = namespace["factory"](*gen.param_values(), *gen.const_values)

    if not segment_source:
        run = _json_runner(mapping, header, line)
    elif mapping.lines is None:
        run = _flat_runner(mapping, header, gen.tags)
    elif mapping.lines.group is not None and mapping.lines.group.hl_level is not None:
        if accelerated:
            run = _hl_runner_compiled(mapping, program, gen.tags, fastmap)
        else:
            run = _hl_runner(mapping, header, line, gen.tags)
    else:
        run = _group_runner(mapping, header, line, gen.tags)
    return FastPlan(run, source_text, gen.memos, accelerated)


# --------------------------------------------------------------------------- code generation

#: converted values kept per field (dates, quantities and line numbers repeat a lot in a file);
#: bounded so a file of all-different values cannot grow it without limit
MEMO_SIZE = 4096
_UNSET = object()


class _Generator:
    """Emits the code of the header and line functions; collects the constants they refer to."""

    #: fixed parameters of the factory (helpers every mapping may use)
    PARAMS = ("Fallback", "EMPTY", "UNSET", "MEMO_SIZE")

    def __init__(self, mapping: "CompiledMapping", eng: Any) -> None:
        self.mapping = mapping
        self.eng = eng
        self.segment_source = mapping.source_kind in eng.SEGMENT_SOURCES
        self.const_names: list[str] = []
        self.const_values: list[Any] = []
        self._const_keys: dict[Any, str] = {}
        #: tags each index must hold: "group", "header", "message"
        self.tags: dict[str, set[str]] = {"group": set(), "header": set(), "message": set()}
        self._shared: dict[tuple, str] = {}  # (index, selector) looked up by several paths -> variable
        self._tag_lists: dict[tuple, str] = {}  # (index, tag) -> variable holding its segments
        self.memos: list[dict] = []
        self._conversions: dict[int, _Conversion] = {}  # id(rule) -> its conversion, shared by code and ops

    def param_values(self) -> tuple:
        return (Fallback, (), _UNSET, MEMO_SIZE)

    def const(self, value: Any) -> str:
        """The closure name under which ``value`` reaches the generated code."""
        key: Any = (type(value), value) if type(value) in (str, int, float, bool) else ("id", id(value))
        name = self._const_keys.get(key)
        if name is None:
            name = f"k{len(self.const_names)}"
            self._const_keys[key] = name
            self.const_names.append(name)
            self.const_values.append(value)
        return name

    @staticmethod
    def _int(value: Any) -> str:
        if type(value) is not int:  # positions come from the path grammar's \d+; anything else is a bug
            raise TypeError(f"position {value!r} is not an int")
        return str(value)

    # one function ------------------------------------------------------------------

    def function(self, rules: tuple, in_lines: bool) -> list[str]:
        """Body of ``header`` or ``line``: the fields in order, then ``return out``."""
        self._shared = {}
        self._tag_lists = {}
        if self.segment_source:
            # a selector used by several paths (QTY[0.0=12] for quantity and unit) is matched once
            uses: dict[tuple, int] = {}
            for rule in rules:
                if rule.const is None and not (rule.sequence and not rule.paths):
                    for index, path in self._lookups(rule, in_lines):
                        key = (index, path.selector)
                        uses[key] = uses.get(key, 0) + 1
            self._shared = {key: f"m{i}" for i, key in enumerate(k for k, n in uses.items() if n > 1)}
            # the segments of a tag that several selectors look at, fetched once, when one of
            # those lookups always runs (a field's first path)
            by_tag: dict[tuple, int] = {}
            always: set[tuple] = set()
            for (index, selector), n in uses.items():
                by_tag[(index, selector.tag)] = by_tag.get((index, selector.tag), 0) + 1
            for rule in rules:
                lookups = [] if rule.const is not None or (rule.sequence and not rule.paths) else self._lookups(rule, in_lines)
                if lookups:
                    always.add((lookups[0][0], lookups[0][1].selector.tag))
            self._tag_lists = {key: f"t{i}" for i, key in enumerate(k for k, n in by_tag.items() if n > 1 and k in always)}
        code = ["out = {}"]
        code += [f"{var} = {index}.get({self.const(tag)}, EMPTY)" for (index, tag), var in self._tag_lists.items()]
        code += [f"{var} = UNSET" for var in self._shared.values()]
        for number, rule in enumerate(rules):
            code.append(f"# field {number}")
            code += self.field(rule, in_lines)
        code.append("return out")
        return ["    " + line for line in code]

    # one field ------------------------------------------------------------------

    def field(self, rule: "FieldRule", in_lines: bool) -> list[str]:
        code: list[str] = []
        dtm = rule.date == "edifact_dtm"
        if dtm:
            code.append('fc = ""')  # the DTM's format code (C507 2379), next to the value found
        # kind: what raw can be here: "str" (None or a segment value), "int" (a sequence), "any"
        if rule.const is not None:
            code.append(f"raw = {self.const(rule.const)}")
            kind = "const"
        elif rule.sequence and not rule.paths:
            code.append("raw = seq")
            kind = "int"
        else:
            code.append("raw = None")
            for n, (index, path) in enumerate(self._lookups(rule, in_lines)):
                if self.segment_source:
                    block = self._segment_lookup(index, path, dtm)
                else:
                    block = [f"raw = {index}.get({self.const(path)})"]
                if n:
                    code.append("if not raw:" if self.segment_source else "if raw is None:")
                    block = ["    " + line for line in block]
                code += block
            kind = "str" if self.segment_source else "any"
            if rule.sequence:  # a path with `sequence: true` as its fallback
                code += ["if not raw:" if self.segment_source else "if raw is None:", "    raw = seq"]
                kind = "any"
        # whitespace: strip: true trims; a whitespace-only value always counts as absent
        if kind == "str":  # None, "" or a segment value (a str)
            code += ["if raw:",
                     "    raw = raw.strip() or None" if rule.strip else "    if raw.isspace(): raw = None",
                     "else:",
                     "    raw = None"]
        elif kind == "any":
            code += ["if type(raw) is str:",
                     "    raw = raw.strip() or None" if rule.strip else "    if raw == '' or raw.isspace(): raw = None"]
        elif kind == "const" and type(rule.const) is str:
            text = rule.const.strip() if rule.strip else rule.const
            if text.strip() == "":
                code.append("raw = None")
            else:
                code.append(f"raw = {self.const(text)}")
            kind = "str"
        elif kind == "const":
            kind = "any"
        # absent
        maybe_absent = kind != "int"
        if rule.default is not None and maybe_absent:
            code += ["if raw is None:", f"    raw = {self.const(rule.default)}"]
            maybe_absent = False
            if type(rule.default) is not str:
                kind = "any"
        elif rule.required and maybe_absent:
            code += ["if raw is None:", "    raise Fallback"]  # the interpreter names field, path and where
            maybe_absent = False
        convert = self._convert(rule, kind, dtm)
        if maybe_absent:
            code += ["if raw is not None:", *("    " + line for line in convert)]
        else:
            code += convert
        return code

    def _lookups(self, rule: "FieldRule", in_lines: bool) -> list[tuple[str, Any]]:
        """(index variable, path) in the interpreter's order: scope by scope, then path by path."""
        if self.segment_source:
            scopes = {"group": ("gix",), "header": ("hix",), "message": ("mix",), "group_or_header": ("gix", "hix")}[rule.scope]
            names = {"gix": "group", "hix": "header", "mix": "message"}
            for index in scopes:
                self.tags[names[index]].update(p.selector.tag for p in rule.paths)
        else:
            scopes = {"group": ("ent",), "message": ("rec",)}[rule.scope]
        if not in_lines and any(s in ("gix", "ent") for s in scopes):
            raise AssertionError("a header field cannot look in a line group")  # the compiler forbids it
        return [(index, path) for index in scopes for path in rule.paths]

    def _match(self, index: str, selector: Any, target: str) -> list[str]:
        """Set ``target`` to the elements of the first segment of ``index`` matching ``selector``, or None."""
        tag = self.const(selector.tag)
        listed = self._tag_lists.get((index, selector.tag))
        if not selector.conditions:
            if listed is not None:
                return [f"{target} = {listed}[0].elements if {listed} else None"]
            return [f"{target} = {index}.get({tag})",
                    f"if {target} is not None:",
                    f"    {target} = {target}[0].elements"]
        test = self._test(selector)
        return [f"{target} = None",
                f"for s in {listed or f'{index}.get({tag}, EMPTY)'}:",
                "    el = s.elements",
                "    try:",
                f"        if {test}:",
                "            continue",
                "    except IndexError:",
                "        continue",
                f"    {target} = el",
                "    break"]

    def _segment_lookup(self, index: str, path: Any, dtm: bool) -> list[str]:
        """The first segment matching the selector decides; "" or a missing position = no value."""
        e, c = self._int(path.element), self._int(path.component)
        # a value that is not text (no codec makes one) is the interpreter's to convert
        take = ["try:", f"    raw = el[{e}][{c}]", "except IndexError:", "    pass", "else:",
                "    if type(raw) is not str:", "        raise Fallback"]
        if dtm:
            take += ["try:", f"    fc = el[{e}][2]", "except IndexError:", '    fc = ""']
        shared = self._shared.get((index, path.selector))
        if shared is not None:  # matched once for all the paths that use the selector
            return [f"if {shared} is UNSET:", *("    " + line for line in self._match(index, path.selector, shared)),
                    f"if {shared} is not None:", f"    el = {shared}", *("    " + line for line in take)]
        selector = path.selector
        listed = self._tag_lists.get((index, selector.tag))
        segments = listed or f"{index}.get({self.const(selector.tag)}, EMPTY)"
        if not selector.conditions:
            return [f"s = {segments}",
                    "if s:",
                    "    el = s[0].elements",
                    *("    " + line for line in take)]
        return [f"for s in {segments}:",
                "    el = s.elements",
                "    try:",
                f"        if {self._test(selector)}:",
                "            continue",
                "    except IndexError:",
                "        continue",
                *("    " + line for line in take),
                "    break"]

    def _test(self, selector: Any) -> str:
        """A segment's elements ``el`` fail the selector's conditions (IndexError: absent, fails too)."""
        return " or ".join(f"el[{self._int(e)}][{self._int(c)}] != {self.const(v)}" for e, c, v in selector.conditions)

    def conversion(self, rule: "FieldRule") -> "_Conversion":
        """How a present value of ``rule`` is converted: decided once per field, for the
        generated code and the accelerator's ops alike (they share the memo dict too)."""
        known = self._conversions.get(id(rule))
        if known is not None:
            return known
        dtm = rule.date == "edifact_dtm"
        plain = rule.crosswalk is None and rule.scale is None and rule.date is None
        converter = _converter(rule, self.mapping, self.eng)
        entries = rows = memo = None
        if dtm and (rule.crosswalk is not None or rule.scale is not None):
            mode = CONVERT_GIVE_UP  # a DTM code through a crosswalk: left to the interpreter
        elif plain and rule.type == "str":
            mode = CONVERT_TEXT
        elif rule.crosswalk is not None and rule.scale is None and rule.date is None and rule.type == "str":
            mode = CONVERT_CROSSWALK
            entries, rows = rule.crosswalk.entries, _system_rows(rule.crosswalk, self.mapping.system)
        elif rule.crosswalk is None and rule.scale is None:
            # the result depends on the text (and the DTM format code) only: remember it
            mode = CONVERT_REMEMBERED
            memo = {}
            self.memos.append(memo)
        else:
            mode = CONVERT_CALL
        conversion = _Conversion(mode, converter, entries, rows, rule.crosswalk_fallback == "identity", memo, plain)
        self._conversions[id(rule)] = conversion
        return conversion

    def ops(self, fastmap: ModuleType, rules: tuple, in_lines: bool) -> tuple:
        """The accelerator's program for ``rules``: the decisions the generated code is made of."""
        slots = {"gix": 0, "hix": 1, "mix": 2}
        ops = []
        for rule in rules:
            if rule.const is not None:
                source, lookups = SOURCE_CONST, ()
            elif rule.sequence and not rule.paths:
                source, lookups = SOURCE_SEQUENCE, ()
            else:
                source = SOURCE_PATHS
                lookups = tuple(fastmap.Lookup(slots[index], path.selector.tag, path.selector.conditions,
                                               path.element, path.component)
                                for index, path in self._lookups(rule, in_lines))
            conv = self.conversion(rule)
            ops.append(fastmap.FieldOp(
                rule.name, source, rule.const, lookups, bool(rule.sequence and rule.paths),
                rule.date == "edifact_dtm", rule.strip, rule.default, rule.required, conv.mode,
                conv.plain and rule.type == "str", conv.plain and rule.type == "int",
                conv.converter.fast, conv.converter.generic, conv.entries, conv.rows, conv.identity, conv.memo,
                MEMO_SIZE))
        return tuple(ops)

    def _convert(self, rule: "FieldRule", kind: str, dtm: bool) -> list[str]:
        """Assign the converted value of raw (present here) to out[name]."""
        name = self.const(rule.name)
        plain = rule.crosswalk is None and rule.scale is None and rule.date is None
        if kind == "int":  # a sequence number: _as_type gives str(n) for str, n itself for int
            if plain and rule.type == "str":
                return [f"out[{name}] = str(raw)"]
            if plain and rule.type == "int":
                return [f"out[{name}] = raw"]
        conv = self.conversion(rule)
        if conv.mode == CONVERT_GIVE_UP:
            return ["raise Fallback"]
        converter = conv.converter
        call = f"{self.const(converter.fast)}(raw, {'fc' if dtm else 'partner'})"
        if conv.mode == CONVERT_TEXT:
            fast = [f"out[{name}] = raw"]
        elif conv.mode == CONVERT_CROSSWALK:
            miss = "v = raw" if conv.identity else "raise Fallback"
            fast = [f"v = {self.const(conv.entries)}.get((partner, raw))",
                    "if v is None:",
                    f"    v = {self.const(conv.rows)}.get(raw)",
                    "    if v is None:",
                    f"        {miss}",
                    f"out[{name}] = v"]
        elif conv.mode == CONVERT_REMEMBERED:
            memo = self.const(conv.memo)
            key = "(raw, fc)" if dtm else "raw"
            fast = [f"v = {memo}.get({key})",
                    "if v is None:",
                    f"    v = {call}",
                    f"    if len({memo}) < MEMO_SIZE:",
                    f"        {memo}[{key}] = v",
                    f"out[{name}] = v"]
        else:
            fast = [f"out[{name}] = {call}"]
        if kind == "str":
            return fast
        # not known to be text: only text takes the fast way (1, 1.0 and True are equal dict keys)
        generic = f"{self.const(converter.generic)}(raw, partner)"
        return ["if type(raw) is str:", *("    " + line for line in fast), "else:", f"    out[{name}] = {generic}"]


def _system_rows(table: Any, system: str) -> dict[str, str]:
    """``code -> canonical`` for the mapping's system, then ``*``: the lookup after the partner's rows."""
    rows = {code: canonical for (source, code), canonical in table.entries.items() if source == "*"}
    rows.update({code: canonical for (source, code), canonical in table.entries.items() if source == system})
    return rows


# --------------------------------------------------------------------------- converters


class _Conversion(NamedTuple):
    """A field's conversion as decided once (``_Generator.conversion``)."""

    mode: int  # CONVERT_*
    converter: "_Converter"
    entries: Optional[dict]  # CONVERT_CROSSWALK: the table's (source, code) -> canonical
    rows: Optional[dict]  # CONVERT_CROSSWALK: code -> canonical for the mapping's system, then "*"
    identity: bool  # CONVERT_CROSSWALK: a code missing from the table stands for itself
    memo: Optional[dict]  # CONVERT_REMEMBERED: text -> converted value
    plain: bool  # no crosswalk, date or scale


class _Converter(NamedTuple):
    """One field's conversion. ``fast(raw, partner_or_dtm_code)`` takes text; ``generic(raw,
    partner)`` anything (the interpreter's ``_convert``). Both raise when the value does not
    convert, and the interpreter then words the error."""

    fast: Callable[[Any, Any], Any]
    generic: Callable[[Any, Any], Any]


def _converter(rule: "FieldRule", mapping: "CompiledMapping", eng: Any) -> _Converter:
    no_context = eng._Context(None, None, None, "", "")
    value_type = eng._Value
    convert = mapping._convert

    def generic(raw: Any, partner: Any) -> Any:
        # no segment: only edifact_dtm reads one, and a DTM value that is text takes the fast
        # way; a constant or a line number has no DTM segment in the interpreter either
        return convert(rule, raw, value_type(raw), partner, no_context)

    fast: Callable[[Any, Any], Any] = generic
    plain = rule.crosswalk is None and rule.scale is None
    if plain and rule.date is None and rule.type == "decimal":
        edifact = mapping.source_kind == "edifact"

        def to_decimal(raw: str, partner: Any) -> Any:
            text = raw.strip()
            if edifact and "," in text:  # the EDIFACT comma decimal mark: the interpreter's rules
                return generic(raw, partner)
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise Fallback from None
            if not number.is_finite():
                raise Fallback
            return number

        fast = to_decimal
    elif plain and rule.date is None and rule.type == "int":
        def to_int(raw: str, partner: Any) -> Any:
            # all-ASCII-digit text: Decimal(text) is integral and int() of it is int(text)
            if len(raw) < 19 and raw.isdigit() and raw.isascii():
                return int(raw)
            return generic(raw, partner)

        fast = to_int
    elif plain and rule.date is not None:
        parse = eng._parse_datetime
        as_type = {"date": _as_date, "datetime": _as_datetime, "str": _as_text}[rule.type]
        if rule.date == "edifact_dtm":
            formats = eng.DTM_FORMATS

            def from_dtm(raw: str, code: str) -> Any:
                fmt = formats.get(code)
                if fmt is None:
                    raise Fallback  # BAD_VALUE naming the code, from the interpreter
                return as_type(parse(raw, fmt))

            fast = from_dtm
        else:
            fmt = None if rule.date == "iso" else rule.date

            def from_text(raw: str, partner: Any) -> Any:
                return as_type(parse(raw, fmt))

            fast = from_text
    return _Converter(fast, generic)


def _as_date(value: dt.datetime) -> dt.date:
    return value.date()


def _as_datetime(value: dt.datetime) -> dt.datetime:
    return value


def _as_text(value: dt.datetime) -> str:
    return value.isoformat()


# --------------------------------------------------------------------------- runners


def _flat_runner(mapping: "CompiledMapping", header: Callable, tags: dict) -> Callable:
    """No lines: the header scope is the whole message."""
    wanted = frozenset(tags["message"] | tags["header"])
    validate = mapping.target.model_validate

    def run(record: Any, source: Any) -> Any:
        partner = source.partner if source is not None else None
        mix: dict = defaultdict(list)  # appends at C speed; lookups are .get, which adds nothing
        for seg in getattr(record, "segments", record):
            tag = seg.tag
            if tag in wanted:
                mix[tag].append(seg)
        doc = header(mix, mix, partner)
        if source is not None:
            doc["source"] = source
        return validate(doc)

    return run


def _group_runner(mapping: "CompiledMapping", header: Callable, line: Callable, tags: dict) -> Callable:
    """``starts_at`` / ``ends_before`` line groups, with ``inherit_from_previous``, in one pass."""
    assert mapping.lines is not None and mapping.lines.group is not None
    group = mapping.lines.group
    into = mapping.lines.into
    starts, ends = group.starts_at, group.ends_before
    inherit = group.inherit_from_previous
    stop = group.inherit_stop_at
    watch = frozenset({s.tag for s in inherit} | set(stop)) if inherit else frozenset()
    inherit_specs = tuple((selector.tag, selector.conditions) for selector in inherit)
    mtags, htags, gtags = frozenset(tags["message"]), frozenset(tags["header"]), frozenset(tags["group"])
    # a segment whose tag no field, group boundary or inheritance looks at changes nothing
    relevant = mtags | htags | gtags | ends | {starts} | watch
    validate = mapping.target.model_validate

    def run(record: Any, source: Any) -> Any:
        partner = source.partner if source is not None else None
        mix: dict = defaultdict(list)  # appends at C speed; lookups are .get, which adds nothing
        hix: dict = defaultdict(list)
        groups: list[dict] = []
        current: Optional[dict] = None
        started = False
        nearest: list = [None] * len(inherit)
        borrowed: list[tuple[dict, list]] = []
        for seg in getattr(record, "segments", record):
            tag = seg.tag
            if tag not in relevant:
                continue
            if tag in mtags:
                mix[tag].append(seg)
            if current is not None and tag in ends:
                current = None
            if tag == starts:
                current = {tag: [seg]} if tag in gtags else {}
                groups.append(current)
                started = True
                if inherit:
                    borrowed.append((current, [n for n in nearest if n is not None]))
            elif current is not None:
                if tag in gtags:
                    current.setdefault(tag, []).append(seg)
            elif not started and tag in htags:
                hix[tag].append(seg)
            if tag in watch:
                for k, (wanted, conditions) in enumerate(inherit_specs):
                    matched = tag == wanted
                    if matched:  # Selector.matches, inline: every condition holds (absent = fails)
                        elements = seg.elements
                        for e, c, v in conditions:
                            try:
                                if elements[e][c] != v:
                                    matched = False
                                    break
                            except IndexError:
                                matched = False
                                break
                    if matched:
                        nearest[k] = seg
                    elif tag in stop:
                        nearest[k] = None
        # borrowed segments come after the group's own, so a line's own occurrence wins
        for own, extra in borrowed:
            for seg in extra:
                tag = seg.tag
                if tag in gtags:
                    own.setdefault(tag, []).append(seg)
        doc = header(mix, hix, partner)
        doc[into] = [line(gix, hix, mix, seq, partner) for seq, gix in enumerate(groups, 1)]
        if source is not None:
            doc["source"] = source
        return validate(doc)

    return run


#: segments that end an HL level without starting one: as adapters.edi.x12.hl_tree's default
HL_SUMMARY_TAGS = frozenset({"CTT", "SE"})


def _hl_runner(mapping: "CompiledMapping", header: Callable, line: Callable, tags: dict) -> Callable:
    """X12 ``hl_level`` groups: one line per HL of the level, seeing its own segments and then
    its ancestors' (nearest first), in the order of ``hl_tree(...)[i].walk()``.

    Built in the same pass that indexes the message, for the usual shape where every HL's
    parent is the previous HL or one of its ancestors: the tree's depth-first order is then
    document order, so a stack of the open ancestors is all the tree needed (no node objects,
    no parent<->children cycles for the garbage collector). Anything else is left to the
    interpreter, which calls ``adapters.edi.x12.hl_tree``: a parent that is not an open
    ancestor (a valid but unusual order, or hl_tree's HL_INVALID), an empty or repeated HL01.
    tests/mappings check that both give the same lines.
    """
    assert mapping.lines is not None and mapping.lines.group is not None
    level = mapping.lines.group.hl_level
    into = mapping.lines.into
    mtags, htags, gtags = frozenset(tags["message"]), frozenset(tags["header"]), frozenset(tags["group"])
    summary = HL_SUMMARY_TAGS
    hl_in_group = "HL" in gtags
    validate = mapping.target.model_validate

    def run(record: Any, source: Any) -> Any:
        partner = source.partner if source is not None else None
        mix: dict = defaultdict(list)  # appends at C speed; lookups are .get, which adds nothing
        hix: dict = defaultdict(list)
        chains: list[dict] = []  # index of each line: its own segments, then its ancestors'
        open_path: list[list] = []  # [HL01, chain] from the root to the HL being read
        seen: set = set()
        own: Optional[dict] = None  # own segments of the HL being read, by tag
        own_code = ""
        own_entry: list = []
        above: Optional[dict] = None  # the parent's chain of the HL being read
        in_header = True
        for seg in getattr(record, "segments", record):
            tag = seg.tag
            if tag in mtags:
                mix[tag].append(seg)
            if tag == "HL" or (own is not None and tag in summary):
                if own is not None:  # the HL being read is complete: its chain, and its line
                    if above is None:
                        chain = own
                    elif not own:
                        chain = above
                    else:
                        chain = dict(above)
                        for t, mine in own.items():
                            after = above.get(t)
                            chain[t] = mine if after is None else mine + after
                    own_entry[1] = chain
                    if own_code == level:
                        chains.append(chain)
                    own = None
                if tag != "HL":
                    continue  # CTT/SE: segments up to the next HL belong to no level
                in_header = False
                el = seg.elements
                try:
                    hl_id, parent_id, own_code = el[0][0], el[1][0], el[2][0]
                except IndexError:  # HL01..03 as hl_tree reads them: "" when absent
                    hl_id, parent_id, own_code = seg.get(0), seg.get(1), seg.get(2)
                if not hl_id or hl_id in seen:
                    raise Fallback
                seen.add(hl_id)
                if parent_id:
                    while open_path and open_path[-1][0] != parent_id:
                        open_path.pop()
                    if not open_path:
                        raise Fallback
                    above = open_path[-1][1]
                    if above is None:  # the parent ended at a CTT/SE and was never completed
                        raise Fallback
                else:
                    open_path.clear()
                    above = None
                own = {tag: [seg]} if hl_in_group else {}
                own_entry = [hl_id, None]
                open_path.append(own_entry)
            elif in_header:
                if tag in htags:
                    hix[tag].append(seg)
            elif own is not None and tag in gtags:
                own.setdefault(tag, []).append(seg)
        if own is not None:
            if above is None:
                chain = own
            elif not own:
                chain = above
            else:
                chain = dict(above)
                for t, mine in own.items():
                    after = above.get(t)
                    chain[t] = mine if after is None else mine + after
            if own_code == level:
                chains.append(chain)
        doc = header(mix, hix, partner)
        doc[into] = [line(chain, hix, mix, seq, partner) for seq, chain in enumerate(chains, 1)]
        if source is not None:
            doc["source"] = source
        return validate(doc)

    return run


def _hl_runner_compiled(mapping: "CompiledMapping", program: Any, tags: dict, fastmap: ModuleType) -> Callable:
    """:func:`_hl_runner` with the accelerator: its loop and every field in C (``_fastmap.hl_map``:
    the same lines in the same order, and the same give-ups)."""
    assert mapping.lines is not None and mapping.lines.group is not None and mapping.lines.group.hl_level is not None
    spec = fastmap.HLSpec(mapping.lines.group.hl_level, frozenset(tags["message"]), frozenset(tags["header"]),
                          frozenset(tags["group"]), HL_SUMMARY_TAGS, mapping.lines.into)
    hl_map = fastmap.hl_map
    validate = mapping.target.model_validate

    def run(record: Any, source: Any) -> Any:
        doc = hl_map(getattr(record, "segments", record), spec, program, source.partner if source is not None else None)
        if source is not None:
            doc["source"] = source
        return validate(doc)

    return run


def _json_runner(mapping: "CompiledMapping", header: Callable, line: Optional[Callable]) -> Callable:
    validate = mapping.target.model_validate
    lines_rule = mapping.lines

    def run(record: Any, source: Any) -> Any:
        if type(record) is not dict:
            raise Fallback  # BAD_RECORD, worded by the interpreter
        partner = source.partner if source is not None else None
        doc = header(record, partner)
        if lines_rule is not None:
            entries = record.get(lines_rule.each)
            if entries is None:
                entries = []
            elif type(entries) is not list:
                raise Fallback
            out = []
            for seq, entry in enumerate(entries, 1):
                if type(entry) is not dict:
                    raise Fallback
                out.append(line(entry, record, seq, partner))
            doc[lines_rule.into] = out
        if source is not None:
            doc["source"] = source
        return validate(doc)

    return run

"""Declarative YAML mappings from source records to canonical documents.

A mapping file (see ``mappings/README.md`` for the language) is read with ``yaml.compose`` so
every key keeps its line number, checked against a small schema, and compiled once into plain
Python objects: paths become tuples, transforms become flags, crosswalk tables are loaded.
Applying a compiled mapping is then just lookups; mapping text is never evaluated, so a
mapping cannot run code however it is written.

Three source kinds:

* ``edifact`` - a message's segment list (``adapters.edi.segments.Segment``), addressed by
  tag, qualifier conditions and 0-based element/component indices (``NAD[0=SU].1.0``);
* ``x12``     - a transaction set's segment list, same path grammar and 0-based indices
  (X12's ``N104`` is ``N1.3.0``); line groups may also be the HL levels (``hl_level: I``);
* ``json``    - a dict record such as a Kingdee bill, addressed by literal keys (Kingdee keys
  contain dots: ``FSupplierId.FNumber`` is one key, not a nested path).

Record problems raise ``SkippableError`` (the record goes to quarantine with its reason code);
a broken mapping raises ``FatalError MAPPING_INVALID`` naming ``file:line``.

Two ways to apply a compiled mapping, one meaning: ``CompiledMapping.interpret`` walks the rules
field by field and is the reference; ``mappings/compiled.py`` specialises each mapping once into
generated functions (from the validated rules only, with every mapping value passed in as data)
that map the happy case several times faster; for segment sources a compiled accelerator runs
the same decisions in C when it is built (``mappings/_fastmap.pyx``; ``HUB_MAPPING_PURE_PYTHON=1``
keeps the generated Python). ``apply`` runs the specialised plan and hands any record it cannot
vouch for to ``interpret``, so errors keep their codes, messages and locations.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import re
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from canonical_model.documents import DOCUMENT_TYPES, CanonicalDocument, Source
from hub.errors import FatalError, SkippableError
from mappings import crosswalk as cw
from mappings.compiled import FastPlan, build_plan

MAPPINGS_DIR = Path(__file__).resolve().parent
REPO_ROOT = MAPPINGS_DIR.parent

SOURCE_KINDS = ("edifact", "json", "x12")
#: source kinds whose records are segment lists addressed by segment paths
SEGMENT_SOURCES = ("edifact", "x12")
TYPES = ("str", "int", "decimal", "date", "datetime")
SCOPES = ("group", "header", "message", "group_or_header")
FALLBACKS = ("error", "identity")

MAPPING_KEYS = {
    "mapping", "description", "source", "system", "target", "record_key",
    "crosswalk_fallback", "fields", "lines",
}
LINES_KEYS = {"into", "group", "each", "fields"}
GROUP_KEYS = {"starts_at", "ends_before", "inherit_from_previous", "inherit_stop_at", "hl_level"}
# where the value comes from
SOURCE_KEYS = {"path", "key", "const", "sequence", "scope", "default", "required"}
# what is done to it; listed separately so an unknown key can be reported as a transform
TRANSFORM_KEYS = {"type", "strip", "date", "scale", "crosswalk", "crosswalk_fallback"}

# EDIFACT DTM format codes (UN/EDIFACT code list 2379) we accept with ``date: edifact_dtm``.
DTM_FORMATS = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}

# X12 tags are 2 or 3 characters (N1, HL, BSN); EDIFACT ones always 3
_TAG = r"[A-Z][A-Z0-9]{1,2}"
# A condition value is any run of characters except the ones the syntax itself uses.
_COND = r"(\d+)(?:\.(\d+))?=([^\[\],=]+)"
_SELECTOR_RE = re.compile(rf"^({_TAG})(?:\[({_COND}(?:,{_COND})*)\])?$")
_PATH_RE = re.compile(rf"^({_TAG}(?:\[[^\[\]]*\])?)\.(\d+)(?:\.(\d+))?$")
_COND_RE = re.compile(rf"^{_COND}$")


class MappingInvalid(Exception):
    """Raised during compilation; turned into ``FatalError`` with the file name."""

    def __init__(self, message: str, line: Optional[int]) -> None:
        super().__init__(message)
        self.line = line


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Selector:
    """A segment tag with conditions ``((element, component, value), ...)`` that must all hold."""

    tag: str
    conditions: tuple[tuple[int, int, str], ...] = ()

    def matches(self, segment: Any) -> bool:
        if segment.tag != self.tag:
            return False
        return all(segment.get(e, c, None) == v for e, c, v in self.conditions)

    def __str__(self) -> str:
        if not self.conditions:
            return self.tag
        return f"{self.tag}[{','.join(f'{e}.{c}={v}' for e, c, v in self.conditions)}]"


@dataclass(frozen=True)
class SegmentPath:
    """``SELECTOR.element[.component]``: the text it was written as is kept for messages."""

    text: str
    selector: Selector
    element: int
    component: int


def parse_selector(text: str) -> Selector:
    """Parse ``TAG`` or ``TAG[e=v]`` / ``TAG[e.c=v,e.c=v]``; ``ValueError`` when it does not parse."""
    if not isinstance(text, str) or not _SELECTOR_RE.match(text):
        raise ValueError(f"segment selector {text!r} does not parse (expected TAG or TAG[e.c=VALUE])")
    tag, _, rest = text.partition("[")
    conditions = []
    if rest:
        for cond in rest[:-1].split(","):
            m = _COND_RE.match(cond)
            assert m is not None  # guaranteed by _SELECTOR_RE
            conditions.append((int(m.group(1)), int(m.group(2) or 0), m.group(3)))
    return Selector(tag, tuple(conditions))


def parse_path(text: str) -> SegmentPath:
    """Parse an EDIFACT path such as ``NAD[0=SU].1.0``; ``ValueError`` when it does not parse."""
    m = _PATH_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"path {text!r} does not parse (expected TAG[cond].element.component, e.g. NAD[0=SU].1.0)")
    selector = parse_selector(m.group(1))
    return SegmentPath(text, selector, int(m.group(2)), int(m.group(3) or 0))


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class FieldRule:
    name: str
    paths: tuple[Any, ...] = ()  # SegmentPath for edifact, str key for json
    const: Any = None
    sequence: bool = False
    scope: str = "message"
    default: Any = None
    required: bool = False
    type: str = "str"
    strip: bool = False
    date: Optional[str] = None
    scale: Optional[int] = None
    crosswalk: Optional[cw.Crosswalk] = None
    crosswalk_fallback: str = "error"

    def describe_source(self) -> str:
        return " | ".join(p.text if isinstance(p, SegmentPath) else p for p in self.paths) or "(none)"


@dataclass(frozen=True)
class GroupRule:
    starts_at: str
    ends_before: frozenset[str]
    inherit_from_previous: tuple[Selector, ...] = ()
    inherit_stop_at: frozenset[str] = frozenset()
    #: x12: one line per HL of this level code (HL03); the line sees its own segments, then
    #: its ancestors' (pack, order, shipment), nearest first
    hl_level: Optional[str] = None


@dataclass(frozen=True)
class LinesRule:
    into: str
    fields: tuple[FieldRule, ...]
    group: Optional[GroupRule] = None  # edifact
    each: Optional[str] = None  # json


class _Value(typing.NamedTuple):
    """A resolved raw value and the evidence of where it was found.

    A NamedTuple, not a frozen dataclass: one is made per mapped field, and a frozen
    dataclass's __init__ (object.__setattr__ per field) costs several times more."""

    raw: Any
    segment: Any = None  # the EDIFACT segment it came from
    path: Any = None


@dataclass
class _Context:
    """What a field resolves against: its own scope and the message around it."""

    items: Any  # list of segments (edifact) or a dict (json)
    header: Any
    message: Any
    where: str
    target: str  # e.g. "lines[2]" for error messages
    sequence: int = 0
    # segment sources: the same lists indexed by tag (document order kept per tag), built once
    # per message / group, so a field path looks at the few segments of its tag instead of
    # scanning the whole message once per path
    items_ix: Optional[dict] = None
    header_ix: Optional[dict] = None
    message_ix: Optional[dict] = None


@dataclass(frozen=True)
class CompiledMapping:
    """A mapping compiled once; ``apply`` it to as many records as you like."""

    name: str
    file: str  # shown in errors, relative to the repo when it lives there
    source_kind: str
    system: str
    target: type[CanonicalDocument]
    fields: tuple[FieldRule, ...]
    lines: Optional[LinesRule] = None
    record_key: Optional[str] = None
    #: the mapping specialised into generated functions (mappings/compiled.py); None = interpreter only
    fast_plan: Optional[FastPlan] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # specialised once here, so every record of every file reuses it (mappings/compiled.py);
        # a mapping the specialiser cannot handle still maps, through the interpreter alone
        try:
            plan: Optional[FastPlan] = build_plan(self)
        except Exception:  # a gap in the specialiser must not make a valid mapping unusable
            plan = None
        object.__setattr__(self, "fast_plan", plan)

    def __getstate__(self) -> dict:
        # the generated functions do not pickle (nor need to): a copy builds its own plan
        state = dict(self.__dict__)
        state.pop("fast_plan", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    # ------------------------------------------------------------------ apply

    def apply(self, record: Any, source: Optional[Source] = None) -> CanonicalDocument:
        """Map one record (a message's segments or a dict) to one canonical document.

        The specialised plan maps the happy case; any record it cannot vouch for (an error of
        any kind) is mapped again by :meth:`interpret`, which raises the error with its code,
        message and location."""
        plan = self.fast_plan
        if plan is not None:
            try:
                return plan.run(record, source)
            except Exception:  # not the happy case: the interpreter maps it again and words the error
                pass
        return self.interpret(record, source)

    def interpret(self, record: Any, source: Optional[Source] = None) -> CanonicalDocument:
        """The reference semantics of a mapping, rule by rule: what :meth:`apply` computes."""
        partner = source.partner if source is not None else None
        if self.source_kind in SEGMENT_SOURCES:
            segments = list(getattr(record, "segments", record))
            header_where = _segment_where(segments[0]) if segments else "message"
            groups, header = (self._split_groups(segments) if self.lines else ([], segments))
            message_ix = _index(segments)
            header_ix = message_ix if header is segments else _index(header)
            top = _Context(segments, header, segments, header_where, "", 0, message_ix, header_ix, message_ix)
        else:
            if not isinstance(record, dict):
                raise SkippableError("BAD_RECORD", f"{self.name} expects a JSON object, got {type(record).__name__}", "record")
            header_where = self._json_where(record)
            top = _Context(record, record, record, header_where, "")

        doc: dict[str, Any] = {}
        for rule in self.fields:
            self._set(doc, rule, top, partner)

        line_wheres: list[str] = []
        if self.lines is not None:
            out_lines = []
            if self.source_kind in SEGMENT_SOURCES:
                into = self.lines.into
                contexts = [
                    _Context(items, header, segments, _segment_where(items[0]), f"{into}[{i}]", i + 1,
                             _index(items), header_ix, message_ix)
                    for i, items in enumerate(groups)
                ]
            else:
                entries = record.get(self.lines.each)
                if entries is None:
                    entries = []
                if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                    raise SkippableError(
                        "BAD_RECORD", f"{self.lines.each!r} must be a list of objects for {self.name}", header_where
                    )
                contexts = [
                    _Context(entry, record, record, f"{header_where}/{self.lines.each}[{i}]", f"{self.lines.into}[{i}]", i + 1)
                    for i, entry in enumerate(entries)
                ]
            for ctx in contexts:
                line: dict[str, Any] = {}
                for rule in self.lines.fields:
                    self._set(line, rule, ctx, partner)
                out_lines.append(line)
                line_wheres.append(ctx.where)
            doc[self.lines.into] = out_lines

        if source is not None:
            doc["source"] = source
        try:
            return self.target.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = first.get("loc", ())
            where = header_where
            if len(loc) >= 2 and self.lines and loc[0] == self.lines.into and isinstance(loc[1], int) and loc[1] < len(line_wheres):
                where = line_wheres[loc[1]]
            field_path = ".".join(str(p) for p in loc) or "(document)"
            more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SkippableError(
                "SCHEMA_VIOLATION", f"{self.target.__name__}.{field_path}: {first.get('msg')}{more} [mapping {self.name}]", where
            ) from None

    # ------------------------------------------------------------------ internals

    def _json_where(self, record: dict) -> str:
        if self.record_key and self.record_key in record:
            return f"{self.record_key}={record[self.record_key]}"
        return "record"

    def _split_groups(self, segments: list) -> tuple[list[list], list]:
        """Cut the message into line groups; also return the header (before the first group)."""
        assert self.lines is not None and self.lines.group is not None
        g = self.lines.group
        if g.hl_level is not None:
            return _hl_groups(segments, g.hl_level)
        groups: list[tuple[int, list]] = []  # (index of the start segment, own segments)
        # Segments describing the package a line sits in (GIN+BJ SSCC after CPS/PAC) come
        # before the LIN; the nearest one is borrowed, after the group's own segments so that a
        # line's own occurrence always wins. "Nearest before the start, unless a stop tag comes
        # first" is tracked in the same forward pass (one slot per selector), so the cost stays
        # linear in the message size instead of rescanning the segments before every line.
        inherit = g.inherit_from_previous
        stop = g.inherit_stop_at
        nearest: list = [None] * len(inherit)
        borrowed: list[tuple[list, list]] = []
        current: Optional[list] = None
        starts, ends = g.starts_at, g.ends_before
        for i, seg in enumerate(segments):
            tag = seg.tag
            if current is not None and tag in ends:
                current = None
            if tag == starts:
                current = [seg]
                groups.append((i, current))
                if inherit:
                    borrowed.append((current, [n for n in nearest if n is not None]))
            elif current is not None:
                current.append(seg)
            if inherit:
                for k, selector in enumerate(inherit):
                    if tag == selector.tag and selector.matches(seg):
                        nearest[k] = seg
                    elif tag in stop:
                        nearest[k] = None
        for own, extra in borrowed:
            own.extend(extra)
        header = segments[: groups[0][0]] if groups else segments
        return [own for _, own in groups], header

    def _set(self, out: dict, rule: FieldRule, ctx: _Context, partner: Optional[str]) -> None:
        value = self._resolve(rule, ctx)
        raw = value.raw if value is not None else None
        if isinstance(raw, str) and (rule.strip or raw.strip() == ""):
            raw = raw.strip()
        if raw is None or raw == "":
            if rule.default is None:
                if rule.required:
                    raise SkippableError(
                        "MISSING_FIELD",
                        f"{self.target.__name__}.{_target(ctx, rule)} is required but {rule.describe_source()} "
                        f"has no value [mapping {self.name}]",
                        ctx.where,
                    )
                return  # absent: the canonical model's default applies
            value = _Value(rule.default)
            raw = rule.default
        if (rule.type == "str" and rule.crosswalk is None and rule.date is None and rule.scale is None
                and type(raw) is str):
            # nothing to convert: _convert would return the text unchanged
            out[rule.name] = raw
            return
        try:
            out[rule.name] = self._convert(rule, raw, value, partner, ctx)
        except _BadValue as exc:
            raise SkippableError(
                "BAD_VALUE", f"{self.target.__name__}.{_target(ctx, rule)}: {exc} [mapping {self.name}]",
                _value_where(value, ctx)
            ) from None

    def _resolve(self, rule: FieldRule, ctx: _Context) -> Optional[_Value]:
        if rule.const is not None:
            return _Value(rule.const)
        if rule.sequence and not rule.paths:
            return _Value(ctx.sequence)
        scope = rule.scope
        if ctx.message_ix is not None:  # segment source: look up in the tag indexes
            if scope == "group":
                scopes: tuple = (ctx.items_ix,)
            elif scope == "message":
                scopes = (ctx.message_ix,)
            elif scope == "header":
                scopes = (ctx.header_ix,)
            else:
                scopes = (ctx.items_ix, ctx.header_ix)
            for index in scopes:
                for path in rule.paths:
                    found = _lookup_indexed(index, path)
                    if found is not None:
                        return found
        else:
            scopes = {
                "group": (ctx.items,),
                "header": (ctx.header,),
                "message": (ctx.message,),
                "group_or_header": (ctx.items, ctx.header),
            }[scope]
            for items in scopes:
                for path in rule.paths:
                    found = _lookup_segments(items, path) if self.source_kind in SEGMENT_SOURCES else _lookup_json(items, path)
                    if found is not None:
                        return found
        if rule.sequence:  # `path` + `sequence: true`: the line's position when the path is empty
            return _Value(ctx.sequence)
        return None

    def _convert(self, rule: FieldRule, raw: Any, value: _Value, partner: Optional[str], ctx: _Context) -> Any:
        if isinstance(raw, bool):
            raise _BadValue(f"boolean {raw!r} is not a {rule.type}")
        if rule.crosswalk is not None:
            code = _text(raw)
            mapped = rule.crosswalk.lookup(code, (partner, self.system))
            if mapped is None:
                if rule.crosswalk_fallback != "identity":
                    raise SkippableError(
                        cw.error_code(rule.crosswalk.table),
                        f"{self.target.__name__}.{_target(ctx, rule)}: code {code!r} is not in crosswalk "
                        f"{rule.crosswalk.table} (partner {partner or '-'}, system {self.system}); "
                        f"add it to mappings/crosswalks/{rule.crosswalk.table}.csv",
                        _value_where(value, ctx),
                    )
                mapped = code
            raw = mapped
        if rule.scale is not None:
            raw = _decimal(raw, self.source_kind).scaleb(-rule.scale)
        if rule.date is not None:
            if rule.date == "edifact_dtm":
                # the format code sits in the same composite, right after the value (C507: 2005:2380:2379)
                seg, path = value.segment, value.path
                code = seg.get(path.element, 2, "") if seg is not None else ""
                fmt = DTM_FORMATS.get(code)
                if fmt is None:
                    raise _BadValue(f"DTM format code {code or '(none)'!r} is not supported (use 102, 203 or 204)")
            elif rule.date == "iso":
                fmt = None
            else:
                fmt = rule.date
            raw = _parse_datetime(_text(raw), fmt)
        return _as_type(raw, rule.type, self.source_kind)


class _BadValue(Exception):
    pass


def _target(ctx: _Context, rule: FieldRule) -> str:
    return f"{ctx.target}.{rule.name}" if ctx.target else rule.name


def _segment_where(segment: Any) -> str:
    return f"segment {segment.index} ({segment.tag}, line {segment.line})"


def _value_where(value: Optional[_Value], ctx: _Context) -> str:
    """Where a field's value came from: its segment when there is one, else the context.
    Only built when an error is raised: formatting it for every field is measurable."""
    if value is not None and value.segment is not None:
        return _segment_where(value.segment)
    return ctx.where


def _index(segments: Sequence[Any]) -> dict:
    """``{tag: [segments with that tag, in order]}``."""
    index: dict = {}
    for seg in segments:
        same = index.get(seg.tag)
        if same is None:
            index[seg.tag] = [seg]
        else:
            same.append(seg)
    return index


def _lookup_indexed(index: dict, path: SegmentPath) -> Optional[_Value]:
    """``_lookup_segments`` over a tag index: the same first match, without the scan."""
    selector = path.selector
    candidates = index.get(selector.tag)
    if candidates is None:
        return None
    conditions = selector.conditions
    for seg in candidates:
        if conditions:
            elements = seg.elements
            ok = True
            for e, c, v in conditions:
                try:
                    if elements[e][c] != v:
                        ok = False
                        break
                except IndexError:
                    ok = False
                    break
            if not ok:
                continue
        # the first matching segment decides; a later one is a different occurrence
        try:
            raw = seg.elements[path.element][path.component]
        except IndexError:
            return None
        return _Value(raw, seg, path) if raw != "" else None
    return None


def _hl_groups(segments: list, level: str) -> tuple[list[list], list]:
    """X12 line groups from the HL hierarchy: one per HL of ``level``; header = before the first HL."""
    from adapters.edi.x12 import hl_tree  # the codec is only needed for x12 mappings

    groups = []
    for root in hl_tree(segments):
        for node in root.walk():
            if node.level_code == level:
                items = list(node.segments)
                for ancestor in node.ancestors():
                    items.extend(ancestor.segments)
                groups.append(items)
    first_hl = next((i for i, seg in enumerate(segments) if seg.tag == "HL"), len(segments))
    return groups, segments[:first_hl]


def _lookup_segments(segments: Sequence[Any], path: SegmentPath) -> Optional[_Value]:
    for seg in segments:
        if path.selector.matches(seg):
            # the first matching segment decides; a later one is a different occurrence
            raw = seg.get(path.element, path.component, "")
            return _Value(raw, seg, path) if raw != "" else None
    return None


def _lookup_json(record: dict, key: str) -> Optional[_Value]:
    if key in record and record[key] is not None:
        return _Value(record[key], None, key)
    return None


def _text(raw: Any) -> str:
    if isinstance(raw, float):
        return repr(raw)
    return str(raw)


def _decimal(raw: Any, source_kind: str) -> Decimal:
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, float):
        raw = repr(raw)  # 3.5 -> "3.5", so no binary float noise gets into a Decimal
    text = str(raw).strip()
    # ISO 9735 lets EDIFACT use either full stop or comma as decimal mark, whatever UNA says
    if source_kind == "edifact" and "," in text and re.fullmatch(r"-?\d*,\d+", text):
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _BadValue(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise _BadValue(f"{text!r} is not a finite number")
    return value


#: all-digit formats read by slicing (strptime costs ~10 us a call). For a string of exactly
#: the format's length in ASCII digits strptime's regex takes every field at full width, so
#: slicing gives the same date; anything else (or an invalid date) goes to strptime, which
#: then accepts or rejects it exactly as before.
_DIGIT_FORMATS = {"%Y%m%d": 8, "%Y%m%d%H%M": 12, "%Y%m%d%H%M%S": 14}


def _parse_datetime(text: str, fmt: Optional[str]) -> dt.datetime:
    size = _DIGIT_FORMATS.get(fmt) if fmt is not None else None
    if size is not None and len(text) == size and text.isdigit() and text.isascii():
        try:
            return dt.datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]),
                               int(text[8:10] or 0), int(text[10:12] or 0), int(text[12:14] or 0))
        except ValueError:
            pass  # strptime decides and words the error
    try:
        return dt.datetime.fromisoformat(text) if fmt is None else dt.datetime.strptime(text, fmt)
    except ValueError:
        raise _BadValue(f"{text!r} is not a date in format {fmt or 'ISO 8601'}") from None


def _as_type(raw: Any, type_: str, source_kind: str) -> Any:
    if type_ == "str":
        return raw.isoformat() if isinstance(raw, (dt.date, dt.datetime)) else _text(raw)
    if type_ == "decimal":
        return _decimal(raw, source_kind)
    if type_ == "int":
        if isinstance(raw, int):
            return raw
        number = _decimal(raw, source_kind)
        if number != number.to_integral_value():
            raise _BadValue(f"{_text(raw)!r} is not a whole number")
        return int(number)
    if type_ in ("date", "datetime"):
        if not isinstance(raw, (dt.date, dt.datetime)):
            raw = _parse_datetime(_text(raw), None)
        if type_ == "date":
            return raw.date() if isinstance(raw, dt.datetime) else raw
        return raw if isinstance(raw, dt.datetime) else dt.datetime.combine(raw, dt.time())
    raise AssertionError(type_)  # compile() only lets TYPES through


# --------------------------------------------------------------------------- loading / compiling


class _LDict(dict):
    """A mapping from YAML that remembers its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict


class _LList(list):
    line: int = 0


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Build plain data from a composed node, keeping line numbers for messages."""
    if isinstance(node, yaml.MappingNode):
        out = _LDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for knode, vnode in node.value:
            key = _construct(loader, knode)
            if not isinstance(key, str):
                raise MappingInvalid(f"keys must be strings, got {key!r}", knode.start_mark.line + 1)
            if key in out:
                # YAML would silently keep the last one; a doubled field is almost always a mistake
                raise MappingInvalid(f"duplicate key {key!r}", knode.start_mark.line + 1)
            out[key] = _construct(loader, vnode)
            out.key_lines[key] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = _LList(_construct(loader, item) for item in node.value)
        seq.line = node.start_mark.line + 1
        return seq
    return loader.construct_object(node, deep=True)


def _read_yaml(text: str) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise MappingInvalid("mapping file is empty", 1)
        return _construct(loader, node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise MappingInvalid(f"YAML syntax: {exc.problem or exc}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise MappingInvalid(f"YAML: {exc}", None) from None
    finally:
        loader.dispose()


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def load_mapping(path: str | os.PathLike) -> CompiledMapping:
    """Load and compile a mapping file; cached until it, a crosswalk table or a partner profile changes.

    A relative path that does not exist from the working directory is taken relative to the
    repository, so ``load_mapping("mappings/kingdee/PUR_PurchaseOrder.yaml")`` works from a
    DAG or a worker whatever their working directory is.
    """
    p = Path(path)
    if not p.is_absolute() and not p.exists() and (REPO_ROOT / p).exists():
        p = REPO_ROOT / p
    try:
        mtime = os.stat(p).st_mtime_ns
    except FileNotFoundError:
        raise FatalError("MAPPING_MISSING", "mapping file not found", _display_path(p)) from None
    # crosswalk tables are compiled into the mapping, so an edited table must recompile it too
    tables = tuple(sorted((t.name, t.stat().st_mtime_ns) for t in cw.CROSSWALK_DIR.glob("*.csv")))
    # ... and so are the partner profiles' rows merged into them
    return _load_cached(str(p.resolve()), mtime, tables + cw.partner_stamps())


@functools.lru_cache(maxsize=128)
def _load_cached(path: str, mtime_ns: int, tables: tuple) -> CompiledMapping:  # the stamps only key the cache
    p = Path(path)
    return compile_mapping(p.read_text(encoding="utf-8"), _display_path(p), default_name=p.stem)


def compile_mapping(text: str, file: str = "<mapping>", default_name: str = "mapping",
                    crosswalk_dir: Path = cw.CROSSWALK_DIR) -> CompiledMapping:
    """Validate mapping ``text`` and compile it; ``FatalError MAPPING_INVALID`` at ``file:line``."""
    try:
        data = _read_yaml(text)
        return _Compiler(file, default_name, crosswalk_dir).mapping(data)
    except MappingInvalid as exc:
        where = f"{file}:{exc.line}" if exc.line else file
        raise FatalError("MAPPING_INVALID", str(exc), where) from None


class _Compiler:
    def __init__(self, file: str, default_name: str, crosswalk_dir: Path) -> None:
        self.file = file
        self.default_name = default_name
        self.crosswalk_dir = crosswalk_dir
        self.source_kind = "edifact"
        self.fallback = "error"

    # helpers ---------------------------------------------------------------

    @staticmethod
    def _line(container: Any, key: Any = None) -> Optional[int]:
        if isinstance(container, _LDict) and key is not None and key in container.key_lines:
            return container.key_lines[key]
        return getattr(container, "line", None)

    def _mapping_of(self, value: Any, what: str, line: Optional[int]) -> _LDict:
        if not isinstance(value, _LDict):
            raise MappingInvalid(f"{what} must be a mapping", getattr(value, "line", None) or line)
        return value

    def _known(self, node: _LDict, allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                raise MappingInvalid(f"unknown key {key!r} in {what}; known: {', '.join(sorted(allowed))}", self._line(node, key))

    def _str(self, node: _LDict, key: str, what: str) -> str:
        value = node[key]
        if not isinstance(value, str) or not value:
            raise MappingInvalid(f"{what}.{key} must be a non-empty string", self._line(node, key))
        return value

    def _tags(self, node: _LDict, key: str, what: str) -> frozenset[str]:
        value = node[key]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and re.fullmatch(_TAG, v) for v in values):
            raise MappingInvalid(f"{what}.{key} must be a segment tag or a list of tags", self._line(node, key))
        return frozenset(values)

    # top level ---------------------------------------------------------------

    def mapping(self, data: Any) -> CompiledMapping:
        top = self._mapping_of(data, "a mapping file", 1)
        self._known(top, MAPPING_KEYS, "mapping")
        for required in ("source", "target", "fields"):
            if required not in top:
                raise MappingInvalid(f"mapping needs {required!r}", top.line)
        self.source_kind = self._str(top, "source", "mapping")
        if self.source_kind not in SOURCE_KINDS:
            raise MappingInvalid(f"source must be one of {', '.join(SOURCE_KINDS)}", self._line(top, "source"))
        target_name = self._str(top, "target", "mapping")
        target = DOCUMENT_TYPES.get(target_name)
        if target is None:
            raise MappingInvalid(
                f"unknown target {target_name!r}; known: {', '.join(sorted(DOCUMENT_TYPES))}", self._line(top, "target")
            )
        if "crosswalk_fallback" in top:
            self.fallback = top["crosswalk_fallback"]
            if self.fallback not in FALLBACKS:
                raise MappingInvalid(f"crosswalk_fallback must be one of {', '.join(FALLBACKS)}", self._line(top, "crosswalk_fallback"))
        record_key = None
        if "record_key" in top:
            if self.source_kind != "json":
                raise MappingInvalid("record_key is for json sources", self._line(top, "record_key"))
            record_key = self._str(top, "record_key", "mapping")

        header_names = set(target.model_fields) - {"type", "source"}
        lines = None
        if "lines" in top:
            lines = self.lines(top["lines"], target, self._line(top, "lines"))
            header_names.discard(lines.into)
        fields = self.fields(self._mapping_of(top["fields"], "fields", self._line(top, "fields")),
                             header_names, in_lines=False)
        return CompiledMapping(
            name=str(top.get("mapping") or self.default_name),
            file=self.file,
            source_kind=self.source_kind,
            system=str(top.get("system") or self.source_kind),
            target=target,
            fields=fields,
            lines=lines,
            record_key=record_key,
        )

    def lines(self, value: Any, target: type[BaseModel], line: Optional[int]) -> LinesRule:
        node = self._mapping_of(value, "lines", line)
        self._known(node, LINES_KEYS, "lines")
        into = self._str(node, "into", "lines") if "into" in node else "lines"
        line_model = _list_item_model(target, into)
        if line_model is None:
            raise MappingInvalid(f"{target.__name__} has no list of lines called {into!r}", self._line(node, "into") or node.line)
        if "fields" not in node:
            raise MappingInvalid("lines needs 'fields'", node.line)
        group = each = None
        if self.source_kind in SEGMENT_SOURCES:
            if "group" not in node or "each" in node:
                raise MappingInvalid(f"{self.source_kind} lines need 'group' (and no 'each')", node.line)
            group = self.group(node["group"], self._line(node, "group"))
        else:
            if "each" not in node or "group" in node:
                raise MappingInvalid("json lines need 'each' (and no 'group')", node.line)
            each = self._str(node, "each", "lines")
        names = set(line_model.model_fields)
        fields = self.fields(self._mapping_of(node["fields"], "lines.fields", self._line(node, "fields")), names, in_lines=True)
        return LinesRule(into=into, fields=fields, group=group, each=each)

    def group(self, value: Any, line: Optional[int]) -> GroupRule:
        node = self._mapping_of(value, "lines.group", line)
        self._known(node, GROUP_KEYS, "lines.group")
        if "hl_level" in node:
            level = node["hl_level"]
            if self.source_kind != "x12":
                raise MappingInvalid("lines.group.hl_level is for x12 sources", self._line(node, "hl_level"))
            if not isinstance(level, str) or not re.fullmatch(r"[A-Z0-9]{1,2}", level) or len(node) != 1:
                raise MappingInvalid("lines.group.hl_level must be an HL03 level code like I, alone in lines.group",
                                     self._line(node, "hl_level"))
            return GroupRule("HL", frozenset(), hl_level=level)
        if "starts_at" not in node or "ends_before" not in node:
            raise MappingInvalid("lines.group needs starts_at and ends_before", node.line)
        starts = self._tags(node, "starts_at", "lines.group")
        if len(starts) != 1:
            raise MappingInvalid("lines.group.starts_at must be one tag", self._line(node, "starts_at"))
        inherit: list[Selector] = []
        if "inherit_from_previous" in node:
            raw = node["inherit_from_previous"]
            raw_list = [raw] if isinstance(raw, str) else raw
            if not isinstance(raw_list, list):
                raise MappingInvalid("inherit_from_previous must be a list of segment selectors", self._line(node, "inherit_from_previous"))
            for item in raw_list:
                try:
                    inherit.append(parse_selector(item))
                except ValueError as exc:
                    raise MappingInvalid(str(exc), self._line(node, "inherit_from_previous")) from None
        stop = self._tags(node, "inherit_stop_at", "lines.group") if "inherit_stop_at" in node else frozenset()
        return GroupRule(next(iter(starts)), self._tags(node, "ends_before", "lines.group"), tuple(inherit), stop)

    def fields(self, node: _LDict, allowed_names: set[str], in_lines: bool) -> tuple[FieldRule, ...]:
        rules = []
        for name, spec in node.items():
            line = self._line(node, name)
            if name not in allowed_names:
                raise MappingInvalid(f"field {name!r} is not in the target; known: {', '.join(sorted(allowed_names))}", line)
            rules.append(self.field(name, spec, line, in_lines))
        return tuple(rules)

    def field(self, name: str, spec: Any, line: Optional[int], in_lines: bool) -> FieldRule:
        path_key = "path" if self.source_kind in SEGMENT_SOURCES else "key"
        if isinstance(spec, str):  # shorthand: `asn_number: BGM.1.0`
            spec = _LDict({path_key: spec})
            spec.line, spec.key_lines = line, {path_key: line}
        node = self._mapping_of(spec, f"field {name!r}", line)
        for key in node:
            if key not in SOURCE_KEYS | TRANSFORM_KEYS:
                raise MappingInvalid(
                    f"unknown transform or key {key!r} in field {name!r}; "
                    f"keys: {', '.join(sorted(SOURCE_KEYS))}; transforms: {', '.join(sorted(TRANSFORM_KEYS))}",
                    self._line(node, key),
                )
        wrong = {"path": "key", "key": "path"}[path_key]
        if wrong in node:
            raise MappingInvalid(f"field {name!r}: {self.source_kind} sources use {path_key!r}, not {wrong!r}", self._line(node, wrong))
        kinds = [k for k in (path_key, "const", "sequence") if k in node]
        if kinds == [path_key, "sequence"]:
            kinds = [path_key]  # sequence as the fallback of a path, checked below
        if len(kinds) != 1:
            raise MappingInvalid(f"field {name!r} needs exactly one of {path_key}, const, sequence", node.line)
        kw: dict[str, Any] = {"name": name, "scope": "group" if in_lines else "message",
                              "crosswalk_fallback": self.fallback}
        if path_key in node:
            raw = node[path_key]
            raw_list = [raw] if isinstance(raw, str) else raw
            if not isinstance(raw_list, list) or not raw_list or not all(isinstance(r, str) and r for r in raw_list):
                raise MappingInvalid(f"field {name!r}: {path_key} must be a string or a list of strings", self._line(node, path_key))
            if self.source_kind in SEGMENT_SOURCES:
                try:
                    kw["paths"] = tuple(parse_path(r) for r in raw_list)
                except ValueError as exc:
                    raise MappingInvalid(f"field {name!r}: {exc}", self._line(node, path_key)) from None
            else:
                kw["paths"] = tuple(raw_list)
        if "const" in node:
            if node["const"] is None or isinstance(node["const"], (dict, list)):
                raise MappingInvalid(f"field {name!r}: const must be a scalar", self._line(node, "const"))
            kw["const"] = node["const"]
        if "sequence" in node:
            if node["sequence"] is not True or not in_lines:
                raise MappingInvalid(f"field {name!r}: sequence: true is only for line fields", self._line(node, "sequence"))
            kw["sequence"] = True
        if "scope" in node:
            scope = node["scope"]
            allowed = SCOPES if in_lines else ("message", "header")
            if scope not in allowed:
                raise MappingInvalid(f"field {name!r}: scope must be one of {', '.join(allowed)}", self._line(node, "scope"))
            if self.source_kind == "json" and scope not in ("group", "message"):
                raise MappingInvalid(f"field {name!r}: json scope must be group or message", self._line(node, "scope"))
            kw["scope"] = scope
        if "default" in node:
            if node["default"] is None or isinstance(node["default"], (dict, list)):
                raise MappingInvalid(f"field {name!r}: default must be a scalar", self._line(node, "default"))
            kw["default"] = node["default"]
        for flag in ("required", "strip"):
            if flag in node:
                if not isinstance(node[flag], bool):
                    raise MappingInvalid(f"field {name!r}: {flag} must be true or false", self._line(node, flag))
                kw[flag] = node[flag]
        if "date" in node:
            fmt = node["date"]
            if not isinstance(fmt, str) or not (fmt in ("edifact_dtm", "iso") or "%" in fmt):
                raise MappingInvalid(
                    f"field {name!r}: date must be edifact_dtm, iso or a strptime format like %Y%m%d", self._line(node, "date")
                )
            if fmt == "edifact_dtm" and self.source_kind != "edifact":
                raise MappingInvalid(f"field {name!r}: date: edifact_dtm needs an edifact source", self._line(node, "date"))
            kw["date"] = fmt
            kw["type"] = "date"
        if "scale" in node:
            if isinstance(node["scale"], bool) or not isinstance(node["scale"], int) or not 0 <= node["scale"] <= 18:
                raise MappingInvalid(f"field {name!r}: scale must be an integer 0..18", self._line(node, "scale"))
            kw["scale"] = node["scale"]
            kw["type"] = "decimal"
        if "type" in node:
            if node["type"] not in TYPES:
                raise MappingInvalid(f"field {name!r}: type must be one of {', '.join(TYPES)}", self._line(node, "type"))
            kw["type"] = node["type"]
        if "date" in node and kw["type"] not in ("date", "datetime", "str"):
            raise MappingInvalid(f"field {name!r}: a date cannot be type {kw['type']}", self._line(node, "type"))
        if kw.get("date") == "edifact_dtm" and "default" in node:
            # the DTM format code is read from the segment; a default has no segment
            raise MappingInvalid(f"field {name!r}: date: edifact_dtm cannot have a default", self._line(node, "default"))
        if "crosswalk" in node:
            table = node["crosswalk"]
            if not isinstance(table, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", table):
                raise MappingInvalid(f"field {name!r}: crosswalk must be a table name like units", self._line(node, "crosswalk"))
            try:
                kw["crosswalk"] = cw.load_crosswalk(table, self.crosswalk_dir)
            except FatalError as exc:
                raise MappingInvalid(f"field {name!r}: crosswalk {table!r}: {exc.code} {exc.message} ({exc.where})",
                                     self._line(node, "crosswalk")) from None
        if "crosswalk_fallback" in node:
            if node["crosswalk_fallback"] not in FALLBACKS or "crosswalk" not in node:
                raise MappingInvalid(
                    f"field {name!r}: crosswalk_fallback must be one of {', '.join(FALLBACKS)} next to a crosswalk",
                    self._line(node, "crosswalk_fallback"),
                )
            kw["crosswalk_fallback"] = node["crosswalk_fallback"]
        return FieldRule(**kw)


def _list_item_model(model: type[BaseModel], field_name: str) -> Optional[type[BaseModel]]:
    info = model.model_fields.get(field_name)
    if info is None or typing.get_origin(info.annotation) is not list:
        return None
    (item,) = typing.get_args(info.annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None

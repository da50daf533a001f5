"""Column specs (mappings/tabular/<message>.yaml): which columns a supplier sheet may have.

A spec names the canonical document a sheet becomes, the columns with their Chinese and
English labels and aliases, how each cell is read (type, scale, unit crosswalk, choices) and
which columns form the document key. Specs are data: read with ``yaml.safe_load``, checked
against the canonical model once, never evaluated. A broken spec is a ``FatalError
MAPPING_INVALID`` naming the file, like a broken EDIFACT mapping.
"""
from __future__ import annotations

import functools
import os
import re
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel

from canonical_model.documents import DOCUMENT_TYPES, CanonicalDocument
from hub.errors import FatalError
from mappings.engine import MAPPINGS_DIR

SPEC_DIR = MAPPINGS_DIR / "tabular"

TYPES = ("str", "int", "decimal", "date", "datetime", "choice")
LEVELS = ("document", "line")
_SPEC_KEYS = {"message", "target", "title", "description", "document_key", "columns"}
_COLUMN_KEYS = {"level", "zh", "en", "aliases", "required", "type", "scale", "positive", "non_negative",
                "crosswalk", "from_partner", "choices", "example", "note"}
# characters people sprinkle into headers that do not change what a column means:
# required markers, separators, colons (ASCII after NFKC turns full-width ones into these)
_NOISE = re.compile(r"[\s_\-.*:#'\"]+")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】")


def normalise_label(text: str) -> str:
    """``' 物料编码（必填）'`` -> ``'物料编码'``, ``'Material Code *'`` -> ``'materialcode'``."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = _BRACKETED.sub("", text)
    return _NOISE.sub("", text)


def header_parts(cell: Any) -> list[str]:
    """The normalised labels one header cell offers: ``'数量 / quantity'`` offers both halves."""
    if cell is None:
        return []
    text = str(cell)
    parts = [text, *re.split(r"[/／\n]", text)] if re.search(r"[/／\n]", text) else [text]
    return [p for p in (normalise_label(part) for part in parts) if p]


@dataclass(frozen=True)
class Column:
    name: str  # canonical field name
    level: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    required: bool = False
    type: str = "str"
    scale: Optional[int] = None
    positive: bool = False
    non_negative: bool = False
    crosswalk: Optional[str] = None
    from_partner: bool = False
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    example: Any = None
    note: Optional[str] = None

    @property
    def labels(self) -> set[str]:
        return {normalise_label(a) for a in (self.zh, self.en, self.name, *self.aliases)} - {""}

    def label(self, language: str = "zh+en") -> str:
        return {"zh": self.zh, "en": self.en}.get(language, f"{self.zh} / {self.en}")


@dataclass(frozen=True)
class TableSpec:
    message: str
    target: type[CanonicalDocument]
    line_model: type[BaseModel]
    title_zh: str
    title_en: str
    document_key: tuple[str, ...]
    columns: tuple[Column, ...]
    file: str

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @functools.cached_property
    def _label_index(self) -> dict[str, Column]:
        return {label: col for col in self.columns for label in col.labels}

    def match_header(self, cells: list[Any]) -> dict[int, Column]:
        """Column index -> Column for the cells of a candidate header row (first match wins)."""
        found: dict[int, Column] = {}
        used: set[str] = set()
        for index, cell in enumerate(cells):
            for part in header_parts(cell):
                col = self._label_index.get(part)
                if col is not None and col.name not in used:
                    found[index] = col
                    used.add(col.name)
                    break
        return found

    def missing_required(self, matched: dict[int, Column]) -> list[Column]:
        names = {c.name for c in matched.values()}
        return [c for c in self.columns if c.required and not c.from_partner and c.name not in names]


def _line_model(target: type[BaseModel]) -> type[BaseModel]:
    annotation = target.model_fields["lines"].annotation
    (item,) = typing.get_args(annotation)
    return item


def _invalid(file: str, message: str) -> FatalError:
    return FatalError("MAPPING_INVALID", message, file)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(MAPPINGS_DIR.parent))
    except ValueError:
        return str(path)


def load_spec(path: str | os.PathLike) -> TableSpec:
    """Load and check one spec file, cached until it changes on disk."""
    path = Path(path)
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        raise FatalError("MAPPING_INVALID", "column spec not found", str(path)) from None
    return _load(str(path), mtime)


@functools.lru_cache(maxsize=64)
def _load(path_text: str, mtime_ns: int) -> TableSpec:  # mtime_ns only keys the cache
    path = Path(path_text)
    file = _display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _invalid(file, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise _invalid(file, "a column spec is a mapping with message, target, columns")
    unknown = set(data) - _SPEC_KEYS
    if unknown:
        raise _invalid(file, f"unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    target = DOCUMENT_TYPES.get(str(data.get("target")))
    if target is None or "lines" not in target.model_fields:
        raise _invalid(file, f"target {data.get('target')!r} is not a canonical document with lines")
    line_model = _line_model(target)
    columns = []
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise _invalid(file, "columns must be a non-empty mapping of canonical field -> column")
    for name, raw in raw_columns.items():
        columns.append(_column(file, str(name), raw or {}, target, line_model))
    seen: dict[str, str] = {}
    for col in columns:
        for label in col.labels:
            # one header text meaning two columns would make reading depend on column order
            if seen.setdefault(label, col.name) != col.name:
                raise _invalid(file, f"label {label!r} is used by both {seen[label]} and {col.name}")
    names = {c.name for c in columns}
    key = tuple(data.get("document_key") or ())
    if not key or not set(key) <= names or any(next(c for c in columns if c.name == k).level != "document"
                                               for k in key):
        raise _invalid(file, "document_key must list document-level columns of this spec")
    missing = [f for f, info in target.model_fields.items()
               if info.is_required() and f not in names and f not in ("lines", "type")]
    if missing:
        raise _invalid(file, f"{target.__name__} needs {missing} but the spec has no such column")
    title = data.get("title") or {}
    return TableSpec(message=str(data.get("message") or path.stem), target=target, line_model=line_model,
                     title_zh=str(title.get("zh", path.stem)), title_en=str(title.get("en", path.stem)),
                     document_key=key, columns=tuple(columns), file=file)


def _column(file: str, name: str, raw: dict, target: type[BaseModel], line_model: type[BaseModel]) -> Column:
    where = f"{file} (column {name})"
    if not isinstance(raw, dict):
        raise _invalid(where, "a column is a mapping")
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise _invalid(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_COLUMN_KEYS)}")
    level = raw.get("level", "line")
    if level not in LEVELS:
        raise _invalid(where, f"level must be one of {LEVELS}")
    model = target if level == "document" else line_model
    if name not in model.model_fields:
        raise _invalid(where, f"{model.__name__} has no field {name!r}")
    type_ = raw.get("type", "str")
    if type_ not in TYPES:
        raise _invalid(where, f"type must be one of {TYPES}")
    choices = raw.get("choices") or {}
    if (type_ == "choice") != bool(choices):
        raise _invalid(where, "type choice and choices go together")
    scale = raw.get("scale")
    if scale is not None and (type_ != "decimal" or not isinstance(scale, int) or not 0 <= scale <= 12):
        raise _invalid(where, "scale is a whole number 0..12 on a decimal column")
    if not raw.get("zh") or not raw.get("en"):
        raise _invalid(where, "zh and en labels are required (they head the template's columns)")
    return Column(
        name=name, level=level, zh=str(raw["zh"]), en=str(raw["en"]),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()), required=bool(raw.get("required")),
        type=type_, scale=scale, positive=bool(raw.get("positive")), non_negative=bool(raw.get("non_negative")),
        crosswalk=raw.get("crosswalk"), from_partner=bool(raw.get("from_partner")),
        choices={str(k): tuple(str(v) for v in vs) for k, vs in choices.items()},
        example=raw.get("example"), note=raw.get("note"),
    )


def spec_files(spec_dir: Path = SPEC_DIR) -> list[Path]:
    return sorted(spec_dir.glob("*.yaml"))


def load_specs(spec_dir: Path = SPEC_DIR) -> dict[str, TableSpec]:
    specs: dict[str, TableSpec] = {}
    for path in spec_files(spec_dir):
        spec = load_spec(path)
        if spec.message in specs:
            raise _invalid(spec.file, f"message {spec.message!r} is also defined in {specs[spec.message].file}")
        specs[spec.message] = spec
    return specs


def get_spec(message: str, spec_dir: Path = SPEC_DIR) -> TableSpec:
    specs = load_specs(spec_dir)
    try:
        return specs[message]
    except KeyError:
        raise FatalError("UNKNOWN_MESSAGE", f"no column spec for message {message!r}; known: {sorted(specs)}",
                         _display(spec_dir)) from None

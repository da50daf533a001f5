"""Validate a batch of canonical documents: split good lines from bad, report every failure.

``validate`` is pure: it takes documents and a ``ValidationContext`` (the store's view as plain
data) and returns what may go on and what must go to quarantine. Writing the quarantine is
the caller's job; ``Failure.to_error()`` gives the hub's ``SkippableError`` for it.

Rules run lazily: schema rules over one flattened frame per document type (pandera,
``lazy=True``), then the cross-document rules. A document keeps its good lines and loses its
bad ones, unless

* the partner profile says all-or-nothing (``ctx.all_or_nothing``): any failure fails it whole;
* a rule is about the header (``DATE_ORDER``) or the document has no lines (``Batch``);
* no good line is left.

A failed-whole document is not passed on at all; every one of its failures is still reported.
Document types without rules (Party, Material, Alert) pass through unchanged.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

from canonical_model.documents import CanonicalDocument
from hub.errors import SkippableError
from validation.rules import RULE_CODES, OpenPoLine, ValidationContext, check_shipment_notices
from validation.schemas import (
    DEFAULT_KNOWN_UOMS,
    SCHEMA_BY_DOCUMENT_TYPE,
    SCHEMA_CODES,
    Issue,
    collect_issues,
    flatten,
)

__all__ = [
    "DEFAULT_KNOWN_UOMS",
    "REASON_CODES",
    "Failure",
    "OpenPoLine",
    "ValidationContext",
    "ValidationResult",
    "validate",
]

REASON_CODES = SCHEMA_CODES | RULE_CODES


@dataclass(frozen=True)
class Failure:
    """One broken rule, with the evidence quarantine needs.

    ``document`` is the whole original document as JSON data. Failures of the same document
    share one dict (a 10k-line document with 10k bad lines must not be dumped 10k times), so
    treat it as read-only.
    """

    document_type: str
    business_key: str
    where: str
    code: str
    message: str
    document: dict[str, Any]

    def to_error(self) -> SkippableError:
        return SkippableError(self.code, self.message, f"{self.document_type} {self.business_key} {self.where}")


@dataclass(frozen=True)
class ValidationResult:
    valid: list[CanonicalDocument]
    failures: list[Failure]


def _where(doc: CanonicalDocument, issue: Issue) -> str:
    if issue.line_index is None:
        return issue.field or "document"
    line_no = doc.lines[issue.line_index].line_no  # type: ignore[attr-defined]
    return f"lines[{issue.line_index}] (line_no {line_no})"


def validate(documents: list[CanonicalDocument], ctx: ValidationContext) -> ValidationResult:
    """Split ``documents`` into what passes on and a failure per broken rule (see module doc)."""
    by_type: dict[str, list[tuple[int, CanonicalDocument]]] = defaultdict(list)
    for index, doc in enumerate(documents):
        by_type[doc.type].append((index, doc))  # type: ignore[attr-defined]

    issues: list[Issue] = []
    for doc_type, docs in by_type.items():
        model = SCHEMA_BY_DOCUMENT_TYPE.get(doc_type)
        if model is None:
            continue
        frame = flatten(docs, batch_required=ctx.batch_required)
        issues.extend(collect_issues(frame, model, doc_type, ctx.known_uoms))

    failed_lines: dict[int, set[Optional[int]]] = defaultdict(set)
    for issue in issues:
        failed_lines[issue.document_index].add(issue.line_index)
    asns = by_type.get("ShipmentNotice", [])
    if asns:
        if ctx.open_po_lines is not None:
            issues.extend(check_shipment_notices(asns, ctx, failed_lines))  # type: ignore[arg-type]

    issues_by_doc: dict[int, list[Issue]] = defaultdict(list)
    for issue in issues:
        issues_by_doc[issue.document_index].append(issue)

    valid: list[CanonicalDocument] = []
    failures: list[Failure] = []
    for index, doc in enumerate(documents):
        doc_issues = issues_by_doc.get(index)
        if not doc_issues:
            valid.append(doc)
            continue
        # Stable report order: by line, header issues first.
        doc_issues.sort(key=lambda i: -1 if i.line_index is None else i.line_index)
        evidence = doc.model_dump(mode="json")
        failures.extend(
            Failure(doc.type, doc.business_key, _where(doc, i), i.code, i.message, evidence)  # type: ignore[attr-defined]
            for i in doc_issues
        )
        bad = {i.line_index for i in doc_issues}
        lines = getattr(doc, "lines", None)
        if ctx.all_or_nothing or None in bad or lines is None:
            continue
        good = [line for n, line in enumerate(lines) if n not in bad]
        if good:
            valid.append(doc.model_copy(update={"lines": good}))
    return ValidationResult(valid=valid, failures=failures)

"""Delivering the outbox: each pending row once, classified by the error taxonomy.

* success                  -> ``sent`` with the target's answer (e.g. the bill number)
* ``RetriableError``       -> stays ``pending``, next attempt after an exponential backoff
* ``FatalError``/skippable -> ``failed``, kept with its error for a human (never dropped)

Every row is handled in its own transaction so one failure cannot undo another's success.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from canonical_model.store import Store, audit, outbox
from canonical_model.store.tables import OutboxRow
from hub.errors import HubError, RetriableError

log = logging.getLogger(__name__)

Handler = Callable[[OutboxRow], dict[str, Any] | None]

BASE_BACKOFF = dt.timedelta(seconds=30)
MAX_BACKOFF = dt.timedelta(hours=1)


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> dt.timedelta:
    return min(BASE_BACKOFF * (2 ** attempts), MAX_BACKOFF)


def dispatch(store: Store, target: str, handler: Handler, now: dt.datetime | None = None,
             only: Callable[[OutboxRow], bool] | None = None) -> DispatchReport:
    """Deliver due rows of ``target`` (optionally ``only`` those a partition owns)."""
    report = DispatchReport()
    with store.session() as session:
        ids = [row.id for row in outbox.due(session, target, now) if only is None or only(row)]
    for row_id in ids:
        with store.session() as session:
            row = session.get(OutboxRow, row_id)
            try:
                result = handler(row)
            except RetriableError as exc:
                outbox.mark_retry(row, exc.as_line(), backoff(row.attempts))
                report.retrying += 1
                report.errors.append(f"{row.idempotency_key}: {exc.as_line()}")
                log.warning("outbox %s will retry: %s", row.idempotency_key, exc.as_line())
                continue
            except HubError as exc:
                outbox.mark_failed(row, exc.as_line())
                report.failed += 1
                report.errors.append(f"{row.idempotency_key}: {exc.as_line()}")
                log.error("outbox %s failed: %s", row.idempotency_key, exc.as_line())
                continue
            outbox.mark_sent(row, result)
            audit.record(session, actor=f"outbox:{target}", action="sent", subject_type="outbox",
                         subject_key=row.idempotency_key, details={"result": result})
            report.sent += 1
    return report

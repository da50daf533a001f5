"""Bounded, in-process retries of retriable U9 failures (both hooks share the policy).

``max_attempts`` 1 means no retry here: the scheduler retries the task. The ERP clients
(erp.py) use 4 unless the connection says otherwise. Between attempts the hook waits the
server's ``Retry-After`` or an exponential backoff from ``backoff_seconds``, never longer than
``max_retry_after``. Only idempotent work is repeated: reads, and the push step that looks the
document up by its external number before writing (erp.py). A single write call is repeated
only when the server cannot have acted on it (HTTP 429: ``unprocessed``).
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional, TypeVar

from hub.errors import RetriableError

T = TypeVar("T")
log = logging.getLogger(__name__)


def mark(error: RetriableError, retry_after: Optional[float] = None, unprocessed: bool = False) -> RetriableError:
    """Attach what the retry loop needs to know to a classified error."""
    error.retry_after = retry_after  # type: ignore[attr-defined]
    error.unprocessed = unprocessed  # type: ignore[attr-defined]
    return error


class Retrier:
    def __init__(self, max_attempts: int = 1, backoff_seconds: float = 0.5, max_retry_after: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    def pause(self, attempt: int, retry_after: Optional[float] = None) -> None:
        wait = retry_after if retry_after is not None else self.backoff_seconds * (2 ** (attempt - 1))
        self.sleep(min(max(wait, 0.0), self.max_retry_after))

    def run(self, work: Callable[[], T], what: str, idempotent: bool = True) -> T:
        attempt = 1
        while True:
            try:
                return work()
            except RetriableError as exc:
                if attempt >= self.max_attempts or not (idempotent or getattr(exc, "unprocessed", False)):
                    raise
                log.warning("%s failed (%s, attempt %d of %d); retrying", what, exc.code, attempt, self.max_attempts)
                self.pause(attempt, getattr(exc, "retry_after", None))
                attempt += 1

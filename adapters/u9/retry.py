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
from typing import Any, Callable, Optional, TypeVar

from adapters.http_retry import backoff_wait, check_max_attempts, run_with_retries
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
        self.max_attempts = check_max_attempts(max_attempts)
        self.backoff_seconds = backoff_seconds
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    @classmethod
    def for_config(cls, config: Any, max_attempts: Optional[int] = None) -> "Retrier":
        """The policy of a U9 connection (``max_attempts`` given wins over the connection's)."""
        return cls(max_attempts or config.max_attempts or 1, config.backoff_seconds, config.max_retry_after)

    def pause(self, attempt: int, retry_after: Optional[float] = None) -> None:
        self.sleep(backoff_wait(attempt, retry_after, self.backoff_seconds, self.max_retry_after))

    def run(self, work: Callable[[], T], what: str, idempotent: bool = True) -> T:
        return run_with_retries(work, max_attempts=self.max_attempts, pause=self.pause, what=what, log=log,
                                idempotent=idempotent, message="%s failed (%s, attempt %d of %d); retrying")

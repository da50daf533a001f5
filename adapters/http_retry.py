"""The bounded in-process retry loop the adapters' hooks share, and the lifecycle of a hook's session.

Which failures are worth repeating is each adapter's decision (its ``errors.py`` classifies,
its hook says whether a call is idempotent); the loop only applies it: a retriable failure is
repeated while attempts remain, and a non-idempotent call only when the server cannot have acted
on it (``unprocessed``). Between attempts the hook waits the server's ``Retry-After`` or an
exponential backoff, capped.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Self, TypeVar

import requests

from hub.errors import RetriableError

T = TypeVar("T")

RETRY_MESSAGE = "%s failed (%s), attempt %d of %d; retrying"


def check_max_attempts(max_attempts: int) -> int:
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    return max_attempts


def backoff_wait(attempt: int, retry_after: Optional[float], backoff_seconds: float, cap: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Retry-After if given, else exponential backoff; capped."""
    wait = retry_after if retry_after is not None else backoff_seconds * (2 ** (attempt - 1))
    return min(max(wait, 0.0), cap)


def run_with_retries(work: Callable[[], T], *, max_attempts: int, pause: Callable[[int, Optional[float]], None],
                     what: str, log: logging.Logger, idempotent: bool = True,
                     retriable: type[RetriableError] = RetriableError,
                     not_retried: tuple[type[BaseException], ...] = (), message: str = RETRY_MESSAGE) -> T:
    """``work()`` up to ``max_attempts`` times on ``retriable`` failures (see the module doc).

    ``not_retried`` are retriable failures the caller handles itself (e.g. an expired token);
    ``message`` is logged with (what, code, attempt, max_attempts) before each repeat.
    """
    attempt = 1
    while True:
        try:
            return work()
        except retriable as exc:
            if isinstance(exc, not_retried) or attempt >= max_attempts \
                    or not (idempotent or getattr(exc, "unprocessed", False)):
                raise
            log.warning(message, what, exc.code, attempt, max_attempts)
            pause(attempt, getattr(exc, "retry_after", None))
            attempt += 1


class SessionHook:
    """Close the hook's ``requests.Session`` when done; usable as a context manager."""

    session: requests.Session

    def _open_session(self, session: Optional[requests.Session], headers: dict[str, str]) -> None:
        """Use the caller's session (tests, connection pooling) or a new one, with the hook's headers."""
        self.session = session or requests.Session()
        self.session.headers.update(headers)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Mechanics the HTTP adapters share when they classify a failure; never the classification itself.

Each adapter's ``errors.py`` stays the one place that decides which of its system's answers is
fatal, retriable or skippable and under which code (STYLE.md habit 4). What lives here is only
what is the same for every system: scrubbing secrets out of a message, telling a transport
failure apart from an answer, reading ``Retry-After`` and wording an "unavailable" answer.
"""
from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any, Iterable, NoReturn, Optional

import requests
from urllib3.exceptions import NewConnectionError

from hub.errors import HubError, RetriableError


class TransportRetriable(RetriableError):
    """A RetriableError with what a retry decision needs (each system subclasses it under its own name)."""

    def __init__(self, code: str, message: str, where: str = "", *, unprocessed: bool = False,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(code, message, where)
        #: the server cannot have acted on the request: repeating even a write is safe
        self.unprocessed = unprocessed
        #: seconds the server asked us to wait (Retry-After), if it said
        self.retry_after = retry_after


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace any secret value that a server or library might echo back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def raise_scrubbed(cls: type[HubError], code: str, message: str, where: str, secrets: Iterable[str],
                   **kw: Any) -> NoReturn:
    raise cls(code, scrub(message, secrets), where, **kw)


def never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never established, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, NewConnectionError) or isinstance(getattr(cause, "reason", None), NewConnectionError)


def from_transport(exc: requests.RequestException, call: str, code: str, where: str, secrets: Iterable[str],
                   cls: type[TransportRetriable] = TransportRetriable) -> TransportRetriable:
    """A request that never produced a complete response: ``cls(code)``, worth a retry later."""
    if isinstance(exc, requests.Timeout):
        what = "timed out"
    elif isinstance(exc, requests.ConnectionError):
        what = "connection failed"
    else:  # e.g. ChunkedEncodingError: the connection broke in the middle of the body
        what = "request failed"
    # the exception text names host and path, never the body or headers (which carry the credentials)
    return cls(code, scrub(f"{call} {what}: {type(exc).__name__}: {exc}", secrets), where,
               unprocessed=never_sent(exc))


def retry_after_seconds(value: Optional[str], now: Optional[dt.datetime] = None) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds (fractions tolerated) or an HTTP date; None if absent/garbled."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def is_unavailable(status: int) -> bool:
    """HTTP 429 or 5xx: the server is (for now) unable or unwilling to serve."""
    return status == 429 or status >= 500


def unavailable(response: requests.Response, call: str, detail: str, code: str, where: str,
                secrets: Iterable[str], cls: type[TransportRetriable], *, code_429: Optional[str] = None,
                note_429: str = "rate limited, ") -> TransportRetriable:
    """The error for an answer :func:`is_unavailable` accepts; ``detail`` is the server's words.

    429 is refused before any work is done (``unprocessed``) and carries the server's Retry-After.
    """
    status = response.status_code
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        said = "absent" if wait is None else f"{wait:g}s"
        return cls(code_429 or code,
                   scrub(f"{call} answered HTTP 429 ({note_429}Retry-After {said}): {detail}; retry later", secrets),
                   where, unprocessed=True, retry_after=wait)
    return cls(code, scrub(f"{call} answered HTTP {status}: {detail}; retry later", secrets), where)

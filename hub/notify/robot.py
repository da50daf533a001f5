"""What the DingTalk and WeCom group robots have in common: text cut to their byte limits, and the
answer they give, HTTP 200 with ``{"errcode": 0}`` on success and a non-zero errcode otherwise."""
from __future__ import annotations

from typing import Any, Collection, Optional

from adapters.http_errors import scrub
from hub.errors import FatalError, RetriableError


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, cut on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit - 3].decode("utf-8", "ignore") + "..."


def read_answer(response: Any, where: str, *, system: str, retriable: Collection[int], hint: str,
                secret: Optional[str] = None) -> str:
    """``"sent"``, or the robot's refusal as ``<SYSTEM>_UNAVAILABLE`` / ``_BUSY`` (retriable) or
    ``_BAD_ANSWER`` / ``_REJECTED`` (fatal, ``hint`` says what to check). ``secret`` is masked in
    the robot's own message (a WeCom errmsg may quote the key)."""
    if response.status_code >= 500 or response.status_code == 429:
        raise RetriableError(f"{system}_UNAVAILABLE", f"the robot answered HTTP {response.status_code}", where)
    try:
        body = response.json()
        errcode = int(body.get("errcode"))
    except (ValueError, TypeError, AttributeError):
        raise FatalError(f"{system}_BAD_ANSWER", f"HTTP {response.status_code} without the robot's JSON answer",
                         where) from None
    if errcode == 0:
        return "sent"
    text = scrub(str(body.get("errmsg", ""))[:200], [secret or ""])
    if errcode in retriable:
        raise RetriableError(f"{system}_BUSY", f"errcode {errcode}: {text}", where)
    raise FatalError(f"{system}_REJECTED", f"errcode {errcode}: {text} ({hint})", where)

"""Reading request bodies: bounded while reading, parsed strictly.

The limit is enforced on the bytes actually received, not only on ``Content-Length``: a chunked
body (no length) or a lying length cannot make the hub buffer more than ``limit + one chunk``.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request

from hub.api.errors import ApiError

DEFAULT_MAX_BODY_BYTES = 1 << 20
#: deeper JSON is refused: no business document nests like this, and storing or validating it
#: again (JSON column, pydantic) must not run into Python's recursion limit
MAX_JSON_DEPTH = 64
_JSON_MEDIA = re.compile(r"^application/(?:[a-z0-9.+-]*\+)?json\s*(?:;.*)?$", re.IGNORECASE)


def too_large(limit: int, size: str) -> ApiError:
    return ApiError(413, "BODY_TOO_LARGE", f"request body of {size} exceeds the limit of {limit} bytes; "
                                           f"split the content into smaller requests")


def check_announced_length(request: Request, limit: int) -> None:
    """Refuse at once a body whose ``Content-Length`` is already over ``limit`` (nothing is read)."""
    announced = request.headers.get("content-length")
    if announced is None:
        return
    if not announced.strip().isdigit():
        raise ApiError(400, "BAD_CONTENT_LENGTH", "Content-Length is not a non-negative integer")
    if int(announced) > limit:
        raise too_large(limit, f"{int(announced)} bytes (Content-Length)")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes; ApiError 413 as soon as more arrives."""
    check_announced_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, f"more than {limit} bytes (counted while reading)")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json_media_type(request: Request) -> None:
    """Token endpoints take JSON only; a missing Content-Type is read as JSON."""
    media = request.headers.get("content-type")
    if media is not None and not _JSON_MEDIA.match(media.strip()):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE",
                       f"Content-Type must be application/json, got {media[:60]!r}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # two values for one key: which one counts would depend on the parser
            raise ValueError(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses as infinity
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; ApiError 400 BODY_MALFORMED naming the place of the problem."""
    if not body:
        raise ApiError(400, "BODY_MALFORMED", "the request has no body; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "BODY_MALFORMED", f"body is not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants,
                           parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "BODY_MALFORMED",
                       f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "BODY_MALFORMED", "body is not acceptable JSON: nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "BODY_MALFORMED", f"body is not acceptable JSON: {exc}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(400, "BODY_MALFORMED", f"body is not acceptable JSON: nested deeper than {MAX_JSON_DEPTH} "
                                              f"levels")
    return value


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in items)
    return deepest

"""Jiandaoyun data pushes (webhooks): verification and parsing as pure functions (no HTTP framework).

A push arrives as ``POST <url>?nonce=<random>&timestamp=<unix seconds>`` with the header
``X-JDY-Signature: sha1_hex(nonce + ":" + body + ":" + secret + ":" + timestamp)`` computed over
the raw body bytes (protocols/jiandaoyun.md §3) and a body ``{"op": ..., "data": {...}}``.

The ingress (the lead's ``POST /webhooks/jiandaoyun``) calls, in this order:

1. :func:`verify_delivery` with the raw body, the query parameters, the headers, the Connection's
   ``webhook_secret`` and a :class:`NonceGuard`; it runs every check in a fixed order (size,
   presence, signature, timestamp window, body shape, known form, then the nonce) and returns a
   :class:`WebhookEvent`, or raises :class:`adapters.jiandaoyun.errors.WebhookRejected` whose
   ``http_status`` the ingress answers with (401 signature / timestamp, 409 replayed nonce, 413
   oversized, 400 malformed, 422 unknown op or form) and whose ``as_line()`` is the JSON message;
2. stores the event keyed by ``event.delivery_id`` (a duplicate delivery id is a no-op) and
   answers 2xx at once - Jiandaoyun disables a push after 100 failures, so be fast;
3. later (the events DAG) :func:`handle_event` turns the stored event into canonical documents.

:func:`verify_signature` and :func:`parse_event` are the pieces, usable on their own.

Delivery id. The notes name no delivery id header, so ``delivery_id`` is ``jdy:`` + the sha256
of the raw body: a push delivered again (a retry with a fresh nonce and signature) has the same
body and so the same id, while any change to the record (a new ``updateTime``) makes a new one.
INFERRED: that Jiandaoyun re-sends the same body on retry.

Replay and staleness. The timestamp is signed, so it cannot be moved; deliveries older (or
further in the future) than ``max_age_seconds`` (default 300: the notes give no window) are
refused, and within the window a (nonce, timestamp) pair is accepted once. A store-backed guard
only has to remember nonces for the window. INFERRED risk: if Jiandaoyun retried a cached push
later than the window with its original signature, the retry would be refused as stale.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol, runtime_checkable

from adapters.jiandaoyun.config import JiandaoyunConfig
from adapters.jiandaoyun.errors import WebhookRejected
from adapters.jiandaoyun import translate
from canonical_model.documents import CanonicalDocument

SIGNATURE_HEADER = "X-JDY-Signature"
DEFAULT_MAX_AGE_SECONDS = 300
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: ops whose ``data`` is a whole record (the same shape as data/get, plus formName)
RECORD_OPS = ("data_create", "data_update", "data_recover")
OPS = RECORD_OPS + ("data_remove", "form_update", "data_test")
#: a nonce is short printable text (the notes' example: 8 hex digits); anything else is hostile
_NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{40}$")
WHERE = "jiandaoyun:webhook"


def compute_signature(body: bytes, nonce: str, timestamp: str, secret: str) -> str:
    """``sha1_hex(nonce:body:secret:timestamp)`` over the raw body bytes (lowercase hex)."""
    content = b":".join([nonce.encode("utf-8"), body, secret.encode("utf-8"), timestamp.encode("utf-8")])
    return hashlib.sha1(content).hexdigest()


def verify_signature(body: bytes, nonce: str, timestamp: str, signature: str, secret: str, *,
                     max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS, now: Optional[float] = None) -> None:
    """Check ``signature`` and the timestamp window; raise WebhookRejected, else return None.

    JDY_SIGNATURE_MISSING (a part absent or not of its form), JDY_SIGNATURE_INVALID (mismatch,
    compared in constant time), JDY_TIMESTAMP_STALE (valid signature, but older or further in the
    future than ``max_age_seconds`` from ``now``, default the clock). The signature is checked
    first, so a forged fresh timestamp is refused as invalid, not as stale."""
    if not secret:
        # a missing secret must not turn into "every signature over an empty secret is valid"
        raise WebhookRejected("JDY_SIGNATURE_INVALID", "no webhook_secret is configured in jiandaoyun_default; "
                                                       "every push is refused until it is set", WHERE)
    missing = [name for name, value, pattern in (("query parameter nonce", nonce, _NONCE_RE),
                                                 ("query parameter timestamp", timestamp, _TIMESTAMP_RE),
                                                 (f"header {SIGNATURE_HEADER}", signature, _SIGNATURE_RE))
               if not isinstance(value, str) or not pattern.match(value)]
    if missing:
        raise WebhookRejected("JDY_SIGNATURE_MISSING", f"missing or malformed {', '.join(missing)}; a Jiandaoyun push "
                                                       f"carries ?nonce=&timestamp= and {SIGNATURE_HEADER}", WHERE)
    expected = compute_signature(body, nonce, timestamp, secret)
    if not hmac.compare_digest(expected, signature.lower()):
        raise WebhookRejected("JDY_SIGNATURE_INVALID",
                              f"{SIGNATURE_HEADER} does not match the body (nonce {nonce}); check webhook_secret of "
                              f"jiandaoyun_default against the form's data-push secret", f"{WHERE}:nonce={nonce}")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > max_age_seconds:
        direction = "old" if age > 0 else "in the future"
        raise WebhookRejected("JDY_TIMESTAMP_STALE",
                              f"timestamp {timestamp} is {abs(int(age))} s {direction} (window {max_age_seconds} s); "
                              f"a replay or a clock out of sync", f"{WHERE}:nonce={nonce}")


@runtime_checkable
class NonceGuard(Protocol):
    """Replay detection: the store-backed implementation the ingress uses, or :class:`MemoryNonceGuard`.

    ``seen(nonce, timestamp)`` returns True when the pair was recorded before, else records it
    and returns False - atomically (a store does it with an INSERT on a unique key and reports
    the conflict). Pairs older than the staleness window may be forgotten: older timestamps are
    refused as stale before the guard is asked."""

    def seen(self, nonce: str, timestamp: int) -> bool:
        ...


class MemoryNonceGuard:
    """In-process :class:`NonceGuard` for tests and a single ingress process; forgets old pairs."""

    def __init__(self, max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int], int] = {}

    def seen(self, nonce: str, timestamp: int) -> bool:
        key = (nonce, int(timestamp))
        with self._lock:
            horizon = int(time.time()) - 2 * self.max_age_seconds
            if len(self._seen) > 1024:
                for old in [k for k, ts in self._seen.items() if ts < horizon]:
                    del self._seen[old]
            if key in self._seen:
                return True
            self._seen[key] = int(timestamp)
            return False


@dataclass(frozen=True)
class WebhookEvent:
    """One verified push. ``data`` is the record (or, for form_update, the form structure)."""

    delivery_id: str
    op: str
    entry_id: Optional[str]
    app_id: Optional[str]
    data_id: Optional[str]
    form_name: Optional[str]
    data: dict[str, Any] = field(repr=False)

    @property
    def form_id(self) -> Optional[str]:
        return self.entry_id

    @property
    def carries_record(self) -> bool:
        return self.op in RECORD_OPS

    def to_json(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "op": self.op, "entry_id": self.entry_id, "app_id": self.app_id,
                "data_id": self.data_id, "form_name": self.form_name, "data": self.data}


def delivery_id_of(body: bytes) -> str:
    return "jdy:" + hashlib.sha256(body).hexdigest()


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # two values for one key: which one a consumer sees would depend on the parser
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_event(body: bytes, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> WebhookEvent:
    """The event in a push body; WebhookRejected JDY_BODY_TOO_LARGE / JDY_BODY_MALFORMED / JDY_UNKNOWN_OP."""
    if not isinstance(body, (bytes, bytearray)):
        raise WebhookRejected("JDY_BODY_MALFORMED", "the body must be bytes as received", WHERE)
    body = bytes(body)
    if len(body) > max_bytes:
        raise WebhookRejected("JDY_BODY_TOO_LARGE", f"body of {len(body)} bytes exceeds the limit of {max_bytes}",
                              WHERE)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("JDY_BODY_MALFORMED", f"body is not UTF-8 (byte {exc.start})", WHERE) from None
    try:
        payload = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise WebhookRejected("JDY_BODY_MALFORMED", f"body is not JSON: {exc.msg} at line {exc.lineno} column "
                                                    f"{exc.colno}", WHERE) from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise WebhookRejected("JDY_BODY_MALFORMED", f"body is not acceptable JSON: {reason}", WHERE) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("JDY_BODY_MALFORMED", "body must be a JSON object {\"op\", \"data\"}", WHERE)
    op, data = payload.get("op"), payload.get("data")
    if not isinstance(op, str) or not op:
        raise WebhookRejected("JDY_BODY_MALFORMED", "body has no \"op\" string", WHERE)
    if op not in OPS:
        raise WebhookRejected("JDY_UNKNOWN_OP", f"op {op[:40]!r} is not one of {', '.join(OPS)}", WHERE)
    if not isinstance(data, dict):
        raise WebhookRejected("JDY_BODY_MALFORMED", f"{op}: \"data\" must be an object", WHERE)
    data_id = data.get("_id")
    if op in RECORD_OPS + ("data_remove",) and (not isinstance(data_id, str) or not data_id):
        raise WebhookRejected("JDY_BODY_MALFORMED", f"{op}: data has no record id \"_id\"", WHERE)

    def text_of(key: str) -> Optional[str]:
        value = data.get(key)
        return value if isinstance(value, str) and value else None

    return WebhookEvent(delivery_id=delivery_id_of(body), op=op, entry_id=text_of("entryId"), app_id=text_of("appId"),
                        data_id=data_id if isinstance(data_id, str) else None, form_name=text_of("formName"),
                        data=data)


def form_purpose(event: WebhookEvent, config: JiandaoyunConfig) -> Optional[str]:
    """The purpose of the event's form; None for events that name no form (remove, test, form
    update may not). WebhookRejected JDY_UNKNOWN_FORM for a form or app the hub does not know."""
    if event.app_id and event.app_id != config.app_id:
        raise WebhookRejected("JDY_UNKNOWN_FORM", f"{event.op} comes from app {event.app_id}, not the configured app "
                                                  f"{config.app_id}", f"{WHERE}:{event.data_id or '-'}")
    if event.entry_id is None:
        if event.carries_record:
            raise WebhookRejected("JDY_UNKNOWN_FORM", f"{event.op} names no form (entryId)",
                                  f"{WHERE}:{event.data_id or '-'}")
        return None
    purpose = config.purpose_of(event.entry_id)
    if purpose is None:
        name = f" ({event.form_name})" if event.form_name else ""
        raise WebhookRejected("JDY_UNKNOWN_FORM",
                              f"form {event.entry_id}{name} is none of the forms configured in jiandaoyun_default "
                              f"({', '.join(f'{p}_form' for p in config.forms) or 'none set'})",
                              f"{WHERE}:{event.data_id or '-'}")
    return purpose


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_delivery(body: bytes, params: Mapping[str, str], headers: Mapping[str, str], *,
                    config: JiandaoyunConfig, nonce_guard: NonceGuard, now: Optional[float] = None) -> WebhookEvent:
    """Everything the ingress checks before storing a push, in order (module doc); the event."""
    max_bytes = config.webhook_max_body_bytes
    if len(body) > max_bytes:
        raise WebhookRejected("JDY_BODY_TOO_LARGE", f"body of {len(body)} bytes exceeds the limit of {max_bytes}",
                              WHERE)
    nonce, timestamp = params.get("nonce"), params.get("timestamp")
    signature = _header(headers, SIGNATURE_HEADER)
    secret = config.webhook_secret.get_secret_value() if config.webhook_secret is not None else ""
    verify_signature(body, nonce or "", timestamp or "", signature or "", secret,
                     max_age_seconds=config.webhook_max_age_seconds, now=now)
    event = parse_event(body, max_bytes=max_bytes)
    form_purpose(event, config)
    if nonce_guard.seen(str(nonce), int(str(timestamp))):
        raise WebhookRejected("JDY_NONCE_REPLAYED", f"nonce {nonce} with timestamp {timestamp} was delivered before; "
                                                    f"a replayed push is not processed twice", f"{WHERE}:nonce={nonce}")
    return event


def handle_event(event: WebhookEvent, config: Optional[JiandaoyunConfig] = None) -> list[CanonicalDocument]:
    """Canonical documents of a stored event (through mappings/jiandaoyun/<purpose>.yaml).

    Record events (create, update, recover) of a known form map like a pulled record; a task the
    supplier has not answered yet maps to nothing. ``data_remove``, ``form_update`` and
    ``data_test`` carry no business document: an empty list (a removed ASN needs the stored
    version to be withdrawn - the caller's decision). Unknown form or app: WebhookRejected
    JDY_UNKNOWN_FORM (a SkippableError); a record the mapping refuses: its SkippableError."""
    config = config or JiandaoyunConfig.from_conn_id()
    purpose = form_purpose(event, config)
    if not event.carries_record or purpose is None:
        return []
    return translate.to_documents(event.data, purpose, config, ref=event.delivery_id)

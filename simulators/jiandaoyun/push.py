"""Signed data pushes (webhooks) exactly as Jiandaoyun sends them (protocols/jiandaoyun.md §3).

``POST <url>?nonce=<random>&timestamp=<unix seconds>`` with ``Content-Type: application/json``,
header ``X-JDY-Signature: sha1_hex(nonce + ":" + body + ":" + secret + ":" + timestamp)`` over the
body bytes exactly as sent, and a body ``{"op": "<event>", "data": {...}}``.

``python -m simulators.jiandaoyun push URL --op data_update --file record.json`` sends one from
the command line (secret from ``JIANDAOYUN_SIM_WEBHOOK_SECRET``, else the DEMO-ONLY default).

INFERRED: the nonce is 8 random hex characters as in the notes' example; a retry is a new
delivery of the same body with a fresh nonce and timestamp (so it is signed anew); retries
happen 3 times with back-off (the notes: timing not published).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets as secrets_module
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import requests

WEBHOOK_SECRET_ENV = "JIANDAOYUN_SIM_WEBHOOK_SECRET"
#: DEMO ONLY - the data-push secret of the simulator's forms, public and documented; it protects
#: nothing and must never be configured on a real Jiandaoyun form.
DEMO_WEBHOOK_SECRET = "demo-only-jdy-webhook-secret"
OPS = ("data_create", "data_update", "data_remove", "data_recover", "form_update", "data_test")


def default_secret() -> str:
    return os.environ.get(WEBHOOK_SECRET_ENV) or DEMO_WEBHOOK_SECRET


def sign(nonce: str, body: bytes, secret: str, timestamp: str) -> str:
    """The ``X-JDY-Signature`` value: lowercase sha1 hex of ``nonce:body:secret:timestamp``."""
    content = b":".join([nonce.encode("utf-8"), body, secret.encode("utf-8"), timestamp.encode("utf-8")])
    return hashlib.sha1(content).hexdigest()


def event_body(op: str, data: dict[str, Any]) -> bytes:
    """The push body as Jiandaoyun serialises it (INFERRED: compact JSON, UTF-8, no ASCII escaping)."""
    return json.dumps({"op": op, "data": data}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class PushResult:
    url: str
    #: HTTP status of the last attempt (None: no answer at all)
    status: Optional[int]
    body: str
    attempts: int
    #: (nonce, timestamp) of every attempt, in order
    deliveries: list[tuple[str, str]] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "body": self.body[:500], "attempts": self.attempts,
                "deliveries": [list(d) for d in self.deliveries], "error": self.error, "ok": self.ok}


def push_webhook(url: str, event: Union[dict[str, Any], bytes], secret: Optional[str] = None, *,
                 nonce: Optional[str] = None, timestamp: Optional[Union[int, str]] = None, retries: int = 0,
                 backoff: float = 0.5, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> PushResult:
    """Send one signed push of ``event`` (``{"op", "data"}`` or raw body bytes) to ``url``.

    ``nonce``/``timestamp`` default to fresh values (tests pin them to build stale or replayed
    deliveries); on a non-2xx answer or no answer it tries ``retries`` more times, each a fresh
    nonce and timestamp, pausing ``backoff`` doubling."""
    body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False,
                                                             separators=(",", ":")).encode("utf-8")
    secret = default_secret() if secret is None else secret
    result = PushResult(url=url, status=None, body="", attempts=0)
    for attempt in range(retries + 1):
        this_nonce = nonce if (nonce is not None and attempt == 0) else secrets_module.token_hex(4)
        this_ts = str(timestamp) if (timestamp is not None and attempt == 0) else str(int(time.time()))
        result.attempts += 1
        result.deliveries.append((this_nonce, this_ts))
        try:
            response = requests.post(url, params={"nonce": this_nonce, "timestamp": this_ts}, data=body,
                                     headers={"Content-Type": "application/json",
                                              "X-JDY-Signature": sign(this_nonce, body, secret, this_ts)},
                                     timeout=timeout)
            result.status, result.body, result.error = response.status_code, response.text, None
        except requests.RequestException as exc:
            result.status, result.body, result.error = None, "", f"{type(exc).__name__}: {exc}"
        if result.ok:
            return result
        if attempt < retries:
            sleep(backoff * (2 ** attempt))
    return result


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.jiandaoyun push",
                                     description="Send one signed Jiandaoyun data push to URL.")
    parser.add_argument("url")
    parser.add_argument("--op", default="data_update", choices=OPS)
    parser.add_argument("--file", help="JSON file: the record ('data'), or a whole {op, data} event; '-' = stdin")
    parser.add_argument("--retries", type=int, default=0)
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.file in (None, "-") else open(args.file, encoding="utf-8").read()
    payload = json.loads(text)
    event = payload if isinstance(payload, dict) and "op" in payload and "data" in payload else \
        {"op": args.op, "data": payload}
    result = push_webhook(args.url, event, retries=args.retries)
    print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0 if result.ok else 1

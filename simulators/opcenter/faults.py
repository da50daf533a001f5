"""Faults the Opcenter simulator can inject, armed in-process or through ``POST /__sim/faults``.

| kind | what the client sees |
| --- | --- |
| ``latency`` | the answer comes ``delay`` seconds late (the call still works) |
| ``http500`` / ``http503`` | HTTP 500 / 503 with an HTML body (IIS style) |
| ``http429`` | HTTP 429 with ``Retry-After: <retry_after>`` |
| ``token_expired`` | every issued token is revoked, so this call gets HTTP 401 |
| ``malformed_json`` | HTTP 200 ``application/json`` whose body is cut off |
| ``xml_bomb`` | HTTP 200 ``application/xml``: an entity-expansion ("billion laughs") document |
| ``xml_xxe`` | HTTP 200 ``application/xml``: a document with an external entity (``file:///etc/passwd``) |
| ``reset`` | status line, headers, half the body, then a TCP reset |
| ``disconnect`` | the connection is closed without any answer |
| ``timeout`` | the request is held (until released or a cap) and then dropped |

``service`` limits a fault to one entity set, command or ``$metadata`` (the last path segment,
case-insensitive) or ``token`` (the token endpoint). ``after: true`` lets the call do its work
first (a command creates its object) and then spoils the answer: the "answer lost" cases that
idempotent pushes must survive. Only ``http500``, ``http503``, ``malformed_json``, ``reset``,
``disconnect`` and ``timeout`` honour ``after``; ``reset`` defaults to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from simulators import faults as shared

KINDS = ("latency", "http500", "http503", "http429", "token_expired", "malformed_json", "xml_bomb", "xml_xxe",
         "reset", "disconnect", "timeout")
AFTER_KINDS = ("http500", "http503", "malformed_json", "reset", "disconnect", "timeout")


@dataclass
class Fault(shared.ServiceFault):
    """``service``: an entity set, a command, ``$metadata`` or ``token``."""

    KINDS = KINDS
    AFTER_KINDS = AFTER_KINDS

    fired: int = field(default=0)


class FaultBook(shared.FaultBook):
    fault_class = Fault

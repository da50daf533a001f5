"""``GET /metrics``: the hub's counts (hub/metrics.py) as Prometheus text 0.0.4, for scraping.

No authentication: Prometheus scrapes the ingress on 127.0.0.1 (``hub serve``'s default host).
The page carries partner ids, reason codes, targets and alert types, never payloads or
secrets; still, if the ingress listens on another address, put /metrics behind the reverse
proxy's access rules (or do not route it outward).

Left out of /openapi.json: it is an operations endpoint, not part of the contract partners post
to, and its text body is not something the schemathesis test should be asked to generate for.
"""
from __future__ import annotations

from typing import Callable

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from canonical_model.store import Store
from hub.metrics import CONTENT_TYPE, collect, render_prometheus

PATH = "/metrics"


def metrics_text(store: Store) -> str:
    with store.session() as session:
        return render_prometheus(collect(session))


def register(app: FastAPI, store: Callable[[], Store]) -> None:
    """Add ``GET /metrics`` to ``app``, reading ``store()`` on each scrape; a second call is a no-op.

    ``store`` is a callable because the ingress opens its store at start-up (lifespan)."""
    if any(getattr(route, "path", None) == PATH for route in app.routes):
        return

    async def metrics() -> Response:
        text = await run_in_threadpool(metrics_text, store())
        return Response(content=text, media_type=CONTENT_TYPE)

    app.add_api_route(PATH, metrics, methods=["GET"], include_in_schema=False)

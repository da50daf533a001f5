"""GET /metrics on the ingress app: Prometheus text from the store, no token, not in /openapi.json."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from canonical_model.store import quarantine
from canonical_model.store.tables import InboxRow
from hub.api import create_app
from hub.api import metrics_route
from tests.hub.api.support import set_connections
from tests.hub.test_metrics import key, parse


@pytest.fixture
def ingress(sqlite_store, monkeypatch):
    set_connections(monkeypatch)
    app = create_app(sqlite_store, trigger=None, connection_ttl_seconds=0)
    # a no-op once create_app registers the route itself
    metrics_route.register(app, lambda: sqlite_store)
    with TestClient(app) as client:
        yield client


def test_metrics_are_served_as_prometheus_text_without_a_token(ingress, sqlite_store):
    partner = 'SUP"\n供应商'
    with sqlite_store.session() as s:
        s.add(InboxRow(channel="sftp", partner=partner, name="f", sha256="a" * 64, size=1))
        quarantine.add(s, reason_code="EDI_SYNTAX", location="l", message="m", partner=partner, evidence={"x": 1})
    answer = ingress.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples, _ = parse(answer.content.decode("utf-8"))
    assert samples == {key("hub_documents_in_total", partner=partner, channel="sftp"): 1,
                       key("hub_quarantined_open", partner=partner, reason="EDI_SYNTAX"): 1}


def test_each_scrape_reads_the_store_again(ingress, sqlite_store):
    assert parse(ingress.get("/metrics").text)[0] == {}
    with sqlite_store.session() as s:
        s.add(InboxRow(channel="sftp", partner="SUP-001", name="f", sha256="b" * 64, size=1))
    assert parse(ingress.get("/metrics").text)[0] == {
        key("hub_documents_in_total", partner="SUP-001", channel="sftp"): 1}


def test_metrics_is_not_in_the_openapi_contract(ingress):
    assert "/metrics" not in ingress.get("/openapi.json").json()["paths"]


def test_other_methods_and_query_strings(ingress):
    refused = ingress.post("/metrics", content=b"x")
    assert refused.status_code == 405 and refused.json()["error"] == "METHOD_NOT_ALLOWED"
    # Prometheus may add query parameters; they are ignored
    assert ingress.get("/metrics?name[]=hub_alerts_open&x=%00").status_code == 200


def test_registering_twice_adds_one_route(sqlite_store, monkeypatch):
    set_connections(monkeypatch)
    app = create_app(sqlite_store, trigger=None, connection_ttl_seconds=0)
    metrics_route.register(app, lambda: sqlite_store)
    metrics_route.register(app, lambda: sqlite_store)
    assert [getattr(r, "path", None) for r in app.routes].count("/metrics") == 1

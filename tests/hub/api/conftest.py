"""Fixtures for the ingress API: Connections in the environment, an app on the test store, a client."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from tests.hub.api.support import set_connections


@pytest.fixture
def connections(monkeypatch):
    set_connections(monkeypatch)


@pytest.fixture
def app(store, connections):
    return create_app(store, trigger=None, connection_ttl_seconds=0)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client

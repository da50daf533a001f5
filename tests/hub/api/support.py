"""Shared by the ingress tests and the events-flow tests: Connections, signed pushes, a real server."""
from __future__ import annotations

import datetime as dt
import json
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Optional

import uvicorn
from sqlalchemy import select

from canonical_model.documents import PurchaseOrder, PurchaseOrderLine
from canonical_model.store import Store, documents
from canonical_model.store.tables import EventRow
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, sign

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "tests" / "adapters" / "jiandaoyun" / "samples"

# distinctive values: finding one in an answer or a log line is meaningful
SECRET = "jdy-ingress-Secret-7d21e0"
API_KEY = "jdy-api-Key-91c3aa"
WMS_TOKEN = "wms-ingress-Tok-3f9a1c"
WMS_OPENID = "wms-openid-Outbound-52ab"
OPCENTER_TOKEN = "mes-ingress-Tok-6b20d4"
OPCENTER_SECRET = "mes-client-Secret-0c7e55"
SUPPLIER_TOKENS = {"SUP-001": "sup001-api-Tok-a81f30", "SUP-002": "sup002-api-Tok-5c0e77"}
ALL_SECRETS = (SECRET, API_KEY, WMS_TOKEN, WMS_OPENID, OPCENTER_TOKEN, OPCENTER_SECRET, *SUPPLIER_TOKENS.values())


def jiandaoyun_connection(forms: Optional[dict[str, str]] = None, secret: Optional[str] = SECRET) -> str:
    extra: dict[str, Any] = {"app_id": DEMO_APP_ID, **{f"{p}_form": f for p, f in (forms or DEMO_FORMS).items()}}
    if secret is not None:
        extra["webhook_secret"] = secret
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "http", "password": API_KEY,
                       "extra": extra})


def set_connections(monkeypatch) -> None:
    """Every Connection the ingress and the events flow read, as AIRFLOW_CONN_* JSON."""
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_connection())
    monkeypatch.setenv("AIRFLOW_CONN_WMS_DEFAULT", json.dumps({
        "conn_type": "wms", "host": "127.0.0.1", "port": 9, "password": WMS_OPENID,
        "extra": {"dialect": "greaterwms", "ingress_token": WMS_TOKEN}}))
    monkeypatch.setenv("AIRFLOW_CONN_OPCENTER_DEFAULT", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "http", "login": "hub-client",
        "password": OPCENTER_SECRET, "extra": {"ingress_token": OPCENTER_TOKEN, "timezone": "Asia/Shanghai"}}))
    for partner, token in SUPPLIER_TOKENS.items():
        conn_id = "SUPPLIER_API_" + partner.replace("-", "")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps({"conn_type": "http", "login": partner,
                                                                  "password": token}))
    monkeypatch.delenv("HUB_AIRFLOW_API_URL", raising=False)
    monkeypatch.setenv("HUB_ERP", "kingdee")


def sample(name: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data[0] if isinstance(data, list) else data


def push_body(record: dict[str, Any], op: str = "data_update") -> bytes:
    """A push body as Jiandaoyun serialises it (compact UTF-8 JSON; the simulator's shape)."""
    return json.dumps({"op": op, "data": record}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed(body: bytes, *, secret: str = SECRET, nonce: Optional[str] = None,
           timestamp: Optional[int] = None) -> tuple[dict[str, str], dict[str, str]]:
    """(query parameters, headers) of a push signed as Jiandaoyun signs it."""
    nonce = nonce or secrets.token_hex(4)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return ({"nonce": nonce, "timestamp": stamp},
            {"X-JDY-Signature": sign(nonce, body, secret, stamp), "Content-Type": "application/json"})


def event_rows(store: Store) -> list[EventRow]:
    with store.session() as session:
        return list(session.scalars(select(EventRow).order_by(EventRow.id)))


def seed_purchase_order(store: Store) -> None:
    """CGDD000101 from SUP-001: what the Jiandaoyun ASN sample ships against (lines 1 and 3)."""
    po = PurchaseOrder(po_number="CGDD000101", supplier_id="SUP-001", order_date=dt.date(2026, 11, 20), lines=[
        PurchaseOrderLine(line_no=1, material_id="1.02.0033", quantity=Decimal(500), uom="H87",
                          delivery_date=dt.date(2026, 11, 29)),
        PurchaseOrderLine(line_no=2, material_id="1.02.0041", quantity=Decimal(300), uom="H87",
                          delivery_date=dt.date(2026, 11, 29)),
        PurchaseOrderLine(line_no=3, material_id="1.03.0100", quantity=Decimal(600), uom="H87",
                          delivery_date=dt.date(2026, 11, 29))])
    with store.session() as session:
        documents.upsert(session, po, actor="test")


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on a real uvicorn server at 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

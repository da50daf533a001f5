"""Local receivers: an SMTP sink (aiosmtpd) and an HTTP robot endpoint, both on 127.0.0.1 free ports."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from canonical_model.documents import Alert, SubjectRef


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """Collects every message; optionally demands AUTH LOGIN/PLAIN with one login and password."""

    def __init__(self, login=None, password=None):
        self.messages = []
        self.logins = []
        self.expected = (login, password)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(login)
        # handled=False: aiosmtpd answers 535 itself and keeps the session, as real servers do
        return AuthResult(success=(login, password) == self.expected, handled=False)


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    sinks = []

    def start(login=None, password=None):
        sink = SmtpSink(login, password)
        kwargs = {"authenticator": sink.authenticate, "auth_require_tls": False} if login else {}
        controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        sinks.append(controller)
        return sink, controller.port

    yield start
    for controller in sinks:
        controller.stop()


class Robot:
    """What a robot webhook received: path, query and JSON body of each POST; answers are queued."""

    def __init__(self):
        self.requests = []
        self.answers = []

    def answer(self, status=200, body=None):
        self.answers.append((status, body if body is not None else {"errcode": 0, "errmsg": "ok"}))


@pytest.fixture
def robot():
    state = Robot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = urlsplit(self.path)
            state.requests.append({"path": url.path, "query": parse_qs(url.query), "raw_query": url.query,
                                   "json": json.loads(raw.decode("utf-8")),
                                   "content_type": self.headers.get("Content-Type")})
            status, body = state.answers.pop(0) if state.answers else (200, {"errcode": 0, "errmsg": "ok"})
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert():
    return Alert(alert_id="SHORT_SHIPMENT:SUP-001:ASN-1:PO-1:2", alert_type="SHORT_SHIPMENT", severity="warning",
                 responsible_party="buyer", status="open",
                 subjects=[SubjectRef(type="PurchaseOrder", key="PO-1"),
                           SubjectRef(type="ShipmentNotice", key="SUP-001/ASN-1")],
                 message=("ASN ASN-1 ships 40 H87 of M-2 for PO PO-1 line 2, ordered 50: 10 short. Next: supplier "
                          "SUP-001 confirms a delivery date for the rest, or the buyer reduces the PO."))

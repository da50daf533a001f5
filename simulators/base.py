"""A tiny harness to run protocol simulators as real HTTP servers on 127.0.0.1.

Simulators are real servers (stdlib ``ThreadingHTTPServer``) so the adapters talk to them
over real sockets, exactly as they would to the real system. Tests bind port 0 and read the
port back; the demo and ``make up`` bind fixed ports from settings.
"""
from __future__ import annotations

import socket
import struct
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable, Iterator, Optional


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], state: object) -> None:
        super().__init__(address, handler)
        #: the simulated system's data; handlers reach it as ``self.server.state``
        self.state = state

    def serve_until_interrupted(self) -> None:
        """Foreground serving for ``python -m simulators.<system>``: Ctrl-C stops cleanly."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ConnectionControlMixin:
    """Answer writing, body reading and the connection tricks faults need, for the simulators'
    ``BaseHTTPRequestHandler`` subclasses (listed first among the bases)."""

    def write_answer(self, status: int, ctype: str, raw: bytes, headers: Optional[dict[str, str]] = None,
                     body: Optional[bytes] = None, cookies: Iterable[str] = ()) -> None:
        """Status, headers announcing ``raw``, then ``body`` (default ``raw``; shorter for a cut-off answer)."""
        self.send_response(status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(raw)))  # type: ignore[attr-defined]
        for name, value in (headers or {}).items():
            self.send_header(name, value)  # type: ignore[attr-defined]
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)  # type: ignore[attr-defined]
        if self.close_connection:  # type: ignore[attr-defined]
            self.send_header("Connection", "close")  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        self.wfile.write(raw if body is None else body)  # type: ignore[attr-defined]

    def drop_connection(self) -> None:
        """Close the connection without any answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        except OSError:
            pass

    def reset_connection(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), the way a crashing proxy does."""
        self.close_connection = True
        try:
            self.wfile.flush()  # type: ignore[attr-defined]
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # type: ignore[attr-defined]
            self.connection.close()  # type: ignore[attr-defined]
        except OSError:
            pass

    def read_sized_body(self, max_bytes: int, hard_limit: int, refuse: Callable[[str, int], None],
                        missing_length: int = -1) -> Optional[bytes]:
        """The body announced by Content-Length, or None after an answer was given.

        ``refuse(reason, length)`` answers a refusal (the connection is already marked to close):
        ``"chunked"`` (no length), ``"length"`` (missing or not a number; a missing header counts
        as ``missing_length``) or ``"too_large"`` (over ``max_bytes``; drained first so the client
        reads the answer instead of a reset). Over ``hard_limit`` the connection is just dropped.
        """
        headers = self.headers  # type: ignore[attr-defined]
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            refuse("chunked", -1)
            return None
        length_text = headers.get("Content-Length")
        try:
            length = int(length_text) if length_text is not None else missing_length
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            refuse("length", length)
            return None
        if length > max_bytes:
            self.close_connection = True
            if length > hard_limit:
                self.drop_connection()
                return None
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))  # type: ignore[attr-defined]
                if not chunk:
                    break
                remaining -= len(chunk)
            refuse("too_large", length)
            return None
        return self.rfile.read(length) if length else b""  # type: ignore[attr-defined]


@contextmanager
def running(server: SimulatorServer) -> Iterator[SimulatorServer]:
    """Serve in a background thread for the duration of the block, then shut down cleanly."""
    thread = threading.Thread(target=server.serve_forever, name=type(server).__name__, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

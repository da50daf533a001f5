"""A tiny harness to run protocol simulators as real HTTP servers on 127.0.0.1.

Simulators are real servers (stdlib ``ThreadingHTTPServer``) so the adapters talk to them
over real sockets, exactly as they would to the real system. Tests bind port 0 and read the
port back; the demo and ``make up`` bind fixed ports from settings.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


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

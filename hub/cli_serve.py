"""``hub serve``: run the ingress API (hub/api) with uvicorn.

Registered in hub/cli.py with ``app.command("serve")(serve)``. It reads the same Connections as
the rest of the hub (``AIRFLOW_CONN_*`` first, then Airflow's store): ``jiandaoyun_default``
(extra ``webhook_secret``), ``wms_default`` / ``opcenter_default`` (extra ``ingress_token``),
``supplier_api_<partner>`` (password), and the store at ``HUB_DATABASE_URL``. With
``HUB_AIRFLOW_API_URL`` set, each accepted event asks Airflow to run the ``events`` DAG.
"""
from __future__ import annotations

import typer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700


def serve(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="address to listen on (0.0.0.0 only behind TLS)"),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="TCP port"),
    max_body_bytes: int = typer.Option(1 << 20, "--max-body-bytes", min=1024, help="request body limit"),
) -> None:
    """Start the ingress API for pushed events (Jiandaoyun webhooks, WMS, Opcenter, supplier ASNs)."""
    import uvicorn

    from hub.api import create_app
    from hub.logs import configure_logging

    configure_logging(default_level="INFO")
    app = create_app(max_body_bytes=max_body_bytes)
    # the access log shows method, path and query (nonce/timestamp: not secrets), never headers;
    # log_config=None: uvicorn's records go to the hub's handler (format, masking) rather than its own
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None, proxy_headers=False,
                server_header=False)

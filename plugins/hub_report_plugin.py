"""Airflow 3 plugin: the hub report (``hub report``) and the GX Data Docs, inside the Airflow UI.

A FastAPI app mounted by the API server at ``/hub-report`` serves two folders of ``HUB_VAR_DIR``
and nothing else (var/ also holds the raw archive and the demo's secrets):

* ``/hub-report/report/``   var/report/ (``index.html`` written by ``hub report``)
* ``/hub-report/gx/gx/uncommitted/data_docs/``   var/gx/.../data_docs/ (written by the data_quality DAG);
  the report links it relatively, so the same link works from disk and from here.

An external view adds "Hub report" to the UI's Browse menu, shown inside the UI (iframe).
Airflow does not protect plugin apps by itself: every route here asks Airflow's own
authentication (the UI's JWT cookie or a bearer token) before it answers.

Airflow finds this file through ``AIRFLOW__CORE__PLUGINS_FOLDER`` (the repo's plugins/).
"""
from __future__ import annotations

import os
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/hub-report"
DOCS_SUBPATH = "gx/gx/uncommitted/data_docs"


def var_dir() -> Path:
    # the same rule as canonical_model.store.db.var_dir, without importing the store (SQLAlchemy, Alembic)
    # into every Airflow process that loads plugins
    return Path(os.environ.get("HUB_VAR_DIR", "var")).resolve()


async def signed_in(request: Request) -> None:
    """Airflow's own check of the caller (bearer token or the UI's cookie); 401/403 otherwise."""
    from fastapi.security import HTTPBearer

    from airflow.api_fastapi.core_api.security import get_user

    bearer = await HTTPBearer(auto_error=False)(request)
    await get_user(request, None, bearer)


def serve_file(root: Path, relative: str) -> FileResponse:
    """A file under ``root`` (a folder's index.html for a folder); 404 for anything outside or missing."""
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise HTTPException(status_code=404)
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        raise HTTPException(status_code=404)
    return FileResponse(target)


def create_app(var: Path | None = None) -> FastAPI:
    var = var or var_dir()
    report_dir, docs_dir = var / "report", var / DOCS_SUBPATH
    app = FastAPI(title="mes-hub report", dependencies=[Depends(signed_in)], docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        # relative, so it works behind a proxy that mounts Airflow under a sub-path
        return RedirectResponse("report/")

    @app.get("/report/{path:path}", response_model=None)
    async def report(path: str) -> FileResponse | HTMLResponse:
        if path in ("", "index.html") and not (report_dir / "index.html").is_file():
            return HTMLResponse("<!DOCTYPE html><title>mes-hub report</title><p>No report yet: run "
                                "<code>hub report</code> on the hub machine.</p>", status_code=404)
        return serve_file(report_dir, path)

    @app.get(f"/{DOCS_SUBPATH}/{{path:path}}")
    async def data_docs(path: str) -> FileResponse:
        return serve_file(docs_dir, path)

    return app


class HubReportPlugin(AirflowPlugin):
    name = "hub_report"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "mes-hub report"}]
    external_views = [{
        "name": "Hub report",
        # no leading slash: relative to the UI's base URL
        "href": "hub-report/report/",
        "destination": "nav",
        "category": "browse",
        "url_route": "hub_report",
    }]

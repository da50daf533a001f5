"""EXTENSION: the simulator's admin endpoints (not Jiandaoyun; simulator only, no auth, 127.0.0.1).

| call | body | answer |
| --- | --- | --- |
| ``GET /__sim/faults`` | | ``{"faults": [armed faults]}`` |
| ``POST /__sim/faults`` | a fault (``{"kind": "rate_limit", "count": 2, "route": "data/list"}``), ``{"faults": [...]}``, ``{"clear": true}`` and/or ``{"rng_seed": 7}`` | ``{"faults": [...]}`` |
| ``POST /__sim/limits`` | ``{"limits": {"app/entry/data/list": 2}, "global": 50}`` (``null`` = unlimited) | the limits |
| ``POST /__sim/clock`` | ``{"now": "2026-11-25T09:00:00+08:00"}`` or ``{"now": null}`` (real time) | ``{"now"}`` |
| ``POST /__sim/seed`` | ``{"seed": "demo"}`` | forms per purpose |
| ``GET /__sim/stats`` | | records per form, calls, pushes |
| ``GET /__sim/records?entry_id=<form>`` | | ``{"records": [...]}`` in ``_id`` order |
| ``POST /__sim/webhooks`` | ``{"entry_id", "url", "secret"?}`` (``"url": null`` removes) | the form's push setting (secret hidden) |
| ``POST /__sim/ui/create`` | ``{"entry_id", "data": {plain values}, "user"?}`` | ``{"record", "push"}`` |
| ``POST /__sim/ui/update`` | ``{"entry_id", "data_id", "data", "user"?}`` | ``{"record", "push"}`` |
| ``POST /__sim/ui/delete`` | ``{"entry_id", "data_id", "user"?}`` | ``{"record", "push"}`` |
| ``POST /__sim/push`` | ``{"entry_id", "data_id", "op"?, "url"?}``: push a stored record again | ``{"push"}`` |

The ``ui/*`` calls are what a user in the browser does: unlike the API they fire the form's data
push (signed, ``push.py``; 3 retries with back-off) to the registered URL and report its answer
in ``push`` (``null`` when the form has no push URL). ``data`` takes plain values
(``{"response": "接受", "lines": [{"_id": ..., "line_response": "修改", ...}]}``): a subform given
replaces the record's subform wholesale, as in the browser's save; ``null`` values are left out
(an empty field), so a record read back can be sent again. Bad input answers HTTP 400.
"""
from __future__ import annotations

from typing import Any

from simulators import admin as shared
from simulators.jiandaoyun.forms import DEMO_FORMS, JdyError, utc_text

PREFIX = shared.PREFIX



def handle(state: Any, method: str, path: str, query: str, raw: bytes) -> tuple[int, Any]:
    routes = {**shared.fault_routes(), ("POST", "limits"): _limits, ("POST", "clock"): _clock,
              ("POST", "seed"): _seed, ("GET", "stats"): _stats, ("GET", "records"): _records,
              ("POST", "webhooks"): _webhooks, ("POST", "ui/create"): _ui_create, ("POST", "ui/update"): _ui_update,
              ("POST", "ui/delete"): _ui_delete, ("POST", "push"): _push}
    return shared.dispatch(state, method, path, raw, routes, query=query,
                           refusals=(JdyError, ValueError, TypeError, KeyError), describe=_refusal)


def _refusal(exc: Exception) -> dict[str, Any]:
    return {"error": exc.msg, "code": exc.code} if isinstance(exc, JdyError) else {"error": str(exc)}


def _limits(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    limits = body.get("limits") or {}
    if not isinstance(limits, dict):
        raise ValueError("limits must be an object {route: per_second}")
    for route, value in limits.items():
        if value is not None and (isinstance(value, bool) or float(value) <= 0):
            raise ValueError(f"limit of {route} must be a positive number or null")
    with state.lock:
        state.limits.update({str(k): (None if v is None else float(v)) for k, v in limits.items()})
        if "global" in body:
            value = body["global"]
            state.global_limit = None if value is None else float(value)
        return {"limits": dict(state.limits), "global": state.global_limit}


def _clock(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    state.set_now(body.get("now"))
    return {"now": utc_text(state.now())}


def _seed(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    from simulators.jiandaoyun.server import seed_demo

    if body.get("seed") != "demo":
        raise ValueError("seed must be 'demo'")
    if DEMO_FORMS["purchase_task"] not in state.forms:
        seed_demo(state)
    return {"forms": DEMO_FORMS}


def _stats(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        return {"forms": {entry_id: {"name": spec.name, "records": len(state.records[entry_id])}
                          for entry_id, spec in state.forms.items()},
                "calls": len(state.calls), "pushes": len(state.pushes)}


def _form(state: Any, body: dict[str, Any]) -> Any:
    entry_id = body.get("entry_id")
    spec = state.forms.get(entry_id) if isinstance(entry_id, str) else None
    if spec is None:
        raise ValueError(f"no form {entry_id!r}")
    return spec


def _records(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {"records": state.all_records(_form(state, body).entry_id)}


def _webhooks(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    spec = _form(state, body)
    url = body.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ValueError("url must be an http(s) URL or null")
    state.set_hook(spec.entry_id, url, body.get("secret"))
    return {"entry_id": spec.entry_id, "url": url}


def _user(body: dict[str, Any]) -> dict[str, Any]:
    from simulators.jiandaoyun.server import portal_user

    return portal_user(str(body.get("user") or "portal_user"))


def _ui_create(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    from simulators.jiandaoyun.server import wrap

    spec = _form(state, body)
    record = state.create(spec, wrap(_plain(body)), user=_user(body))
    push = state.push_record(spec.entry_id, "data_create", record)
    return {"record": record, "push": push.to_json() if push else None}


def _ui_update(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    from simulators.jiandaoyun.server import wrap

    spec = _form(state, body)
    record = state.update(spec, body.get("data_id"), wrap(_plain(body)), user=_user(body))
    push = state.push_record(spec.entry_id, "data_update", record)
    return {"record": record, "push": push.to_json() if push else None}


def _ui_delete(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    spec = _form(state, body)
    record = state.delete(spec, body.get("data_id"))
    removed = {"_id": record["_id"], "appId": record["appId"], "entryId": record["entryId"],
               "deleter": _user(body), "deleteTime": utc_text(state.now())}
    push = state.push_record(spec.entry_id, "data_remove", removed)
    return {"record": record, "push": push.to_json() if push else None}


def _push(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    spec = _form(state, body)
    op = str(body.get("op") or "data_update")
    record = state.get(spec, body.get("data_id"))
    push = state.push_record(spec.entry_id, op, record, url=body.get("url"))
    if push is None:
        raise ValueError(f"form {spec.entry_id} has no push URL; POST /__sim/webhooks first or give url")
    return {"push": push.to_json()}


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    """The browser's save: a field left empty is simply not sent (the API refuses a null datetime)."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise ValueError("data must be an object of plain field values")

    def strip(values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
                value = [strip(row) for row in value]
            out[key] = value
        return out
    return strip(data)

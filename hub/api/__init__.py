"""The ingress API for pushed events (Jiandaoyun webhooks, WMS, Opcenter, supplier ASNs); see app.py.

``create_app`` is imported lazily: the events flow reads the request models without loading FastAPI.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hub.api.app import create_app

        return create_app
    raise AttributeError(name)

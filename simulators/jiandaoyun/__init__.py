"""Jiandaoyun (简道云) Open API v5 + data-push simulator; see ``server.py`` for what is faithful and what is inferred."""
from simulators.jiandaoyun.faults import Fault, FaultBook
from simulators.jiandaoyun.forms import DEMO_APP_ID, DEMO_FORMS, FormSpec, Widget
from simulators.jiandaoyun.push import DEMO_WEBHOOK_SECRET, WEBHOOK_SECRET_ENV, PushResult, push_webhook, sign
from simulators.jiandaoyun.server import (
    API_KEYS_ENV,
    DEMO_API_KEY,
    JiandaoyunHandler,
    JiandaoyunState,
    make_server,
    seed_demo,
)

__all__ = [
    "API_KEYS_ENV", "DEMO_API_KEY", "DEMO_APP_ID", "DEMO_FORMS", "DEMO_WEBHOOK_SECRET", "WEBHOOK_SECRET_ENV",
    "Fault", "FaultBook", "FormSpec", "JiandaoyunHandler", "JiandaoyunState", "PushResult", "Widget",
    "make_server", "push_webhook", "seed_demo", "sign",
]

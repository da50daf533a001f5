"""Jiandaoyun (简道云) adapter: API v5 hook, typed config, error classification, form translation,
signed data-push verification, the hub's form client, and the delivery-schedule acknowledgement."""
from adapters.jiandaoyun.config import PURPOSES, JiandaoyunConfig
from adapters.jiandaoyun.errors import WebhookRejected
from adapters.jiandaoyun.forms import FormRecord, JiandaoyunForms
from adapters.jiandaoyun.hook import JiandaoyunHook
from adapters.jiandaoyun.schedule import ScheduleAckEvent, parse_schedule_ack
from adapters.jiandaoyun.webhook import (
    MemoryNonceGuard,
    NonceGuard,
    WebhookEvent,
    handle_event,
    parse_event,
    verify_delivery,
    verify_signature,
)

__all__ = [
    "PURPOSES", "FormRecord", "JiandaoyunConfig", "JiandaoyunForms", "JiandaoyunHook", "MemoryNonceGuard",
    "NonceGuard", "ScheduleAckEvent", "WebhookEvent", "WebhookRejected", "handle_event", "parse_event",
    "parse_schedule_ack", "verify_delivery", "verify_signature",
]

"""The alerts DAG's task: PUSH_FAILING past the SLA, escalation, notification, each once."""
from __future__ import annotations

import datetime as dt

from canonical_model.documents import Alert
from canonical_model.store import audit, documents, open_store, outbox
from hub import tasks


def test_a_push_failing_past_its_sla_is_raised_escalated_when_ignored_and_notified_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    store = open_store()
    two_hours_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    with store.session() as s:
        row, _ = outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="wms:1", payload={})
        s.flush()
        outbox.mark_retry(row, "HTTP 503", dt.timedelta(minutes=5))
        row.created_at = two_hours_ago  # the WMS SLA is 30 minutes (mappings/alerting.yaml)
        # an alert of another rule, due an hour ago and never acknowledged
        documents.upsert(s, Alert(alert_id="SHORT_SHIPMENT:ASN-1:1", alert_type="SHORT_SHIPMENT", message="short",
                                  responsible_party="buyer", due=two_hours_ago + dt.timedelta(hours=1)))
    first = tasks.alert_sweep()
    assert first["push_failing_opened"] == 1 and first["escalated"] == 1
    again = tasks.alert_sweep()
    assert again == {"push_failing_opened": 0, "escalated": 0, "notified": 0}
    with store.session() as s:
        pushes = documents.get(s, "Alert", "PUSH_FAILING:wms")
        short = documents.get(s, "Alert", "SHORT_SHIPMENT:ASN-1:1")
        trail = [r.action for r in audit.history(s, "Alert", "SHORT_SHIPMENT:ASN-1:1")]
    assert pushes.responsible_party == "it_ops" and "HTTP 503" in pushes.message
    # buyer -> purchasing_manager (the default chain), and told so once
    assert short.responsible_party == "purchasing_manager"
    assert trail.count("alert_escalated") == 1 and trail.count("alert_notified") == 1
    store.dispose()

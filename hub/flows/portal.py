"""Hub -> supplier portal (Jiandaoyun forms): purchase tasks that suppliers accept or reject online.

Every open purchase order becomes a purchase task in the portal, once per PO version (the
client finds a task by the hub key before it creates one). The supplier's answer comes back as
a signed Jiandaoyun webhook through the ingress API (hub/api) and is processed as a stored event
into an OrderResponse (hub/flows/events.py); nothing here waits for it.
"""
from __future__ import annotations

from canonical_model.store import Store, documents


def publish_purchase_tasks(store: Store, forms) -> dict[str, int]:
    """``forms``: adapters.jiandaoyun.forms.JiandaoyunForms. Counts tasks published (or found again)."""
    with store.session() as session:
        orders = [po for po in documents.current(session, "PurchaseOrder") if po.status in ("open", "changed")]
    for po in orders:
        forms.publish_purchase_task(po)
    return {"purchase_tasks": len(orders)}

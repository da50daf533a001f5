"""Exceptions as Alerts: the rules that raise them, their lifecycle, escalation and notification.

* ``matching``   - the first rules (short shipment, receipt mismatch, order responses, scan
                   receiving discrepancies, late ASN cancellation), used by hub/flows.
* ``rules``      - the matching-and-exceptions rules (shortage, ASN missing/late, quantity
                   mismatches, unknown batch, failed inspection, unacknowledged plan change and
                   interchange, failing pushes).
* ``lifecycle``  - raise (deduplicated), acknowledge, resolve, close; all audited.
* ``escalation`` - overdue alerts up the chain; notification once per level.
* ``feeds``      - FEED_QUIET: partners' messages and systems' pulls not heard for too long.
* ``config``     - mappings/alerting.yaml.

Every name callers imported from the former ``collaboration/alerts.py`` is still here.
"""
from collaboration.alerts.config import AlertingConfig, load_config
from collaboration.alerts.escalation import escalate_overdue, notify_once, notify_pending
from collaboration.alerts.lifecycle import acknowledge, close, raise_alert, resolve
from collaboration.alerts.matching import (
    BUYER, WAREHOUSE, asn_cancel_too_late, order_response, receipt_mismatch, receiving_discrepancy, short_shipment,
)
from collaboration.alerts.rules import (
    asn_late, asn_missing, condition_id, feed_quiet, inspection_failed, interchange_unacknowledged, material_shortage,
    plan_change_unacknowledged, push_failing, qty_mismatch_asn_po, qty_mismatch_receipt_asn, unknown_batch,
)

__all__ = [
    "AlertingConfig", "BUYER", "WAREHOUSE", "acknowledge", "asn_cancel_too_late", "asn_late", "asn_missing", "close",
    "condition_id", "escalate_overdue", "feed_quiet", "inspection_failed", "interchange_unacknowledged", "load_config",
    "material_shortage", "notify_once", "notify_pending", "order_response", "plan_change_unacknowledged", "push_failing",
    "qty_mismatch_asn_po", "qty_mismatch_receipt_asn", "raise_alert", "receipt_mismatch", "receiving_discrepancy",
    "resolve", "short_shipment", "unknown_batch",
]

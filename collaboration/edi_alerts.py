"""Alert rules of the EDI channel: duplicate interchanges and missing acknowledgements.

Like collaboration/alerts/ (matching.py, rules.py), each rule is a pure function returning Alerts
whose id is derived from the condition, so seeing the same condition again updates the same Alert.
``collaboration.alerts.rules.interchange_unacknowledged`` applies ``not_acknowledged`` to an
InterchangeRow; mappings/alerting.yaml gives EDI_NOT_ACKNOWLEDGED the same 24 h as ESCALATE_AFTER.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from canonical_model.documents import Alert, SubjectRef

#: how long the partner has to react to an EDI_NOT_ACKNOWLEDGED alert before it escalates
ESCALATE_AFTER = dt.timedelta(hours=24)


def duplicate_interchange(partner: str, control_ref: str, first_file: str, second_file: str,
                          second_sha256: str) -> Alert:
    """DUPLICATE_INTERCHANGE: the partner reused an interchange control reference for other bytes.

    One alert per distinct duplicate payload (the sha256 is in the id): a third file with the
    same reference is a new piece of evidence, the same file collected again is not.
    """
    return Alert(
        alert_id=f"DUPLICATE_INTERCHANGE:{partner}:{control_ref}:{second_sha256[:16]}",
        alert_type="DUPLICATE_INTERCHANGE", severity="warning", responsible_party=partner,
        subjects=[SubjectRef(type="Interchange", key=f"{partner}/in/{control_ref}")],
        message=(f"{partner} sent interchange {control_ref} again in {second_file} with different content "
                 f"(first received as {first_file}); the second file was rejected and not processed. Next: "
                 f"{partner} checks its control-number counter and resends the data under a new interchange "
                 f"reference if it was meant to be new."),
    )


def not_acknowledged(partner: str, control_ref: str, standard: str, message_types: Optional[list],
                     sent_at: Optional[dt.datetime], ack_due: dt.datetime, now: dt.datetime) -> Alert:
    """EDI_NOT_ACKNOWLEDGED: an interchange we sent got no CONTRL/997 before its deadline (a late ack
    resolves it through the alert lifecycle: hub.flows.acks)."""
    kind = "997/999" if standard == "x12" else "CONTRL"
    what = "/".join(message_types or []) or "interchange"
    sent = f" sent {sent_at:%Y-%m-%d %H:%M} UTC" if sent_at else ""
    message = (f"{partner} has not acknowledged {what} interchange {control_ref}{sent}; the {kind} was due by "
               f"{ack_due:%Y-%m-%d %H:%M} UTC. Next: {partner} confirms receipt (or says what was wrong) and sends "
               f"the {kind}; if the file never arrived, resend it from the outbox.")
    return Alert(
        alert_id=f"EDI_NOT_ACKNOWLEDGED:{partner}:{control_ref}",
        alert_type="EDI_NOT_ACKNOWLEDGED", severity="warning", responsible_party=partner,
        subjects=[SubjectRef(type="Interchange", key=f"{partner}/out/{control_ref}")],
        message=message, due=now + ESCALATE_AFTER,
    )

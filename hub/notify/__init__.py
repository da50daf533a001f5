"""Telling people about alerts: e-mail, DingTalk and WeCom robots, Airflow failure callbacks.

``notify(alert, config=..., channels=...)`` renders the alert once (:mod:`hub.notify.message`)
and sends it through every channel mappings/alerting.yaml lists for the alert's responsible
party. A channel is a function ``send(spec, message) -> detail``; each channel module classifies
its failures into the hub's error taxonomy, and one channel failing never stops the others:
its :class:`NotificationResult` says what went wrong (never a secret).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Mapping

from canonical_model.documents import Alert
from collaboration.alerts.config import AlertingConfig, ChannelSpec
from hub.errors import HubError
from hub.notify.message import Message, render

Sender = Callable[[ChannelSpec, Message], str]


@dataclass(frozen=True)
class NotificationResult:
    channel: str
    conn_id: str
    party: str
    ok: bool
    #: what happened: "sent to 2 recipient(s)", or the error line (``WHERE: CODE message``)
    detail: str = ""
    #: fatal / retriable / skippable when not ok
    error_kind: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _email(spec: ChannelSpec, message: Message) -> str:
    from hub.notify import email

    return email.send(spec, message)


def _dingtalk(spec: ChannelSpec, message: Message) -> str:
    from hub.notify import dingtalk

    return dingtalk.send(spec, message)


def _wecom(spec: ChannelSpec, message: Message) -> str:
    from hub.notify import wecom

    return wecom.send(spec, message)


#: the maintained channels; the channel modules are imported only when used (Airflow is heavy)
DEFAULT_CHANNELS: Mapping[str, Sender] = {"email": _email, "dingtalk": _dingtalk, "wecom": _wecom}


def notify(alert: Alert, *, config: AlertingConfig, channels: Mapping[str, Sender] = DEFAULT_CHANNELS,
           level: int = 0) -> list[NotificationResult]:
    """Send ``alert`` to its responsible party's channels; one result per channel, in config order.

    A party without channels gets nothing (an empty list: the caller's audit shows it).
    """
    party = alert.responsible_party
    message = render(alert, config, level=level)
    results = []
    for spec in config.channels_for(party):
        sender = channels.get(spec.kind)
        if sender is None:
            results.append(NotificationResult(spec.kind, spec.conn_id, party, False,
                                              f"no sender for channel kind {spec.kind!r}", "fatal"))
            continue
        try:
            detail = sender(spec, message)
        except HubError as exc:
            results.append(NotificationResult(spec.kind, spec.conn_id, party, False, exc.as_line(), exc.kind))
        except Exception as exc:  # noqa: BLE001 - one broken channel must not silence the others
            # only the class: a library's message may quote a URL that carries a robot key
            results.append(NotificationResult(spec.kind, spec.conn_id, party, False,
                                              f"{spec.kind} {spec.conn_id}: {type(exc).__name__}", "fatal"))
        else:
            results.append(NotificationResult(spec.kind, spec.conn_id, party, True, detail or "sent"))
    return results

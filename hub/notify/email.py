"""E-mail through SMTP (smtplib), configured by an Airflow Connection such as ``smtp_default``.

Connection fields as apache-airflow-providers-smtp reads them: ``host``, ``port``, ``login``,
``password``; extra ``from_email``, ``disable_ssl`` (default false: implicit TLS, SMTP_SSL),
``disable_tls`` (default false: STARTTLS after connecting in plain), ``timeout`` (seconds, default
30). Errors name the Connection id and the server, never the password.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Callable

from collaboration.alerts.config import ChannelSpec
from hub.connections import get_connection as _get_connection
from hub.errors import FatalError, RetriableError, SkippableError
from hub.notify.message import Message


def _flag(extra: dict[str, Any], name: str) -> bool:
    value = extra.get(name, False)
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def build(message: Message, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = message.subject
    # lets a mailbox rule or a test find the alert without parsing the subject
    mail["X-MES-Hub-Alert"] = message.alert_id
    mail.set_content(message.text)
    return mail


def send(spec: ChannelSpec, message: Message, *, get_connection: Callable[[str], Any] = _get_connection) -> str:
    conn = get_connection(spec.conn_id)
    where = f"email {spec.conn_id}"
    extra = dict(conn.extra_dejson or {})
    if not conn.host:
        raise FatalError("SMTP_HOST_MISSING", f"Connection {spec.conn_id!r} names no SMTP host", where)
    use_ssl, use_tls = not _flag(extra, "disable_ssl"), not _flag(extra, "disable_tls")
    port = int(conn.port or (465 if use_ssl else 25))
    sender = extra.get("from_email") or conn.login
    if not sender:
        raise FatalError("SMTP_SENDER_MISSING", f"Connection {spec.conn_id!r} needs extra.from_email (or a login "
                                                f"that is an address)", where)
    timeout = float(extra.get("timeout", 30))
    server = f"{conn.host}:{port}"
    mail = build(message, sender, spec.to)
    try:
        if use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(conn.host, port, timeout=timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(conn.host, port, timeout=timeout)
        with client:
            if not use_ssl and use_tls:
                client.starttls(context=ssl.create_default_context())
            if conn.login and conn.password:
                client.login(conn.login, conn.password)
            refused = client.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise FatalError("SMTP_AUTH_FAILED", f"{server} refused the login of Connection {spec.conn_id!r} "
                                             f"(SMTP {exc.smtp_code}); check its login and password", where) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SkippableError("SMTP_RECIPIENT_REFUSED", f"{server} refused every recipient: "
                                                       f"{', '.join(sorted(exc.recipients))}", where) from None
    except smtplib.SMTPNotSupportedError:
        raise FatalError("SMTP_TLS_UNSUPPORTED", f"{server} offers no STARTTLS; set extra.disable_tls only for "
                                                 f"a local relay", where) from None
    except (smtplib.SMTPException, OSError) as exc:
        # connection refused, timeouts, TLS handshakes, 4xx/5xx answers: the server may be back later
        code = getattr(exc, "smtp_code", None)
        raise RetriableError("SMTP_UNAVAILABLE", f"sending through {server} failed: {type(exc).__name__}"
                                                 f"{f' (SMTP {code})' if code else ''}", where) from None
    delivered = len(spec.to) - len(refused or {})
    return f"sent to {delivered} recipient(s)" + (f", refused: {', '.join(sorted(refused))}" if refused else "")

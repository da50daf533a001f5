"""WeCom group robot (企业微信群机器人) by plain HTTP POST.

The Connection: the robot ``key`` as password, ``host`` the base URL (default
``https://qyapi.weixin.qq.com``; a scheme-less host takes ``schema`` http/https and ``port``);
extra ``timeout`` (seconds, default 10). The request is ``POST {base}/cgi-bin/webhook/send?key=KEY``
with ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}``; the answer is
``{"errcode": 0, "errmsg": "ok"}`` (INFERRED: from WeCom's public robot docs, not
/work/shared/protocols). The key is a secret: it never appears in a log line or an error.
"""
from __future__ import annotations

from typing import Any, Callable

from collaboration.alerts.config import ChannelSpec
from hub.connections import get_connection as _get_connection
from hub.errors import FatalError, RetriableError
from hub.notify.message import Message
from hub.notify.redact import redact_in_logs
from hub.notify.robot import read_answer, truncate

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
PATH = "/cgi-bin/webhook/send"
#: WeCom's text content limit
MAX_TEXT_BYTES = 2048
#: errcodes worth another try: the robot's rate limit (20 messages a minute) and "system busy"
RETRIABLE_ERRCODES = {45009, -1}


def base_url(conn: Any) -> str:
    host = (conn.host or "").rstrip("/")
    if not host:
        return DEFAULT_BASE
    if "://" in host:
        return host
    scheme = conn.schema if conn.schema in ("http", "https") else "https"
    return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")


def payload(message: Message, spec: ChannelSpec) -> dict:
    mentions = list(spec.at_mobiles) + (["@all"] if spec.at_all else [])
    return {"msgtype": "text",
            "text": {"content": truncate(f"{message.subject}\n{message.text}", MAX_TEXT_BYTES),
                     "mentioned_mobile_list": mentions}}


def send(spec: ChannelSpec, message: Message, *, get_connection: Callable[[str], Any] = _get_connection) -> str:
    import requests

    where = f"wecom {spec.conn_id}"
    conn = get_connection(spec.conn_id)
    if not conn.password:
        raise FatalError("WECOM_KEY_MISSING", f"Connection {spec.conn_id!r} has no robot key (password)", where)
    redact_in_logs(conn.password)  # urllib3 logs the URL, and the key is in its query string
    base = base_url(conn)
    timeout = float((conn.extra_dejson or {}).get("timeout", 10))
    try:
        response = requests.post(base + PATH, params={"key": conn.password}, json=payload(message, spec),
                                 timeout=timeout)
    except requests.RequestException as exc:
        # requests' messages quote the URL with the key: only the class goes out
        raise RetriableError("WECOM_UNAVAILABLE", f"posting to the WeCom robot at {base} failed: "
                                                  f"{type(exc).__name__}", where) from None
    return read_answer(response, where, system="WECOM", retriable=RETRIABLE_ERRCODES, hint="check the robot key",
                       secret=conn.password)

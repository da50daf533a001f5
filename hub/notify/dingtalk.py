"""DingTalk custom robot (钉钉自定义机器人) through apache-airflow-providers-dingding's ``DingdingHook``.

The Connection is the provider's: the robot ``access_token`` as password, ``host`` the robot base
URL (default ``https://oapi.dingtalk.com``; a test points it at 127.0.0.1). Signed robots
("加签"): ``extra.secret`` holds the ``SEC...`` secret; each request then carries ``timestamp``
(ms) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))
as DingTalk's robot documentation gives it (INFERRED: from DingTalk's public docs, not
/work/shared/protocols). The provider has no signed mode, so :class:`SignedDingdingHook` adds it.

Token and secret are secrets: registered with Airflow's masker and :mod:`hub.notify.redact`
before any request (the HTTP hook and urllib3 log URLs at debug level) and never put into an error.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Callable, Optional
from urllib.parse import quote, quote_plus

from collaboration.alerts.config import ChannelSpec
from hub.errors import FatalError, RetriableError
from hub.notify.message import Message
from hub.notify.redact import redact_in_logs
from hub.notify.robot import read_answer, truncate

DEFAULT_HOST = "https://oapi.dingtalk.com"
#: DingTalk's text limit is 20000 bytes; stay below it with room for the JSON
MAX_TEXT_BYTES = 18000
#: errcodes worth another try: sending too fast (INFERRED from DingTalk's error list)
RETRIABLE_ERRCODES = {130101, -1}


def sign(timestamp_ms: str, secret: str) -> str:
    """The ``sign`` query value of a signed robot request."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def payload(message: Message, spec: ChannelSpec) -> dict:
    """The robot's ``text`` message; the subject line leads so a phone's preview shows it."""
    return {"msgtype": "text",
            "text": {"content": truncate(f"{message.subject}\n{message.text}", MAX_TEXT_BYTES)},
            "at": {"atMobiles": list(spec.at_mobiles), "isAtAll": spec.at_all}}


def _hook_class():
    from airflow.providers.dingding.hooks.dingding import DingdingHook

    class SignedDingdingHook(DingdingHook):
        """DingdingHook plus DingTalk's signed mode (timestamp + sign query parameters)."""

        def __init__(self, *args, clock: Callable[[], float] = time.time, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.clock = clock

        def _get_endpoint(self) -> str:
            conn = self.get_connection(self.http_conn_id)
            token = conn.password
            if not token:
                raise FatalError("DINGTALK_TOKEN_MISSING", f"Connection {self.http_conn_id!r} has no access token "
                                                           f"(password)", f"dingtalk {self.http_conn_id}")
            secret: Optional[str] = (conn.extra_dejson or {}).get("secret")
            _mask(token, secret)
            endpoint = f"robot/send?access_token={quote(token, safe='')}"
            if secret:
                timestamp = str(int(self.clock() * 1000))
                endpoint += f"&timestamp={timestamp}&sign={sign(timestamp, secret)}"
            return endpoint

    return SignedDingdingHook


def _mask(*secrets: Optional[str]) -> None:
    from airflow.sdk.log import mask_secret

    redact_in_logs(*secrets)
    for secret in secrets:
        if secret:
            mask_secret(secret)


def send(spec: ChannelSpec, message: Message, *, clock: Callable[[], float] = time.time,
         timeout: float = 10.0) -> str:
    import requests
    from airflow.exceptions import AirflowNotFoundException

    where = f"dingtalk {spec.conn_id}"
    hook = _hook_class()(dingding_conn_id=spec.conn_id, message_type="text", clock=clock)
    # the provider's session has no timeout of its own; its own check raises with the body: we classify instead
    hook.merged_extra = {"timeout": timeout, "check_response": False}
    try:
        endpoint = hook._get_endpoint()
        response = hook.run(endpoint=endpoint, data=json.dumps(payload(message, spec), ensure_ascii=False).encode(),
                            headers={"Content-Type": "application/json; charset=utf-8"})
    except AirflowNotFoundException:
        raise FatalError("CONNECTION_MISSING", f"Airflow Connection {spec.conn_id!r} is not defined; set "
                                               f"AIRFLOW_CONN_{spec.conn_id.upper()}", where) from None
    except requests.RequestException as exc:
        # the exception text quotes the URL, and the URL carries the token: only the class goes out
        raise RetriableError("DINGTALK_UNAVAILABLE", f"posting to the DingTalk robot at "
                                                     f"{hook.base_url or DEFAULT_HOST} failed: {type(exc).__name__}",
                             where) from None
    return read_answer(response, where, system="DINGTALK", retriable=RETRIABLE_ERRCODES,
                       hint="token, signing secret, keyword or IP allow-list of the robot")

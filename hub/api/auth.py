"""Who may post: bearer tokens from Airflow Connections, compared in constant time.

| endpoint | token | Connection |
| --- | --- | --- |
| ``POST /events/wms`` | extra ``ingress_token`` | ``wms_default`` |
| ``POST /events/opcenter`` | extra ``ingress_token`` | ``opcenter_default`` |
| ``POST /suppliers/{partner_id}/asns`` | password | ``supplier_api_<partner id, lowercase, letters and digits only>`` |

Why an extra and not the Connection's password for the WMS and the MES: their password is the
hub's credential *at* that system (GreaterWMS openid, Odoo password, Opcenter client secret).
The token they present to the hub is a different secret, so rotating one never breaks the
other, and a leaked push token gives no access to the WMS or the MES.

A supplier Connection may set ``login``: then it must equal the partner id in the path exactly
(the Connection name folds ``SUP-001`` and ``sup001`` together; the login pins which one).

Connections are cached for ``ttl_seconds`` (30 by default), so a rotated token applies within
that time without a restart, and a burst of pushes does not look the Connection up each time.
"""
from __future__ import annotations

import hmac
import re
import threading
import time
from typing import Any, Callable, Optional

from starlette.requests import Request

from hub.api.errors import ApiError, not_configured, unauthorized
from hub.connections import ConnectionParts, get_connection
from hub.errors import FatalError

WMS_CONN_ID = "wms_default"
OPCENTER_CONN_ID = "opcenter_default"
INGRESS_TOKEN_EXTRA = "ingress_token"
SUPPLIER_CONN_PREFIX = "supplier_api_"
#: partner ids the path may carry (profiles are named like this: SUP-001)
PARTNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BEARER = re.compile(r"^Bearer[ ]+([\x21-\x7e]{1,512})[ ]*$", re.IGNORECASE)


def supplier_conn_id(partner_id: str) -> str:
    """``SUP-001`` -> ``supplier_api_sup001``."""
    return SUPPLIER_CONN_PREFIX + re.sub(r"[^a-z0-9]", "", partner_id.lower())


class Connections:
    """Connection look-ups with a short cache; a missing Connection is cached as None too."""

    def __init__(self, ttl_seconds: float = 30.0, lookup: Callable[[str], Any] = get_connection,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.lookup = lookup
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def get(self, conn_id: str) -> Optional[Any]:
        """The Connection, or None when it is not defined. FatalError CONNECTION_INVALID if malformed."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(conn_id)
            if hit is not None and now - hit[0] < self.ttl_seconds:
                return hit[1]
        try:
            conn = self.lookup(conn_id)
        except FatalError as error:
            if error.code != "CONNECTION_MISSING":
                raise
            conn = None
        with self._lock:
            self._cache[conn_id] = (now, conn)
        return conn


def without_extras(conn: Any, *names: str) -> ConnectionParts:
    """A copy of ``conn`` without the ingress's own extras, for an adapter config that refuses
    extras it does not know (WmsConfig, OpcenterConfig)."""
    extra = {k: v for k, v in dict(conn.extra_dejson or {}).items() if k not in names}
    return ConnectionParts(conn_id=getattr(conn, "conn_id", "") or "", conn_type=conn.conn_type, host=conn.host,
                           port=conn.port, schema=conn.schema, login=conn.login, password=conn.password,
                           extra=extra)


def presented_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization")
    if header is None:
        return None
    match = _BEARER.match(header)
    return match.group(1) if match else ""


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def _refuse(presented: Optional[str]) -> ApiError:
    if presented is None:
        return unauthorized("AUTH_MISSING", "no Authorization header; send Authorization: Bearer <token>")
    if presented == "":
        return unauthorized("AUTH_MALFORMED", "the Authorization header is not of the form 'Bearer <token>'")
    return unauthorized("AUTH_INVALID", "the bearer token is not valid for this endpoint")


def require_system_token(request: Request, connections: Connections, conn_id: str) -> None:
    """The caller presents the ``ingress_token`` extra of ``conn_id``; else ApiError 401 (503 when unset)."""
    conn = connections.get(conn_id)
    expected = str((conn.extra_dejson or {}).get(INGRESS_TOKEN_EXTRA) or "") if conn is not None else ""
    if not expected:
        raise not_configured(f"Connection {conn_id} has no extra {INGRESS_TOKEN_EXTRA}")
    presented = presented_token(request)
    if not presented or not _same(presented, expected):
        raise _refuse(presented)


#: compared against when the partner has no Connection, so an unknown partner costs the same
_NO_TOKEN = "\x00" * 32


def require_supplier_token(request: Request, connections: Connections, partner_id: str) -> None:
    """The caller presents the password of the partner's Connection.

    An unknown partner, a partner without a token, a wrong token and another partner's token all
    get the same 401: the answer must not tell which partner ids exist."""
    presented = presented_token(request)
    conn = connections.get(supplier_conn_id(partner_id)) if PARTNER_ID.match(partner_id) else None
    expected = str(conn.password or "") if conn is not None else ""
    pinned = conn is None or not conn.login or conn.login == partner_id
    matches = _same(presented or "", expected or _NO_TOKEN)
    if not presented or not expected or not pinned or not matches:
        raise _refuse(presented)

"""What the classic SOAP hook and the U9 Cloud REST hook share: connection, retry policy, session, keyset paging."""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional, Self

import requests

from adapters.http_retry import SessionHook
from adapters.u9.retry import Retrier
from hub.errors import HubError


class U9Hook(SessionHook):
    #: the ConnectionSettings class of the hook's Connection, and that Connection's default id
    config_class: ClassVar[Any]
    default_conn_id: ClassVar[str]
    #: the system name errors and logs use (``u9`` or ``u9cloud``)
    system: ClassVar[str]

    def __init_subclass__(cls, *, system: str, config_class: Any, default_conn_id: str, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.system, cls.config_class, cls.default_conn_id = system, config_class, default_conn_id

    def __init__(self, config: Any, session: Optional[requests.Session], max_attempts: Optional[int],
                 headers: dict[str, str]) -> None:
        self.config = config
        self.retrier = Retrier.for_config(config, max_attempts)
        self._open_session(session, headers)

    @classmethod
    def from_conn_id(cls, conn_id: Optional[str] = None, max_attempts: Optional[int] = None) -> Self:
        """Build from the Airflow Connection; its ``max_attempts`` wins over the argument."""
        config = cls.config_class.from_conn_id(conn_id or cls.default_conn_id)
        return cls(config, max_attempts=config.max_attempts or max_attempts)


def keyset_page(rows: Any, last_id: int, id_of: Callable[[dict[str, Any]], Optional[int]],
                repeated: Callable[[], HubError]) -> tuple[list[dict[str, Any]], int]:
    """(rows above ``last_id`` in ID order, each once; the new last ID) of one keyset page.

    A page that is not empty yet holds nothing new is a paging bug on the other side:
    ``repeated()`` is raised instead of looping.
    """
    fresh: dict[int, dict[str, Any]] = {}
    for row in rows if isinstance(rows, list) else []:
        row_id = id_of(row)
        if row_id is not None and row_id > last_id and row_id not in fresh:
            fresh[row_id] = row
    if rows and not fresh:
        raise repeated()
    return [fresh[i] for i in sorted(fresh)], max(fresh, default=last_id)

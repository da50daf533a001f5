"""One error taxonomy for the whole hub (fatal / retriable / skippable).

Every adapter classifies what goes wrong at its edge into one of these three, once, in its
own ``errors.py``; pipelines and Airflow only look at the class:

* ``FatalError``     - configuration or contract broken (bad credentials, schema broken):
                       fail fast, alert a human, do not retry.
* ``RetriableError`` - the other side is temporarily unavailable (timeout, 5xx, 429, session
                       expired): retry with backoff; the outbox keeps the message meanwhile.
* ``SkippableError`` - one record is bad: quarantine it with its evidence and go on.

Each error carries a machine ``code`` (e.g. ``UNT_COUNT_MISMATCH``), a human ``message`` and
``where`` (``file:segment``/``file:line`` or a record key), never a secret.
"""
from __future__ import annotations


class HubError(Exception):
    kind = "fatal"

    def __init__(self, code: str, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {code} {message}" if where else f"{code} {message}")
        self.code = code
        self.message = message
        self.where = where

    def located(self, where: str) -> "HubError":
        """Return a copy whose ``where`` is prefixed by an outer location (e.g. the file name)."""
        inner = f"{where}:{self.where}" if self.where else where
        return type(self)(self.code, self.message, inner)

    def as_line(self) -> str:
        """The CLI error line contract: ``WHERE: CODE message``."""
        return f"{self.where}: {self.code} {self.message}"


class FatalError(HubError):
    kind = "fatal"


class RetriableError(HubError):
    kind = "retriable"


class SkippableError(HubError):
    kind = "skippable"

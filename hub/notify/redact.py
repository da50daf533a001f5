"""Keep robot keys out of log lines that libraries write themselves.

DingTalk and WeCom put the robot's token/key in the URL's query string (their API, not our
choice), and urllib3 logs every request URL at DEBUG. Airflow's secret masker covers task logs
(``mask_secret``); this filter covers everything else (the CLI, a test runner's capture): it is
installed on the loggers that print URLs and replaces every registered secret with ``***``.
"""
from __future__ import annotations

import logging
import threading

#: loggers that write request URLs: urllib3's pool, and the HTTP hook's (when Airflow logs through stdlib)
URL_LOGGERS = ("urllib3.connectionpool", "airflow.task.hooks.airflow.providers.dingding.hooks.dingding.DingdingHook")


class SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        text = record.getMessage()
        redacted = text
        for secret in secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


_FILTER = SecretFilter()
for _name in URL_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def redact_in_logs(*secrets) -> None:
    """Register secrets (and their URL-quoted forms) to be masked in the URL loggers."""
    from urllib.parse import quote, quote_plus

    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                _FILTER.add(form)

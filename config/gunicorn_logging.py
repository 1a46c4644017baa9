"""gunicorn's logger with order-page tokens redacted from its access and error logs.

The access log line holds the request line, path and referrer; gunicorn's error log names the
path of a request that failed ("Error handling request /orders/link/<token>/"). The same filter
that redacts Django's loggers (compensation/log_redaction.py) sits on both gunicorn loggers, so
every handler (stdout, files, syslog) only ever sees `/orders/link/<redacted>`.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from compensation.log_redaction import RedactOrderLinkTokens


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactOrderLinkTokens) for f in log.filters):
                log.addFilter(RedactOrderLinkTokens())

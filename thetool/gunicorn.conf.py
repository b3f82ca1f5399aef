"""gunicorn settings for the Procfile's web process (`--config thetool/gunicorn.conf.py`).

Its flags (bind, workers, threads, timeout, access log) stay on the Procfile line; this file holds
what a flag cannot say: log times in UTC, like every other TheTool log line. gunicorn stamps its
lines with the process's local time, and Django sets the process time zone to TIME_ZONE
(Asia/Kolkata, for the pages) when the app loads, so without this the access log says +0530.
"""

import time

from gunicorn import glogging


class UTCLogger(glogging.Logger):
    """gunicorn's logger with UTC timestamps in the access log (%(t)s) and the error log."""

    def now(self) -> str:
        return time.strftime("[%d/%b/%Y:%H:%M:%S +0000]", time.gmtime())

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if handler.formatter is not None:
                    handler.formatter.converter = time.gmtime


logger_class = UTCLogger

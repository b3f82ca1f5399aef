"""Log formatting: timestamps in UTC (the process TZ is Asia/Kolkata for display), one event per line."""

import logging
import time


class UTCFormatter(logging.Formatter):
    converter = time.gmtime
    default_msec_format = "%s.%03dZ"

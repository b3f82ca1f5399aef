"""Exit 0 when the PostgreSQL server in DATABASE_URL-style argv[1] accepts TCP connections (used by `make test`)."""

import socket
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
try:
    socket.create_connection((url.hostname or "127.0.0.1", url.port or 5432), timeout=2).close()
except OSError:
    sys.exit(1)

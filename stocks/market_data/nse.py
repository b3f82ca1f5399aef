"""NSE's list of listed equities (EQUITY_L.csv), for `manage.py load_universe --download`."""

import urllib.error
import urllib.request

from django.conf import settings

from stocks.bars import SourceUnavailable

_EQUITY_LIST_MAX_BYTES = 5_000_000


def download_equity_list(*, url: str | None = None, timeout: float | None = None) -> str:
    """The text of NSE's current EQUITY_L.csv. Raises SourceUnavailable when NSE cannot be reached."""
    url = url or settings.THETOOL_NSE_EQUITY_LIST_URL
    timeout = timeout or settings.THETOOL_NSE_DOWNLOAD_TIMEOUT_SECONDS
    # NSE answers 403 to clients without a browser-like User-Agent.
    request = urllib.request.Request(
        url, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) TheTool", "Accept": "text/csv,*/*"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(_EQUITY_LIST_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"NSE refused the download of {url} (HTTP {exc.code})") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(f"NSE is unreachable ({url}): {reason}") from exc
    if len(raw) > _EQUITY_LIST_MAX_BYTES:
        raise SourceUnavailable(f"{url} is larger than {_EQUITY_LIST_MAX_BYTES} bytes: not an equity list")
    return raw.decode("utf-8-sig", errors="replace")

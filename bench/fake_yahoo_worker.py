"""Benchmarks only: `manage.py run_worker` whose yfinance talks to a fake Yahoo (tests/fakeyahoo.py).

The fake runs in the benchmark's own process, at THETOOL_BENCH_FAKE_YAHOO_URL. This process hands
yfinance the fake's rewriting session before django-q2 forks its workers (it forks on Linux), so
every worker sends its chart requests there. The service never imports this file.

Usage (by bench/bench_live_workers.py): THETOOL_BENCH_FAKE_YAHOO_URL=http://127.0.0.1:PORT
    THETOOL_YFINANCE_CACHE_DIR=... python bench/fake_yahoo_worker.py
"""

import os
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thetool.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tests.fakeyahoo import point_yfinance_at

    fake = SimpleNamespace(base_url=os.environ["THETOOL_BENCH_FAKE_YAHOO_URL"])
    with point_yfinance_at(fake, cache_dir=Path(os.environ["THETOOL_YFINANCE_CACHE_DIR"])):
        call_command("run_worker")


if __name__ == "__main__":
    main()

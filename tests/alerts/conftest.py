"""A known world for alerts: alice, a job that just completed, and a local webhook receiver."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model

from jobs.models import AnalysisJob, JobStatus
from tests.factories import make_result


def make_job(**overrides) -> AnalysisJob:
    fields = {
        "analysis_key": "a" * 64,
        "status": JobStatus.COMPLETED,
        "symbols": ["RELIANCE.NS", "TCS.NS"],
        "total": 2,
        "capital": Decimal("100000"),
        "risk_percent": Decimal("2"),
        "max_position_percent": Decimal("10"),
        "data_source": "demo",
    }
    fields.update(overrides)
    return AnalysisJob.objects.create(**fields)


def make_flip(*, symbol="RELIANCE.NS", before="Buy", after="Sell", old_score=0.35, new_score=-0.4, job=None):
    """A previous result (no job) and a new one in `job`: the pair the completion hook compares."""
    job = job or make_job(symbols=[symbol], total=1)
    make_result(symbol, verdict=before, score=old_score)
    make_result(symbol, verdict=after, score=new_score, job=job)
    return job


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", email="alice@example.com")


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records each POST; `fail_first` answers 500 that many times."""

    def __init__(self, fail_first: int = 0):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                # Header names in lower case: urllib sends them as X-thetool-signature.
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.requests.append({"headers": headers, "body": body})
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def payloads(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()

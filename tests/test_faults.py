"""Faults answer 503 with Retry-After, never 500: every URL, with the database down.

The whole-stack test walks the URL conf (`get_resolver()`), fills path parameters with plausible
values and requests every URL with GET and POST, as an anonymous visitor and as a signed-in staff
member, first with the database up (recording which requests touched it) and then with it down:
- on SQLite the database file becomes unopenable;
- on PostgreSQL the connection points at a port where nothing listens, or goes through a local
  TCP proxy that the test kills mid-test (the shared server itself is never stopped).
A request that touched the database must answer 503 + Retry-After; one that did not must answer
as it did with the database up. None may answer 500. A Redis broker that is down is a 503 too.
"""

import re
import socket
import threading
import uuid
from collections import Counter
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_q.conf import Conf
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIRequestFactory

from jobs.models import AnalysisJob
from stocks.models import Stock
from tests.factories import clear_universe, make_stock
from thetool.api import exception_handler, handler500

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_JOB = str(uuid.UUID(int=7))
# A value for each path parameter, by name: one that routes (the view decides the rest).
PLAUSIBLE = {
    "job_id": UNKNOWN_JOB,
    "pk": UNKNOWN_JOB,
    "symbol": "RELIANCE.NS",
    "strategy_id": "1",
    "object_id": "1",
    "content_type_id": "1",
    "id": "1",
    "app_label": "jobs",
    "url": "no-such-page/",
}
JSON_BODY = '{"symbols": []}'  # the universe: read before the job decision, the worst case


# --- The exception handler's mapping -------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("connection refused"),
        InterfaceError("connection already closed"),
        DatabaseError("server closed the connection unexpectedly"),
        RedisConnectionError("Connection refused"),
    ],
    ids=["operational", "interface", "bare-database-error", "redis-broker"],
)
def test_the_api_answers_an_outage_with_503_and_retry_after(error):
    response = exception_handler(error, {"view": None})
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.data["error"]["code"] == "service_unavailable"
    assert set(response.data["error"]) == {"code", "message", "details"}


def test_an_integrity_error_is_a_bug_not_an_outage():
    response = exception_handler(IntegrityError("duplicate key"), {"view": None})
    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.parametrize("path", ["/api/jobs/", "/jobs/"])
def test_an_outage_raised_outside_a_view_is_a_503_not_a_500(path):
    """Django calls handler500 inside its `except` block: an outage raised by a middleware lands there."""
    request = APIRequestFactory().get(path)
    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        response = handler500(request)
    assert response.status_code == 503
    assert response["Retry-After"]


def test_handler500_still_answers_500_for_a_bug():
    request = APIRequestFactory().get("/api/jobs/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = handler500(request)
    assert response.status_code == 500


# --- Job creation for the whole universe retries, then answers 503 ----------------------------------


@pytest.fixture
def no_backoff(settings):
    settings.THETOOL_JOB_CREATE_RETRIES = 3
    settings.THETOOL_JOB_CREATE_BACKOFF = 0


def failing_universe_reads(failures: int):
    """Stock.objects.filter raises a lost connection `failures` times, then reads for real."""
    real_filter = Stock.objects.filter
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError("server closed the connection unexpectedly")
        return real_filter(*args, **kwargs)

    return mock.patch.object(Stock.objects, "filter", side_effect=flaky)


def test_a_universe_job_survives_a_transient_database_error(no_backoff):
    clear_universe()
    make_stock("RELIANCE")
    with failing_universe_reads(2):
        response = Client().post("/api/stocks/analyze-all-stocks", JSON_BODY, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["symbols"] == ["RELIANCE.NS"]


def test_a_universe_job_answers_503_when_the_database_keeps_failing(no_backoff):
    clear_universe()
    make_stock("RELIANCE")
    with failing_universe_reads(3):
        response = Client().post("/api/stocks/analyze-all-stocks", JSON_BODY, content_type="application/json")
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not AnalysisJob.objects.exists()


# --- The broker down ---------------------------------------------------------------------------------


def test_job_creation_answers_503_when_the_redis_broker_is_down(monkeypatch):
    """A real Redis client against a port where nothing listens: the job is failed with the reason."""
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/15")
    response = Client().post(
        "/api/stocks/analyze-all-stocks", '{"symbols": ["RELIANCE"]}', content_type="application/json"
    )
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "service_unavailable"
    job = AnalysisJob.objects.get()
    assert job.status == "failed" and not job.enqueued
    assert "task queue" in job.status_reason


# --- The whole stack against a database that is down ------------------------------------------------


def _route_to_path(route: str) -> str:
    """A concrete path for a route or regex: each parameter gets its plausible value."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: PLAUSIBLE.get(m.group(1), "1"), route)  # regex groups first
    route = re.sub(r"<(?:(\w+):)?(\w+)>", _plausible, route)
    return "/" + route.replace("^", "").replace("$", "").replace("/?", "/")


def _plausible(match: re.Match) -> str:
    """By parameter name when known, else by converter (so routes added later are walked too)."""
    converter, name = match.group(1) or "str", match.group(2)
    return PLAUSIBLE.get(name) or {"int": "1", "uuid": UNKNOWN_JOB}.get(converter, "x")


def every_url() -> list[str]:
    """Every path in the URL conf, walked from the root resolver, parameters filled in."""

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    return sorted({_route_to_path(route) for route in walk(get_resolver().url_patterns, "")})


class QueryCounter:
    """Counts the queries a request attempts (even those that fail to connect)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def request_every_url(clients: dict[str, Client]) -> dict[tuple, tuple[int, bool, str]]:
    """(client, method, accept, path) -> (status, touched the database, Retry-After) for every URL."""
    answers = {}
    for who, client in clients.items():
        for path in every_url():
            accepts = ("application/json", "text/html") if path.startswith("/api/") else ("text/html",)
            # POST to a sign-out URL would end the staff session the rest of the walk relies on.
            methods = ("get",) if path in ("/admin/logout/", "/accounts/logout/") else ("get", "post")
            for method in methods:
                for accept in accepts:
                    kwargs = {"HTTP_ACCEPT": accept}
                    if method == "post" and path.startswith("/api/"):
                        kwargs.update(data=JSON_BODY, content_type="application/json")
                    queries = QueryCounter()
                    with connection.execute_wrapper(queries):
                        response = getattr(client, method)(path, **kwargs)
                    answers[(who, method.upper(), accept, path)] = (
                        response.status_code,
                        queries.count > 0,
                        response.get("Retry-After", ""),
                    )
    return answers


@pytest.fixture
def world(django_user_model, no_backoff, settings):
    """A known world: one stock; an anonymous and a signed-in staff client; no network (demo data)."""
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    make_stock("RELIANCE")
    staff = django_user_model.objects.create_superuser("ops", "ops@example.com", "a long passphrase")
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(staff)
    return {"anonymous": Client(raise_request_exception=False), "staff": signed_in}


@pytest.fixture
def database_settings():
    """Point the connection somewhere else for a while; always restore it (the flush needs it)."""
    original = dict(connection.settings_dict)

    def point_at(**changes):
        connection.close()
        connection.settings_dict.update(changes)

    yield point_at
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(original)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_honest_outage_answers(up: dict, down: dict) -> Counter:
    problems = []
    for key, (status, touched_db, _) in up.items():
        down_status, _, retry_after = down[key]
        if down_status == 500 or (down_status >= 500 and down_status != 503):
            problems.append(f"{key}: {down_status} with the database down")
        elif touched_db and (down_status != 503 or not retry_after):
            problems.append(f"{key}: needs the database but answered {down_status} (Retry-After {retry_after!r})")
        elif not touched_db and down_status != status:
            problems.append(f"{key}: needs no database, answered {status} up and {down_status} down")
    assert not problems, "\n".join(problems)
    codes = Counter(status for status, _, _ in down.values())
    print(f"\n{len(down)} requests over {len(every_url())} URLs with the database down, by code: {dict(codes)}")
    return codes


def test_the_url_walk_covers_every_page_and_endpoint():
    urls = every_url()
    for expected in ["/", "/jobs/", f"/jobs/{UNKNOWN_JOB}/", "/api/jobs/", f"/api/analysis/status/{UNKNOWN_JOB}"]:
        assert expected in urls
    assert not [url for url in urls if "<" in url or "(?P" in url]


@pytest.mark.sqlite
def test_no_url_answers_500_when_the_sqlite_file_cannot_be_opened(world, database_settings, tmp_path):
    up = request_every_url(world)
    database_settings(NAME=str(tmp_path / "missing-folder" / "db.sqlite3"))
    down = request_every_url(world)
    codes = assert_honest_outage_answers(up, down)
    assert codes[503] > 0


def take_database_down(database_settings, tmp_path) -> None:
    if connection.vendor == "sqlite":
        database_settings(NAME=str(tmp_path / "missing-folder" / "db.sqlite3"))
    else:
        database_settings(HOST="127.0.0.1", PORT=str(free_port()))


def test_the_analyze_form_goes_back_with_not_started_when_the_database_is_down(world, database_settings, tmp_path):
    take_database_down(database_settings, tmp_path)
    response = world["anonymous"].post("/analyze/", {"action": "all", "capital": "100000", "strategy": "1"})
    assert response.status_code == 302
    notes = [message.message for message in get_messages(response.wsgi_request)]
    assert any(note.startswith("Analysis not started. The database is unavailable") for note in notes), notes


def test_an_outage_is_a_503_page_even_with_debug_on(world, database_settings, settings, tmp_path):
    """With DEBUG on Django shows its technical 500 page instead of calling handler500: the
    middleware's process_exception answers first."""
    settings.DEBUG = True
    take_database_down(database_settings, tmp_path)
    for path in ["/", "/jobs/", "/admin/"]:
        response = world["staff"].get(path)
        assert response.status_code == 503, path
        assert response["Retry-After"]
        assert b"Temporarily unavailable" in response.content


@pytest.mark.postgres
def test_no_url_answers_500_when_nothing_listens_at_the_database_port(world, database_settings):
    up = request_every_url(world)
    database_settings(HOST="127.0.0.1", PORT=str(free_port()))
    down = request_every_url(world)
    codes = assert_honest_outage_answers(up, down)
    assert codes[503] > 0


class TcpProxy:
    """A local TCP proxy in front of the real server, so a test can 'stop the database' by killing it."""

    def __init__(self, *, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        """The database 'dies': no new connections, and every open one is cut."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()


@pytest.mark.postgres
def test_no_url_answers_500_when_the_live_database_stops_mid_test(world, database_settings):
    real = (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    proxy = TcpProxy(target=real)
    try:
        database_settings(HOST="127.0.0.1", PORT=str(proxy.port))
        up = request_every_url(world)  # through the proxy, on a kept-alive connection (CONN_MAX_AGE)
        proxy.stop()
        down = request_every_url(world)
    finally:
        proxy.stop()
    codes = assert_honest_outage_answers(up, down)
    assert codes[503] > 0


def test_signing_out_with_the_database_down_is_503_with_retry_after(world, database_settings, tmp_path):
    # The URL walk leaves this POST out (it would sign the walk's staff client out): checked here instead.
    take_database_down(database_settings, tmp_path)
    response = world["staff"].post("/accounts/logout/")
    assert response.status_code == 503
    assert response["Retry-After"]

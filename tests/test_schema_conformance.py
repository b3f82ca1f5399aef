"""schemathesis over every operation of /api/schema/, against a live server: the schema is the code.

The schema is generated in-process at collection time (schemathesis needs the operations before
the live server exists; its lazy `from_fixture` loader does not run under pytest 9), and a test
checks that the live server serves exactly that document.

Each operation gets a bounded number of generated requests (valid and invalid ones); every answer
must be documented for that operation (status code, content type, body shape) and none may be a 5xx.
The server analyses demo prices and holds a small known universe. Bounded by example counts, not by
time: there are no timed assertions here.
"""

import json

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import clear_universe, make_job, make_result, make_stock

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Enough to reach every documented answer of these small operations; ~15 operations x this stays
# within a couple of minutes on a 2-core machine.
MAX_EXAMPLES = 25


OPENAPI = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture
def demo_server(live_server, settings, transactional_db):
    """The live server on demo prices, with a universe, a finished job and its results to find."""
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    for symbol in ("RELIANCE", "TCS", "M&M"):
        make_stock(symbol)
    job = make_job(["RELIANCE.NS", "TCS.NS"], status="completed", completed=2, successful=1)
    make_result("RELIANCE.NS", job=job)
    make_result("TCS.NS", job=job, error="no data returned")
    return live_server


def test_the_live_server_serves_the_schema_that_is_fuzzed(demo_server):
    served = requests.get(f"{demo_server.url}/api/schema/", headers={"Accept": "application/json"}, timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(OPENAPI))
    assert len(list(schema.get_all_operations())) == sum(
        1
        for path in OPENAPI["paths"].values()
        for method in path
        if method in {"get", "post", "put", "patch", "delete"}
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a loaded CI machine must not turn a slow answer into a failure
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure here is reproducible, never a flake
    database=None,  # derandomised, so there is nothing worth keeping in .hypothesis/
)
def test_every_answer_of_every_operation_is_documented_and_none_is_a_5xx(case, demo_server):
    case.call_and_validate(base_url=demo_server.url, checks=CHECKS)

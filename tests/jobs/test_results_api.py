"""GET /api/jobs/<id>/results/: one order on SQLite and PostgreSQL, and rows shaped as the schema says.

This module runs in both passes of `make test`, so the same assertions hold on both databases.
"""

import pytest
from rest_framework.test import APIClient

from tests.factories import make_job, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def job_with_mixed_results():
    job = make_job(["A.NS", "B.NS", "C.NS", "D.NS", "E.NS"], status="completed", completed=5, successful=3)
    make_result("D.NS", job=job, error="no data returned")  # failed: NULL score
    make_result("B.NS", job=job, score=0.2)
    make_result("A.NS", job=job, error="too few bars")  # failed: NULL score
    make_result("E.NS", job=job, score=0.7)
    make_result("C.NS", job=job, score=0.2)  # ties with B.NS: symbol decides
    return job


def test_results_list_best_score_first_and_failed_symbols_last_on_every_database(job_with_mixed_results):
    body = APIClient().get(f"/api/jobs/{job_with_mixed_results.pk}/results/").json()
    assert [row["symbol"] for row in body["results"]] == ["E.NS", "B.NS", "C.NS", "A.NS", "D.NS"]


def test_a_failed_result_row_has_its_error_and_null_scores(job_with_mixed_results):
    rows = APIClient().get(f"/api/jobs/{job_with_mixed_results.pk}/results/").json()["results"]
    failed = rows[-1]
    assert failed["error"] == "no data returned"
    assert failed["verdict"] == "" and failed["score"] is None and failed["entry"] is None
    assert rows[0]["error"] == "" and rows[0]["entry"] == 100 and rows[0]["score"] == 0.7


def test_the_status_of_a_completed_job_lists_only_its_successful_results_in_that_order(job_with_mixed_results):
    body = APIClient().get(f"/api/analysis/status/{job_with_mixed_results.pk}").json()
    assert [row["symbol"] for row in body["results"]] == ["E.NS", "B.NS", "C.NS"]
    assert [error["symbol"] for error in body["errors"]] == ["A.NS", "D.NS"]


def test_the_status_of_an_unfinished_job_has_no_results_key():
    job = make_job(["A.NS"])
    body = APIClient().get(f"/api/analysis/status/{job.pk}").json()
    assert "results" not in body and body["results_url"] == f"/api/jobs/{job.pk}/results/"

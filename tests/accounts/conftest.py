"""A known world for the access tests: three accounts, two stocks and one running job owned by alice."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from jobs.models import AnalysisJob, JobStatus
from tests.factories import clear_universe, make_stock


@pytest.fixture
def accounts(db):
    User = get_user_model()
    return {
        # No passwords (force_login signs in): hashing one costs more than the request under test.
        "user": User.objects.create_user("alice"),
        "other": User.objects.create_user("bob"),
        "staff": User.objects.create_user("carol", is_staff=True, is_superuser=True),
    }


@pytest.fixture
def world(accounts, settings):
    settings.THETOOL_DATA_SOURCE = "demo"  # pages that draw charts never reach Yahoo
    clear_universe()
    make_stock("RELIANCE")
    make_stock("TCS")
    job = AnalysisJob.objects.create(
        analysis_key="k" * 64,
        status=JobStatus.PROCESSING,
        symbols=["TCS.NS"],
        total=1,
        capital=Decimal("100000"),
        risk_percent=Decimal("2"),
        max_position_percent=Decimal("10"),
        data_source="demo",
        requested_by="api:alice",
        requested_by_user=accounts["user"],
    )
    return {**accounts, "job": job}


@pytest.fixture
def closed(settings):
    """Sign-in required, as in production."""
    settings.THETOOL_OPEN_ACCESS = False
    return settings


@pytest.fixture
def client_as(client):
    def sign_in(user):
        if user is not None:
            client.force_login(user)
        return client

    return sign_in

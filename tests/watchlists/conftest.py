import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.factories import clear_universe, make_stock


@pytest.fixture
def people(db):
    User = get_user_model()
    return {"alice": User.objects.create_user("alice"), "bob": User.objects.create_user("bob")}


@pytest.fixture
def universe(db, settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    return {symbol: make_stock(symbol) for symbol in ("RELIANCE", "TCS", "INFY", "HDFCBANK")}


@pytest.fixture
def api_as():
    def client_for(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for

"""Sign-in pages in TheTool's look, the open-access banner, password change."""

import pytest
from django.contrib.auth import get_user_model

BANNER = "anyone who can reach this port can start and cancel jobs"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="correct horse battery staple")


def test_every_page_warns_while_open_access_is_on(world, client):
    for url in ("/", "/jobs/", "/strategies/", "/accounts/login/"):
        assert BANNER in client.get(url).content.decode(), url


def test_no_banner_when_sign_in_is_required(world, closed, client_as):
    assert BANNER not in client_as(world["user"]).get("/").content.decode()


def nav_links(client) -> list[str]:
    page = client.get("/").content.decode()
    nav = page.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    return [part.split(">", 1)[1].split("<", 1)[0] for part in nav.split("<a ")[1:]]


def test_the_menu_offers_what_the_visitor_can_use(world, client_as):
    # Watchlists (the daily loop's home) and alerts need an account; the admin is for staff.
    assert nav_links(client_as(None)) == ["All stocks", "Jobs", "Strategies"]
    assert nav_links(client_as(world["user"])) == ["All stocks", "Jobs", "Strategies", "Watchlists", "Alerts"]
    assert nav_links(client_as(world["staff"]))[-1] == "Admin"


def test_signing_in_returns_to_the_page_asked_for(alice, closed, client):
    assert client.get("/jobs/")["Location"] == "/accounts/login/?next=/jobs/"
    page = client.get("/accounts/login/?next=/jobs/").content.decode()
    assert 'class="site-header"' in page and 'name="next" value="/jobs/"' in page
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery staple", "next": "/jobs/"}
    )
    assert response["Location"] == "/jobs/"
    assert client.get("/jobs/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(alice, closed, client):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert client.get("/jobs/").status_code == 302


def test_signing_out_ends_the_session(alice, closed, client):
    client.force_login(alice)
    assert "Sign out" in client.get("/").content.decode()
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_a_user_changes_their_password(alice, closed, client):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "a much newer passphrase 42",
            "new_password2": "a much newer passphrase 42",
        },
    )
    assert response["Location"] == "/accounts/password/done/"
    alice.refresh_from_db()
    assert alice.check_password("a much newer passphrase 42")

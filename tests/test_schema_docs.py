"""/api/docs/ is Swagger UI served by TheTool itself (drf-spectacular-sidecar), never from a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_swagger_ui_only_from_our_static_files(client):
    page = client.get("/api/docs/").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the page names its scripts and styles"
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), asset
    assert "cdn." not in page and "@latest" not in page


def test_collectstatic_finds_the_swagger_ui_files_the_page_names(client):
    page = client.get("/api/docs/").text
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        assert finders.find(asset), f"{asset} would be missing after collectstatic"

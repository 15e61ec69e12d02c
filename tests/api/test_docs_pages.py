"""Swagger UI and ReDoc work offline: their pages load only assets the server itself serves."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.api.conftest import Api


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Script text names the document to load (`url: '/openapi.json'`, `spec-url="..."`) and may name more.
    parser.urls += re.findall(r"""(?:url|spec-url)["']?\s*[:=]\s*["']([^"']+)["']""", html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_same_origin_assets(api: Api, page: str) -> None:
    response = api.client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = _references(response.text)
    assert "/openapi.json" in urls
    assert not re.search(r"https?://|//[a-z]", response.text, re.IGNORECASE), "a page refers to another host"
    for url in urls:
        assert url.startswith("/"), url
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assets = [u for u in urls if u.startswith("/docs-assets/")]
    assert any(u.endswith(".js") for u in assets), urls


def test_docs_assets_have_their_media_types(api: Api) -> None:
    assert (
        api.client.get("/docs-assets/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert api.client.get("/docs-assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert api.client.get("/docs-assets/redoc.standalone.js").status_code == 200

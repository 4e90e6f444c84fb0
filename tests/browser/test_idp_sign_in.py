"""IdP sign-in (authorization code + PKCE) as deployed on AWS, with the IdP played by the test through routing.

The page reads `config.json`, sends the browser to the IdP's authorization endpoint with an S256 challenge,
and on return exchanges the code with its verifier. The test's IdP checks the verifier against the challenge
and hands back a token the local platform accepts, so the page then works as that user.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import LocalPlatform

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IDP = "https://idp.example.test/pool"
CLIENT_ID = "hosted-mcp-ui"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_idp_sign_in_uses_the_authorization_code_with_pkce(page: Any, platform: LocalPlatform) -> None:
    token = platform.token("carol", "research")
    seen: dict[str, Any] = {}

    def config(route: Route) -> None:
        route.fulfill(json={"apiBaseUrl": "", "oidc": {"authority": IDP, "clientId": CLIENT_ID, "scope": "openid"}})

    def idp(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.path.endswith("/.well-known/openid-configuration"):
            route.fulfill(
                json={"authorization_endpoint": f"{IDP}/authorize", "token_endpoint": f"{IDP}/token"},
                headers={"Access-Control-Allow-Origin": "*"},
            )
        elif url.path.endswith("/authorize"):
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen["authorize"] = query
            back = f"{query['redirect_uri']}?{urlencode({'code': 'the-code', 'state': query['state']})}"
            route.fulfill(status=302, headers={"Location": back})
        elif url.path.endswith("/token"):
            form = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
            seen["token"] = form
            if route.request.method == "OPTIONS":
                route.fulfill(status=204, headers=_cors())
                return
            valid = (
                form.get("code") == "the-code"
                and s256(form.get("code_verifier", "")) == seen["authorize"]["code_challenge"]
            )
            body = {"id_token": token, "token_type": "Bearer"} if valid else {"error": "invalid_grant"}
            route.fulfill(status=200 if valid else 400, json=body, headers=_cors())

    page.route("**/config.json", config)
    page.route(f"{IDP}/**", idp)

    # Given the deployed configuration names an IdP
    page.goto(f"{platform.url}/")
    expect(page.get_by_role("heading", name="Sign in with your organisation")).to_be_visible()

    # When the user signs in
    page.get_by_role("button", name="Sign in", exact=True).click()

    # Then the page asked for a code with an S256 challenge, redeemed it with the verifier, and works as carol
    expect(page.get_by_role("heading", name="My MCP servers", level=1)).to_be_visible()
    expect(page.locator("#who-name")).to_have_text("carol")
    authorize = seen["authorize"]
    assert authorize["response_type"] == "code"
    assert authorize["client_id"] == CLIENT_ID
    assert authorize["code_challenge_method"] == "S256"
    assert seen["token"]["grant_type"] == "authorization_code"
    assert s256(seen["token"]["code_verifier"]) == authorize["code_challenge"]
    assert "code=" not in page.url  # the code never lingers in the address bar
    assert json.loads(page.evaluate("JSON.stringify(Object.keys(sessionStorage))")) == ["hosted-mcp.credential"]


def _cors() -> dict[str, str]:
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}

"""The gateway decision both gateways run: who, which route or server, allowed or not."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.auth import Authenticator
from hosted_mcp.auth.decision import decide
from hosted_mcp.auth.roles import Role
from hosted_mcp.errors import Forbidden, Unauthorized
from hosted_mcp.logic import servers
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest
from hosted_mcp.models.domain import Caller
from hosted_mcp.models.fields import ServerStatus
from tests.support.lambdas import REPO_ROOT
from tests.support.tokens import TestIdp

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryServerStore:
    store = InMemoryServerStore()
    seed = Caller(username="seed", isAdmin=True)
    for name, groups in (("finance-tools", ["finance"]), ("public-tools", [])):
        request = CreateServerRequest(name=name, serverType="stdio", startCommand="python s.py", groups=groups)
        record = servers.create_server(store, request, seed, now=NOW)
        move(store, record, ServerStatus.IN_SERVICE, actor="seed", reason="ready", now=NOW)
    return store


def bearer(idp: TestIdp, username: str, groups: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {idp.mint(username, groups)}"}


def test_a_member_call_to_their_server_carries_the_server(
    authenticator: Authenticator, store: InMemoryServerStore, idp: TestIdp
) -> None:
    decision = decide(authenticator, store, "post", "/mcp/financetools/mcp", bearer(idp, "bob", ["finance"]))
    assert decision.caller is not None
    assert decision.caller.username == "bob"
    assert decision.server is not None
    assert decision.server.normalizedName == "financetools"


@pytest.mark.parametrize("path", ["/mcp/financetools/mcp", "/mcp/nosuchserver/mcp"])
def test_a_forbidden_and_a_missing_server_look_the_same(
    authenticator: Authenticator, store: InMemoryServerStore, idp: TestIdp, path: str
) -> None:
    with pytest.raises(Forbidden) as caught:
        decide(authenticator, store, "POST", path, bearer(idp, "carol", ["marketing"]))
    assert caught.value.message == "Not allowed to use this server"


def test_a_public_route_needs_no_credential_and_a_bad_one_is_still_refused_elsewhere(
    authenticator: Authenticator, store: InMemoryServerStore
) -> None:
    assert decide(authenticator, store, "GET", "/openapi.json", {}).role is Role.PUBLIC
    with pytest.raises(Unauthorized):
        decide(authenticator, store, "GET", "/connections", {"Authorization": "Bearer junk"})


def test_a_route_that_is_neither_management_nor_data_plane_is_forbidden(
    authenticator: Authenticator, store: InMemoryServerStore, idp: TestIdp
) -> None:
    with pytest.raises(Forbidden):
        decide(authenticator, store, "PATCH", "/mcp/financetools/mcp", bearer(idp, "alice", ["admins"]))


def test_idp_lockdown_applies_to_the_data_plane_too(
    make_authenticator: Any, store: InMemoryServerStore, idp: TestIdp
) -> None:
    locked = make_authenticator(idp_lockdown=True, user_group="platform-users")
    with pytest.raises(Forbidden):
        decide(locked, store, "POST", "/mcp/publictools/mcp", bearer(idp, "bob", ["finance"]))
    allowed = decide(locked, store, "POST", "/mcp/publictools/mcp", bearer(idp, "bob", ["platform-users"]))
    assert allowed.server is not None


def test_loading_the_authorizer_imports_neither_jwt_nor_cryptography_nor_boto3() -> None:
    # The cold start pays for these only when a request needs them.
    code = (
        "import sys, importlib.util\n"
        "spec = importlib.util.spec_from_file_location('authorizer_app', 'functions/authorizer/app.py')\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(sorted(m for m in ('jwt', 'cryptography', 'boto3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "shared", "PATH": ""},
    )
    assert result.stdout.strip() == "[]"


def test_an_admin_is_told_a_name_matches_no_server_but_still_needs_a_group_for_an_existing_one(
    authenticator: Authenticator, store: InMemoryServerStore, idp: TestIdp
) -> None:
    admin = bearer(idp, "alice", ["admins"])

    missing = decide(authenticator, store, "POST", "/mcp/nosuchserver/mcp", admin)

    assert missing.missing == "nosuchserver"
    assert missing.server is None
    with pytest.raises(Forbidden):
        decide(authenticator, store, "POST", "/mcp/financetools/mcp", admin)

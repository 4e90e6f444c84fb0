"""One test IdP per module (RSA key generation is the slow part) and an Authenticator over its keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hosted_mcp.auth import Authenticator, InMemoryApiKeyStore, RefreshingJwks
from tests.support.tokens import TestIdp


@pytest.fixture(scope="session")
def idp() -> TestIdp:
    return TestIdp()


@pytest.fixture(scope="session")
def attacker() -> TestIdp:
    """Another issuer's keys, published under the same key ids as the real one."""
    return TestIdp()


@pytest.fixture
def make_authenticator(idp: TestIdp) -> Callable[..., Authenticator]:
    def make(**settings: Any) -> Authenticator:
        return Authenticator(idp.settings(**settings), RefreshingJwks(idp.source()), InMemoryApiKeyStore())

    return make


@pytest.fixture
def authenticator(make_authenticator: Callable[..., Authenticator]) -> Authenticator:
    return make_authenticator()

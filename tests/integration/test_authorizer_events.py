"""Every sample in events/authorizer parses as an authorizer request and drives the real authorizer.

The samples carry a placeholder credential (as `sam local invoke -e` would send it): the authorizer answers 401.
With a real credential in its place, it answers a policy for exactly the sample's method ARN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hosted_mcp.auth.gateway import AuthorizerRequest
from tests.support.auth_platform import Platform, aws_auth_platform
from tests.support.events import event_paths, load_event
from tests.support.lambdas import FakeLambdaContext

SAMPLES = event_paths("authorizer")


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with aws_auth_platform() as running:
        yield running


def test_there_are_samples_for_management_connections_and_data_plane() -> None:
    assert {p.stem for p in SAMPLES} >= {"management-list", "connections", "data-plane-call", "data-plane-sse"}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_a_sample_parses_and_its_placeholder_credential_is_refused(platform: Platform, path: Path) -> None:
    event = load_event(f"authorizer/{path.name}")
    assert AuthorizerRequest.model_validate(event).methodArn == event["methodArn"]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        platform.authorizer.handler(event, FakeLambdaContext())


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_a_sample_with_a_real_credential_gets_a_policy_for_exactly_its_method_arn(
    platform: Platform, path: Path
) -> None:
    event = load_event(f"authorizer/{path.name}")
    event["headers"]["Authorization"] = platform.credentials["admin"]["Authorization"]
    answer = platform.authorizer.handler(event, FakeLambdaContext())
    statements = answer["policyDocument"]["Statement"]
    assert [s["Resource"] for s in statements] == [event["methodArn"]]
    assert statements[0]["Effect"] in ("Allow", "Deny")

"""The first-real-account script, offline: what it refuses to start without, the steps it plans and the commands
they run, how it reports times and stops at a failure. Nothing here reaches AWS or runs a command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools import aws_smoke
from tools.aws_smoke import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, Refused, Settings, Smoke, Step, run_steps

ENV = {
    "HOSTED_MCP_SMOKE_ACCOUNT": "123456789012",
    "HOSTED_MCP_SMOKE_REGION": "eu-west-1",
    "HOSTED_MCP_SMOKE_VPC_ID": "vpc-0abc1234def567890",
    "HOSTED_MCP_SMOKE_SUBNET_IDS": "subnet-0aaa1111bbbb22223, subnet-0ccc3333dddd44445",
    "HOSTED_MCP_SMOKE_AUTH_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
    "HOSTED_MCP_SMOKE_AUTH_AUDIENCE": "4l1ent1d",
    "HOSTED_MCP_SMOKE_TOKEN": "eyJ.secret.token",
}
DIGEST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hosted-mcp-stdio@sha256:" + "a" * 64


def settings(**changes: str) -> Settings:
    return Settings.from_environ({**ENV, **changes})


# -- refusing to start -------------------------------------------------------------------------------------------


def test_without_settings_it_refuses_naming_every_missing_one(capsys: pytest.CaptureFixture[str]) -> None:
    # When it is started with nothing set
    code = aws_smoke.main([], {})
    # Then it refuses, naming each setting it needs
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    for name in ("ACCOUNT", "REGION", "VPC_ID", "SUBNET_IDS", "AUTH_ISSUER", "AUTH_AUDIENCE"):
        assert f"HOSTED_MCP_SMOKE_{name} is not set" in err
    assert "no token" in err


@pytest.mark.parametrize("ci", ["CI", "GITHUB_ACTIONS", "CODEBUILD_BUILD_ID"])
def test_it_never_runs_in_ci_even_with_every_setting(ci: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert aws_smoke.main([], {**ENV, ci: "true"}) == EXIT_REFUSED
    assert "never runs in CI" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("ACCOUNT", "12345", "ACCOUNT must be 12 digits"),
        ("REGION", "Europe", "REGION is not a region name"),
        ("VPC_ID", "my-vpc", "VPC_ID is not a VPC id"),
        ("SUBNET_IDS", "subnet-0aaa1111bbbb22223", "SUBNET_IDS must be two or more subnet ids"),
        ("STDIO_IMAGE", "ghcr.io/acme/stdio:latest", "STDIO_IMAGE must name the image by digest"),
        ("STACK", "1-bad name", "STACK is not a stack name"),
    ],
)
def test_malformed_settings_are_named_and_their_values_never_shown(variable: str, value: str, problem: str) -> None:
    with pytest.raises(Refused) as refused:
        settings(**{f"HOSTED_MCP_SMOKE_{variable}": value})
    assert any(problem in p for p in refused.value.problems)
    assert value not in str(refused.value)


def test_a_cognito_sign_in_can_stand_in_for_a_token() -> None:
    env = {k: v for k, v in ENV.items() if k != "HOSTED_MCP_SMOKE_TOKEN"}
    with pytest.raises(Refused):
        Settings.from_environ(env | {"HOSTED_MCP_SMOKE_USERNAME": "ada"})
    chosen = Settings.from_environ(
        env
        | {
            "HOSTED_MCP_SMOKE_COGNITO_CLIENT_ID": "4l1ent1d",
            "HOSTED_MCP_SMOKE_USERNAME": "ada",
            "HOSTED_MCP_SMOKE_PASSWORD": "correct horse",
        }
    )
    assert (chosen.token, chosen.username) == (None, "ada")
    assert "correct horse" not in repr(chosen)


# -- the plan ----------------------------------------------------------------------------------------------------


def plan_of(**changes: str) -> list[dict[str, Any]]:
    return [{"step": s.name, "commands": s.commands} for s in Smoke(settings(**changes)).plan()]


def test_the_plan_deploys_builds_the_image_and_walks_a_server_through_its_lifecycle() -> None:
    names = [step["step"] for step in plan_of()]
    assert names == [
        "check the account and region",
        "sam build",
        "deploy the platform",
        "build and push the stdio base image",
        "build and push the router image",
        "pin the images by digest",
        "get a token",
        "create a stdio server",
        "wait for InService",
        "call a tool through API Gateway",
        "stop",
        "wait for Stopped",
        "start",
        "wait for InService again",
        "call the tool again",
        "delete",
        "wait until the server is gone",
        "tear the platform down",
    ]


def test_a_given_image_skips_its_build_and_keep_skips_the_tear_down() -> None:
    # Given the stdio base by digest, the router is still built and both are pinned
    plan = plan_of(HOSTED_MCP_SMOKE_STDIO_IMAGE=DIGEST, HOSTED_MCP_SMOKE_KEEP="1")
    names = [step["step"] for step in plan]
    assert "build and push the stdio base image" not in names
    assert "build and push the router image" in names
    pin = next(step for step in plan if step["step"] == "pin the images by digest")
    assert {f"StdioBaseImage={DIGEST}", "RouterImage=<digest>"} <= set(pin["commands"][0])
    assert "tear the platform down" not in names
    # And with both given, nothing is built or pinned again
    both = plan_of(HOSTED_MCP_SMOKE_STDIO_IMAGE=DIGEST, HOSTED_MCP_SMOKE_ROUTER_IMAGE=DIGEST)
    assert not [step for step in both if "image" in step["step"]]


def test_each_image_is_built_from_its_own_dockerfile_into_its_own_repository() -> None:
    builds = {step["step"]: step["commands"][0] for step in plan_of() if step["step"].startswith("build and push")}
    assert builds["build and push the stdio base image"][5:8] == [
        "images/stdio-base/Dockerfile", "--tag", "<StdioBaseRepositoryUri>:<git sha>",
    ]  # fmt: skip
    assert builds["build and push the router image"][5:8] == [
        "images/router/Dockerfile", "--tag", "<RouterRepositoryUri>:<git sha>",
    ]  # fmt: skip


def test_the_deploy_command_names_the_stack_region_and_parameters_and_never_prompts() -> None:
    chosen = settings(HOSTED_MCP_SMOKE_STDIO_IMAGE=DIGEST, HOSTED_MCP_SMOKE_SET_LOGS_ROLE="false")
    argv = aws_smoke.sam_deploy(chosen, chosen.images)
    assert argv[1:6] == ["deploy", "--stack-name", "hosted-mcp-smoke", "--region", "eu-west-1"]
    assert "--no-confirm-changeset" in argv
    overrides = argv[argv.index("--parameter-overrides") + 1 :]
    assert "VpcId=vpc-0abc1234def567890" in overrides
    assert "SubnetIds=subnet-0aaa1111bbbb22223,subnet-0ccc3333dddd44445" in overrides
    assert f"StdioBaseImage={DIGEST}" in overrides
    assert "SetApiGatewayAccountLogsRole=false" in overrides
    assert not any(o.startswith("StdioBaseImage=") for o in aws_smoke.sam_deploy(chosen, {})[6:])


def test_the_server_it_creates_is_a_valid_stdio_request_for_the_admin_group() -> None:
    from hosted_mcp.models.api import CreateServerRequest

    request = CreateServerRequest.model_validate(aws_smoke.server_request(settings()))
    assert request.serverType == "stdio"
    assert request.to_spec().groups == ["group:admin"]


def test_plan_mode_prints_the_steps_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[Any] = []
    original = aws_smoke._run
    aws_smoke._run = lambda argv: ran.append(argv) or ""  # type: ignore[assignment]
    try:
        assert aws_smoke.main(["--plan"], ENV) == EXIT_OK
    finally:
        aws_smoke._run = original
    printed = json.loads(capsys.readouterr().out)
    assert printed[2]["step"] == "deploy the platform"
    assert printed[2]["commands"][0][1] == "deploy"
    assert ran == []


# -- running and reporting ---------------------------------------------------------------------------------------


def test_steps_run_in_order_and_stop_at_the_first_failure_with_its_reason() -> None:
    done: list[str] = []

    def fail() -> None:
        raise RuntimeError("the server failed: image not found")

    steps = [Step("one", lambda: done.append("one")), Step("two", fail), Step("three", lambda: done.append("three"))]
    timings, code = run_steps(steps)
    assert code == EXIT_FAILED
    assert done == ["one"]
    assert [(t.name, t.outcome) for t in timings] == [
        ("one", "ok"),
        ("two", "FAILED: the server failed: image not found"),
    ]
    table = aws_smoke.report(timings)
    assert table.splitlines()[0].split() == ["step", "seconds", "outcome"]
    assert table.splitlines()[-1].startswith("total")


def test_the_wrong_account_is_refused_before_anything_changes() -> None:
    class Sts:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Account": "999999999999"}

    smoke = Smoke(settings())
    smoke._client = lambda service: Sts()  # type: ignore[method-assign]
    timings, code = run_steps(smoke.plan()[:2])
    assert code == EXIT_REFUSED
    assert len(timings) == 1
    assert "999999999999" in timings[0].outcome


def test_after_a_failure_the_cleanup_removes_the_server_before_the_platform() -> None:
    smoke = Smoke(settings())
    assert smoke.cleanup() == []  # nothing deployed yet
    smoke.outputs, smoke.server_id = {"ApiUrl": "https://x"}, "3f5a"
    assert [s.name for s in smoke.cleanup()] == ["delete the server", "wait until it is gone", "tear the platform down"]
    kept = Smoke(settings(HOSTED_MCP_SMOKE_KEEP="1"))
    kept.outputs, kept.server_id = smoke.outputs, smoke.server_id
    assert kept.cleanup() == []

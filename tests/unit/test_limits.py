"""Limits AWS or the operating system would enforce minutes after a 201, refused by the request models with the
field they are about (each rule here has an API test in tests/integration/test_api_limits.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hosted_mcp.errors import invalid_request_from
from hosted_mcp.models.api import READ_ONLY_FIELDS, CreateServerRequest
from hosted_mcp.models.limits import (
    CONTAINER_HEALTH_BOUNDS,
    LOAD_BALANCER_HEALTH_BOUNDS,
    PlatformLimits,
    configure_platform_limits,
    platform_limits,
    role_path_problem,
    spec_problems,
)
from hosted_mcp.wiring.settings import PlatformSettings


def platform_settings(environ: dict[str, str]) -> PlatformSettings:
    return PlatformSettings.from_environ({"SERVERS_TABLE_NAME": "servers", **environ})


MINIMAL: dict[str, Any] = {"name": "docs-mcp", "serverType": "stdio", "startCommand": "python main.py"}
ACCOUNT = "123456789012"


def refused(body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as raised:
        CreateServerRequest.model_validate({**MINIMAL, **body})
    problem = invalid_request_from(raised.value, READ_ONLY_FIELDS).problems[0]
    return problem.field, problem.message


def accepted(body: dict[str, Any]) -> CreateServerRequest:
    return CreateServerRequest.model_validate({**MINIMAL, **body})


# -- health checks ------------------------------------------------------------------------------------------------


def _edges(bounds: dict[str, tuple[int, int]]) -> list[tuple[str, int, bool]]:
    return [(key, value, ok) for key, (low, high) in bounds.items() for value, ok in
            ((low - 1, False), (low, True), (high, True), (high + 1, False))]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "ok"), _edges(CONTAINER_HEALTH_BOUNDS))
def test_container_health_checks_stay_inside_what_ecs_accepts(key: str, value: int, ok: bool) -> None:
    # Given a container health check at (or one past) an edge ECS documents
    check: dict[str, Any] = {key: value}
    if key == "timeout":
        check["interval"] = 300
    body = {"containerHealthCheckConfig": check}
    # Then it is accepted exactly inside the bounds, and refused naming the field outside them
    if ok:
        assert accepted(body).containerHealthCheckConfig.model_dump()[key] == value
    else:
        assert refused(body)[0] == f"containerHealthCheckConfig.{key}"


def test_the_container_timeout_bound_is_ecs_s_sixty_seconds_not_the_old_hundred_twenty() -> None:
    assert refused({"containerHealthCheckConfig": {"timeout": 90, "interval": 120}}) == (
        "containerHealthCheckConfig.timeout",
        "must be between 2 and 60",
    )


@pytest.mark.parametrize(("key", "value", "ok"), _edges(LOAD_BALANCER_HEALTH_BOUNDS))
def test_load_balancer_health_checks_stay_inside_what_elb_accepts(key: str, value: int, ok: bool) -> None:
    check: dict[str, Any] = {key: value}
    if key == "timeout":
        check["interval"] = 300
    if key == "interval" and value < 10:
        check["timeout"] = 2
    body = {"loadBalancerConfig": {"healthCheckConfig": check}}
    if ok:
        accepted(body)
    else:
        assert refused(body)[0] == f"loadBalancerConfig.healthCheckConfig.{key}"


# -- environment --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "field"),
    [
        ({"TOKEN": "abc\x00def"}, "environment.TOKEN"),
        ({"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, "environment.ECS_CONTAINER_METADATA_URI_V4"),
        ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/x"}, "environment.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        ({f"V{i}": "x" for i in range(201)}, "environment"),
        ({f"V{i}": "x" * 4000 for i in range(9)}, "environment"),  # 36 KB
    ],
    ids=["nul", "ecs-reserved", "credentials-reserved", "too-many", "too-large"],
)
def test_environments_the_container_would_refuse_are_refused(environment: dict[str, str], field: str) -> None:
    assert refused({"environment": environment})[0] == field


def test_the_request_state_key_is_the_platforms_to_set_on_both_runtimes() -> None:
    from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE
    from hosted_mcp_local.launch import environment

    # Given the variable every replica of a server shares its MRTR key in (the AWS stack and the local supervisor)
    spec = accepted({}).to_spec()
    env = environment(spec, server="s", replica=0, port=1, tag="t", interpreter_dir="/bin", secret="k")
    assert env[REQUEST_STATE_KEY_VARIABLE] == "k"
    assert REQUEST_STATE_KEY_VARIABLE == "HOSTED_MCP_REQUEST_STATE_KEY"
    REQUEST_STATE_KEY = REQUEST_STATE_KEY_VARIABLE
    # Then a client cannot set it: it would clash with the secret ECS injects under the same name
    assert refused({"environment": {REQUEST_STATE_KEY_VARIABLE: "guessable"}})[0] == f"environment.{REQUEST_STATE_KEY}"


def test_an_ordinary_environment_is_fine() -> None:
    environment = {"AWS_REGION": "eu-west-1", "LOG_LEVEL": "debug", "GREETING": "héllo wörld"}
    assert accepted({"environment": environment}).environment == environment


# -- the start command --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["python 'main.py", 'node "server.js', "python main.py \\", "run \x00 now", "''"])
def test_a_start_command_that_does_not_split_into_words_is_refused(command: str) -> None:
    assert refused({"startCommand": command})[0] == "startCommand"


def test_a_quoted_start_command_splits_like_a_shell_would() -> None:
    request = accepted({"startCommand": "python main.py --root 'my dir' --name \"a b\""})
    assert request.startCommand.endswith('"a b"')


# -- names and descriptions ---------------------------------------------------------------------------------------

CYRILLIC_O = "\u043e"
RIGHT_TO_LEFT_OVERRIDE = "\u202e"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (f"{CYRILLIC_O}pen", "CYRILLIC SMALL LETTER O"),
        (f"docs{RIGHT_TO_LEFT_OVERRIDE}fdp", "RIGHT-TO-LEFT OVERRIDE"),
        ("docs\x00mcp", "U+0000"),
        ("d\u00f6cs", "LATIN SMALL LETTER O WITH DIAERESIS"),
        ("docs\u200bmcp", "ZERO WIDTH SPACE"),
    ],
    ids=["cyrillic-o", "rtl-override", "nul", "o-umlaut", "zero-width-space"],
)
def test_a_name_that_is_not_ascii_after_nfkc_is_refused_and_the_character_named(name: str, shown: str) -> None:
    field, message = refused({"name": name})
    assert field == "name"
    assert shown in message


def test_compatibility_forms_fold_to_ascii_and_are_stored_folded() -> None:
    # Given a name typed with full-width letters, which NFKC folds to plain ASCII
    request = accepted({"name": "\uff44\uff4f\uff43\uff53-mcp"})
    # Then it is the plain name, in the record and in the URL
    assert request.name == "docs-mcp"
    assert request.to_spec().name == "docs-mcp"


@pytest.mark.parametrize("description", [f"tools {RIGHT_TO_LEFT_OVERRIDE}gpj.exe", "bell\x07", "nul\x00"])
def test_descriptions_may_be_any_language_but_hold_no_controls(description: str) -> None:
    assert refused({"description": description})[0] == "description"
    assert accepted({"description": "Outils de la base de connaissances\n\u2014 \u77e5\u8b58"}).description


# -- images, artifacts, roles -------------------------------------------------------------------------------------


def test_an_image_reference_longer_than_ecs_accepts_is_refused() -> None:
    assert refused({"image": "registry.example/" + "a" * 250})[0] == "image"
    accepted({"image": "registry.example/team/tools@sha256:" + "0" * 64})


@pytest.mark.parametrize("s3_path", ["Bucket_Upper/x", "ab/x", "s3://-bucket/x", "a..b/c"])
def test_an_artifact_path_must_name_a_valid_bucket(s3_path: str) -> None:
    assert refused({"s3Path": s3_path})[0] == "s3Path"


@pytest.mark.parametrize("field", ["taskRoleArn", "taskExecutionRoleArn"])
def test_task_roles_must_live_under_the_path_the_platform_may_pass(field: str) -> None:
    outside = f"arn:aws:iam::{ACCOUNT}:role/admin"
    deeper = f"arn:aws:iam::{ACCOUNT}:role/hosted-mcp/team-a/reader"
    assert refused({field: outside}) == (
        field,
        "must be a role under the path /hosted-mcp/ (the platform may pass only those to tasks)",
    )
    assert getattr(accepted({field: deeper}), field) == deeper


def test_the_passable_path_is_the_platforms_own() -> None:
    # Given a platform deployed with PassableRolePath=servers/prod/ (the API function's SERVER_ROLE_PATH)
    before = platform_limits()
    configure_platform_limits(platform_settings({"SERVER_ROLE_PATH": "/servers/prod"}).limits())
    try:
        # Then roles under that path are accepted and the default path is not
        accepted({"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/servers/prod/reader"})
        assert refused({"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/hosted-mcp/reader"})[0] == "taskRoleArn"
    finally:
        configure_platform_limits(before)
    assert platform_settings({}).limits() == PlatformLimits()


def test_a_role_path_is_matched_on_whole_segments() -> None:
    assert role_path_problem(f"arn:aws:iam::{ACCOUNT}:role/hosted-mcp-evil/x", "/hosted-mcp/") is not None
    assert role_path_problem(f"arn:aws:iam::{ACCOUNT}:role/hosted-mcp/x", "/hosted-mcp/") is None


# -- every problem at once, for updates ---------------------------------------------------------------------------


def test_spec_problems_lists_every_broken_limit() -> None:
    spec = (
        accepted({})
        .to_spec()
        .model_copy(update={"startCommand": "python 'x", "environment": {"A": "\x00"}, "image": "x" * 300})
    )
    assert [p.field for p in spec_problems(spec)] == ["startCommand", "environment.A", "image"]

"""What AWS (or the operating system) would refuse minutes after a 201, refused at the API instead.

Each rule names the field it is about, so the API answers 400 with that field and writes nothing. The rules apply to
what a client sends (create and update bodies), never to records already stored: a record accepted under older rules
still loads, and the deployment says what is wrong with it.

| rule | refused by, otherwise |
|---|---|
| container health check: timeout 2-60 s, interval 5-300, retries 1-10, startPeriod 0-300 | ECS RegisterTaskDefinition |
| load-balancer health check: interval 5-300 s, timeout 2-120 and below the interval, thresholds 2-10 | ELB |
| `image` at most 255 characters | ECS RegisterTaskDefinition |
| `s3Path` names a valid bucket | S3, when the task syncs its artifacts |
| given task roles live under the path the platform may pass (`SERVER_ROLE_PATH`) | IAM PassRole in the stack |
| the server's stack template at most 51,200 bytes (`TemplateBody`) | CloudFormation CreateStack/UpdateStack |
| environment: names not reserved by ECS or the platform, no NUL, at most 200 variables and 32 KiB | ECS agent, execve |
| `startCommand` splits like a shell would split it (balanced quotes) | the synthesizer, at deploy time |
| `name` is ASCII after NFKC (no look-alike letters, controls, bidi overrides) | silently dropped from the URL |
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from hosted_mcp.errors import FieldProblem
from hosted_mcp.models.fields import REQUEST_STATE_KEY_VARIABLE, Description, ServerName
from hosted_mcp.models.stack_size import template_size_problem

# -- ECS and ELB bounds ------------------------------------------------------------------------------------------

CONTAINER_HEALTH_BOUNDS: dict[str, tuple[int, int]] = {
    "timeout": (2, 60),
    "interval": (5, 300),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}
LOAD_BALANCER_HEALTH_BOUNDS: dict[str, tuple[int, int]] = {
    "interval": (5, 300),
    "timeout": (2, 120),
    "healthyThresholdCount": (2, 10),
    "unhealthyThresholdCount": (2, 10),
}
MAX_IMAGE_CHARS = 255

# -- environment -------------------------------------------------------------------------------------------------

MAX_ENV_VARIABLES = 200
MAX_ENV_BYTES = 32 * 1024  # NAME=VALUE\0 for every variable, in UTF-8
# Set by the Fargate agent for the task itself: overriding them breaks credentials and metadata.
RESERVED_ENV_PREFIXES = ("ECS_", "AWS_CONTAINER_")
RESERVED_ENV_NAMES = frozenset({"AWS_EXECUTION_ENV", REQUEST_STATE_KEY_VARIABLE})

# -- artifacts ---------------------------------------------------------------------------------------------------

_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# -- text --------------------------------------------------------------------------------------------------------

_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class PlatformLimits:
    """Limits that depend on how the platform was deployed (the AWS composition root sets them at cold start)."""

    role_path: str = "/hosted-mcp/"


_platform = PlatformLimits()


def platform_limits() -> PlatformLimits:
    return _platform


def configure_platform_limits(limits: PlatformLimits) -> None:
    """Set once per process by the composition root (the API function reads `SERVER_ROLE_PATH`)."""
    global _platform
    _platform = limits


# -- the rules ---------------------------------------------------------------------------------------------------


def ascii_name_problem(name: str) -> str | None:
    """Why `name` (already NFKC-normalized) is refused, or None.

    Policy: ASCII only. A name becomes a URL path segment and resource names that hold only `[a-z0-9]`; anything
    else is dropped when it is normalized, so `open` spelled with a Cyrillic `o` (U+043E) would silently be served at
    `/mcp/pen/`,
    and two names that look identical could land at different URLs. A confusables table (Unicode TS #39) would
    still let the URL differ from the name people read; refusing non-ASCII is total and needs no table.
    """
    for position, char in enumerate(name):
        if not _PRINTABLE_ASCII.match(char):
            label = unicodedata.name(char, "a control character")
            return f"must be printable ASCII: {label} (U+{ord(char):04X}) at position {position}"
    return None


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


_BIDI_CONTROLS = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def text_problem(text: str) -> str | None:
    """Free text (a description): any letters, but no control or bidirectional-control characters."""
    for char in text:
        control = unicodedata.category(char) == "Cc" and char not in "\t\n"
        if control or unicodedata.bidirectional(char) in _BIDI_CONTROLS:
            return f"must not contain U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
    return None


def split_command(command: str) -> list[str]:
    """The argv of a start command, split like a POSIX shell splits words (never run by one)."""
    return shlex.split(command)


def start_command_problem(command: str) -> str | None:
    if "\x00" in command:
        return "must not contain NUL"
    try:
        argv = split_command(command)
    except ValueError as error:
        return f"does not split into words: {error} (quote or escape it as a shell would)"
    if not argv or not argv[0]:
        return "must name a program"
    return None


def environment_problems(environment: dict[str, str]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if len(environment) > MAX_ENV_VARIABLES:
        problems.append(FieldProblem("environment", f"at most {MAX_ENV_VARIABLES} variables"))
    for name, value in environment.items():
        if name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES):
            problems.append(FieldProblem(f"environment.{name}", "is set by the platform itself"))
        if "\x00" in value:
            problems.append(FieldProblem(f"environment.{name}", "must not contain NUL"))
    size = sum(len(name.encode()) + len(value.encode()) + 2 for name, value in environment.items())
    if size > MAX_ENV_BYTES:
        problems.append(FieldProblem("environment", f"takes {size} bytes; at most {MAX_ENV_BYTES} in all"))
    return problems


def _bounds_problems(prefix: str, values: dict[str, int], bounds: dict[str, tuple[int, int]]) -> list[FieldProblem]:
    problems = []
    for key, (low, high) in bounds.items():
        value = values[key]
        if not low <= value <= high:
            problems.append(FieldProblem(f"{prefix}.{key}", f"must be between {low} and {high}"))
    return problems


def role_path_problem(role_arn: str, role_path: str) -> str | None:
    """A role the platform's stacks may pass to tasks lives directly or deeper under `role_path`."""
    path = "/" + role_arn.split(":role/", 1)[-1]
    path = path[: path.rfind("/") + 1]
    if not path.startswith(role_path):
        return f"must be a role under the path {role_path} (the platform may pass only those to tasks)"
    return None


def artifact_bucket_problem(s3_path: str) -> str | None:
    bucket = s3_path.removeprefix("s3://").strip("/").partition("/")[0]
    if not _BUCKET.match(bucket):
        return f"{bucket!r} is not a valid S3 bucket name"
    return None


def spec_problems(spec: Any, limits: PlatformLimits | None = None) -> list[FieldProblem]:
    """Every limit `spec` (a ServerSpec, as it would be deployed) breaks, each naming its field."""
    limits = limits or platform_limits()
    problems: list[FieldProblem] = []
    problem = start_command_problem(spec.startCommand)
    if problem:
        problems.append(FieldProblem("startCommand", problem))
    problems += environment_problems(spec.environment)
    check = spec.containerHealthCheckConfig
    problems += _bounds_problems("containerHealthCheckConfig", check.model_dump(), CONTAINER_HEALTH_BOUNDS)
    balancer = spec.loadBalancerConfig.healthCheckConfig
    problems += _bounds_problems(
        "loadBalancerConfig.healthCheckConfig", balancer.model_dump(), LOAD_BALANCER_HEALTH_BOUNDS
    )
    if spec.image is not None and len(spec.image) > MAX_IMAGE_CHARS:
        problems.append(FieldProblem("image", f"at most {MAX_IMAGE_CHARS} characters"))
    if spec.s3Path is not None:
        problem = artifact_bucket_problem(spec.s3Path)
        if problem:
            problems.append(FieldProblem("s3Path", problem))
    for field in ("taskRoleArn", "taskExecutionRoleArn"):
        arn = getattr(spec, field)
        problem = role_path_problem(arn, limits.role_path) if arn else None
        if problem:
            problems.append(FieldProblem(field, problem))
    if not problems:  # the size only means something for an otherwise valid spec
        problem_at = template_size_problem(spec)
        if problem_at:
            problems.append(FieldProblem(*problem_at))
    return problems


# -- input types --------------------------------------------------------------------------------------------------


def _ascii_name(name: str) -> str:
    name = nfkc(name)
    problem = ascii_name_problem(name)
    if problem:
        raise PydanticCustomError("rule", problem, {"field": "name"})
    return name


def _plain_description(description: str) -> str:
    problem = text_problem(description)
    if problem:
        raise PydanticCustomError("rule", problem, {"field": "description"})
    return description


AsciiName = Annotated[ServerName, AfterValidator(_ascii_name)]
PlainDescription = Annotated[Description, AfterValidator(_plain_description)]

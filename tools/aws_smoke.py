"""A first real deployment, end to end and timed: `make aws-smoke` (never in CI: it costs money and needs an account).

Deploys the platform stack, builds and pushes the images we own (the stdio base, the data-plane router) into the
stack's own ECR repositories and pins them by digest, creates a stdio server, calls one of its tools through API
Gateway with a real token (the official MCP Python SDK client), stops it, starts it, calls it again, deletes it, and
tears the platform down (its retained tables too).
Each step's time is printed at the end, also when a step fails.

Nothing runs without explicit settings, all from the environment:

  HOSTED_MCP_SMOKE_ACCOUNT        the 12-digit account to deploy into (must be the one your credentials reach)
  HOSTED_MCP_SMOKE_REGION         the region (never taken from a profile's default)
  HOSTED_MCP_SMOKE_VPC_ID         an existing VPC ...
  HOSTED_MCP_SMOKE_SUBNET_IDS     ... and two or more of its private subnets (comma-separated) with a route to AWS
                                  APIs, ECR and PyPI (the smoke server runs `uvx mcp-server-time`)
  HOSTED_MCP_SMOKE_AUTH_ISSUER    the OIDC issuer whose tokens the API accepts (e.g. a Cognito user pool)
  HOSTED_MCP_SMOKE_AUTH_AUDIENCE  the app client id (the token's `aud`)
  and a token of a member of the admin group: HOSTED_MCP_SMOKE_TOKEN, or a Cognito user-password sign-in with
  HOSTED_MCP_SMOKE_COGNITO_CLIENT_ID, HOSTED_MCP_SMOKE_USERNAME and HOSTED_MCP_SMOKE_PASSWORD (the app client must
  allow USER_PASSWORD_AUTH).

Optional: HOSTED_MCP_SMOKE_STACK (default hosted-mcp-smoke), HOSTED_MCP_SMOKE_STDIO_IMAGE and
HOSTED_MCP_SMOKE_ROUTER_IMAGE (image references by digest; without one the script builds ours, which needs docker),
HOSTED_MCP_SMOKE_START_COMMAND,
HOSTED_MCP_SMOKE_ADMIN_GROUP (default admin), HOSTED_MCP_SMOKE_SET_LOGS_ROLE (false when the account already has an
API Gateway CloudWatch role), HOSTED_MCP_SMOKE_KEEP=1 (leave everything deployed).

    python tools/aws_smoke.py           # run it
    python tools/aws_smoke.py --plan    # print the steps and commands, run nothing
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAM = REPO / ".tools" / "sam" / "bin" / "sam"
PREFIX = "HOSTED_MCP_SMOKE_"
REQUIRED = {
    "ACCOUNT": "the 12-digit account to deploy into",
    "REGION": "the region to deploy into",
    "VPC_ID": "an existing VPC",
    "SUBNET_IDS": "two or more private subnets of that VPC, comma-separated",
    "AUTH_ISSUER": "the OIDC issuer whose tokens the API accepts",
    "AUTH_AUDIENCE": "the app client id tokens are issued to",
}
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CODEBUILD_BUILD_ID", "JENKINS_URL")
DEFAULT_START_COMMAND = "uvx --from mcp-server-time==2026.10.19 mcp-server-time"
SERVER_NAME = "smoke-time"
WAIT_SECONDS = {"InService": 1800, "Stopped": 900, "Deleted": 900}

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


@dataclass(frozen=True)
class Image:
    """An image we own: the template parameter that pins it, its Dockerfile, the stack output naming its repository,
    the setting that may give it instead."""

    label: str
    parameter: str
    dockerfile: str
    repository_output: str
    setting: str


IMAGES = (
    Image("stdio base", "StdioBaseImage", "images/stdio-base/Dockerfile", "StdioBaseRepositoryUri", "STDIO_IMAGE"),
    Image("router", "RouterImage", "images/router/Dockerfile", "RouterRepositoryUri", "ROUTER_IMAGE"),
)


class Refused(Exception):
    """The smoke test will not start: settings missing or wrong, or it is running in CI."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    account: str
    region: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    auth_issuer: str
    auth_audience: str
    stack: str = "hosted-mcp-smoke"
    token: str | None = None
    cognito_client_id: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    images: dict[str, str] = field(default_factory=dict)  # template parameter -> image by digest, given
    start_command: str = DEFAULT_START_COMMAND
    admin_group: str = "admin"
    set_logs_role: bool = True
    keep: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from HOSTED_MCP_SMOKE_* variables; Refused names every one missing or malformed, never a value."""
        for name in CI_VARIABLES:
            if environ.get(name):
                raise Refused([f"{name} is set: the smoke test deploys real resources and never runs in CI"])

        def get(name: str) -> str:
            return environ.get(PREFIX + name, "").strip()

        problems = [f"{PREFIX}{name} is not set ({what})" for name, what in REQUIRED.items() if not get(name)]
        if get("ACCOUNT") and not re.fullmatch(r"[0-9]{12}", get("ACCOUNT")):
            problems.append(f"{PREFIX}ACCOUNT must be 12 digits")
        if get("REGION") and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", get("REGION")):
            problems.append(f"{PREFIX}REGION is not a region name")
        if get("VPC_ID") and not re.fullmatch(r"vpc-[0-9a-f]{8,17}", get("VPC_ID")):
            problems.append(f"{PREFIX}VPC_ID is not a VPC id")
        subnets = tuple(s.strip() for s in get("SUBNET_IDS").split(",") if s.strip())
        if get("SUBNET_IDS") and (
            len(subnets) < 2 or not all(re.fullmatch(r"subnet-[0-9a-f]{8,17}", s) for s in subnets)
        ):
            problems.append(f"{PREFIX}SUBNET_IDS must be two or more subnet ids")
        token, cognito = get("TOKEN"), [get("COGNITO_CLIENT_ID"), get("USERNAME"), get("PASSWORD")]
        if not token and not all(cognito):
            problems.append(
                f"no token: set {PREFIX}TOKEN, or {PREFIX}COGNITO_CLIENT_ID, {PREFIX}USERNAME and {PREFIX}PASSWORD"
            )
        images = {image.parameter: get(image.setting) for image in IMAGES if get(image.setting)}
        for image in IMAGES:
            if get(image.setting) and "@sha256:" not in get(image.setting):
                problems.append(f"{PREFIX}{image.setting} must name the image by digest (...@sha256:...)")
        stack = get("STACK") or cls.stack
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,63}", stack):
            problems.append(f"{PREFIX}STACK is not a stack name")
        if problems:
            raise Refused(problems)
        return cls(
            account=get("ACCOUNT"),
            region=get("REGION"),
            vpc_id=get("VPC_ID"),
            subnet_ids=subnets,
            auth_issuer=get("AUTH_ISSUER"),
            auth_audience=get("AUTH_AUDIENCE"),
            stack=stack,
            token=token or None,
            cognito_client_id=cognito[0] or None,
            username=cognito[1] or None,
            password=cognito[2] or None,
            images=images,
            start_command=get("START_COMMAND") or DEFAULT_START_COMMAND,
            admin_group=get("ADMIN_GROUP") or "admin",
            set_logs_role=get("SET_LOGS_ROLE").lower() != "false",
            keep=get("KEEP") in ("1", "true", "yes"),
        )


# -- commands -----------------------------------------------------------------------------------------------------


def parameter_overrides(settings: Settings, images: Mapping[str, str]) -> list[str]:
    overrides = {
        "VpcId": settings.vpc_id,
        "SubnetIds": ",".join(settings.subnet_ids),
        "AuthIssuer": settings.auth_issuer,
        "AuthAudience": settings.auth_audience,
        "AuthAdminGroup": settings.admin_group,
        "AuthRequireNbf": "false",
        "SetApiGatewayAccountLogsRole": "true" if settings.set_logs_role else "false",
    }
    overrides.update(images)
    return [f"{key}={value}" for key, value in overrides.items()]


def sam_build() -> list[str]:
    return [str(SAM), "build", "--template", "template.yaml"]


def sam_deploy(settings: Settings, images: Mapping[str, str]) -> list[str]:
    return [
        str(SAM), "deploy",
        "--stack-name", settings.stack,
        "--region", settings.region,
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--resolve-s3",
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
        "--parameter-overrides", *parameter_overrides(settings, images),
    ]  # fmt: skip


def sam_delete(settings: Settings) -> list[str]:
    return [str(SAM), "delete", "--stack-name", settings.stack, "--region", settings.region, "--no-prompts"]


def docker_build(dockerfile: str, repository_uri: str, tag: str) -> list[str]:
    return [
        "docker", "build", "--platform", "linux/amd64",
        "--file", dockerfile, "--tag", f"{repository_uri}:{tag}", ".",
    ]  # fmt: skip


def server_request(settings: Settings) -> dict[str, Any]:
    return {
        "name": SERVER_NAME,
        "description": "aws-smoke: a stdio server from PyPI behind the platform's bridge",
        "serverType": "stdio",
        "startCommand": settings.start_command,
        "groups": [settings.admin_group],
        "containerHealthCheckConfig": {"startPeriod": 120, "interval": 30, "timeout": 10, "retries": 3},
    }


# -- running ------------------------------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    run: Callable[[], object]
    commands: list[list[str]] = field(default_factory=list)


@dataclass
class Timing:
    name: str
    seconds: float
    outcome: str


@dataclass
class Smoke:
    """The state the steps share while they run against the account."""

    settings: Settings
    runner: Callable[[Sequence[str]], str] = field(default=lambda argv: _run(argv))
    outputs: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # template parameter -> image by digest, pushed here
    token: str = ""
    server_id: str = ""
    server_url: str = ""

    # -- the plan ---------------------------------------------------------------------------------------------

    def plan(self) -> list[Step]:
        s = self.settings
        steps = [
            Step("check the account and region", self.preflight),
            Step("sam build", lambda: self._sh(sam_build()), [sam_build()]),
            Step("deploy the platform", self.deploy, [sam_deploy(s, s.images)]),
        ]
        missing = [image for image in IMAGES if image.parameter not in s.images]
        for image in missing:
            steps.append(
                Step(
                    f"build and push the {image.label} image",
                    lambda image=image: self.push_image(image),  # type: ignore[misc]
                    [
                        docker_build(image.dockerfile, f"<{image.repository_output}>", "<git sha>"),
                        ["docker", "push", "<image>"],
                    ],
                )
            )
        if missing:
            pinned = {**s.images, **{image.parameter: "<digest>" for image in missing}}
            steps.append(Step("pin the images by digest", self.deploy, [sam_deploy(s, pinned)]))
        steps += [
            Step("get a token", self.sign_in),
            Step("create a stdio server", self.create),
            Step("wait for InService", lambda: self.wait_for("InService")),
            Step("call a tool through API Gateway", self.call_tool),
            Step("stop", lambda: self.update({"enabled": False})),
            Step("wait for Stopped", lambda: self.wait_for("Stopped")),
            Step("start", lambda: self.update({"enabled": True})),
            Step("wait for InService again", lambda: self.wait_for("InService")),
            Step("call the tool again", self.call_tool),
            Step("delete", self.delete),
            Step("wait until the server is gone", lambda: self.wait_for("Deleted")),
        ]
        if not s.keep:
            steps.append(Step("tear the platform down", self.tear_down, [sam_delete(s)]))
        return steps

    def cleanup(self) -> list[Step]:
        """After a failure: remove the server (its stack registers in the platform's namespace), then the platform;
        nothing when asked to keep everything."""
        if self.settings.keep:
            return []
        steps = []
        if self.server_id:
            steps += [
                Step("delete the server", self.delete),
                Step("wait until it is gone", lambda: self.wait_for("Deleted")),
            ]
        if self.outputs:
            steps.append(Step("tear the platform down", self.tear_down, [sam_delete(self.settings)]))
        return steps

    # -- steps ------------------------------------------------------------------------------------------------

    def _sh(self, argv: Sequence[str]) -> str:
        return self.runner(argv)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.settings.region)

    def preflight(self) -> None:
        account = self._client("sts").get_caller_identity()["Account"]
        if account != self.settings.account:
            raise Refused([f"your credentials reach account {account}, not {PREFIX}ACCOUNT"])

    def deploy(self) -> None:
        self._sh(sam_deploy(self.settings, {**self.settings.images, **self.images}))
        stack = self._client("cloudformation").describe_stacks(StackName=self.settings.stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def push_image(self, image: Image) -> None:
        uri = self.outputs[image.repository_output]
        tag = self._sh(["git", "rev-parse", "--short=12", "HEAD"]).strip() + f"-{int(time.time())}"
        ecr = self._client("ecr")
        auth = ecr.get_authorization_token()["authorizationData"][0]
        import base64

        password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)[1]
        subprocess.run(
            ["docker", "login", "--username", "AWS", "--password-stdin", auth["proxyEndpoint"]],
            input=password, text=True, check=True, capture_output=True,
        )  # fmt: skip
        self._sh(docker_build(image.dockerfile, uri, tag))
        self._sh(["docker", "push", f"{uri}:{tag}"])
        repository = uri.split("/", 1)[1]
        digest = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
        self.images[image.parameter] = f"{uri}@{digest['imageDigest']}"

    def sign_in(self) -> None:
        s = self.settings
        if s.token:
            self.token = s.token
            return
        answer = self._client("cognito-idp").initiate_auth(
            ClientId=s.cognito_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": s.username, "PASSWORD": s.password},
        )
        self.token = answer["AuthenticationResult"]["IdToken"]

    def _api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        import httpx

        url = self.outputs["ApiUrl"].rstrip("/") + path
        answer = httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        return answer.status_code, (answer.json() if answer.content else None)

    def create(self) -> None:
        status, body = self._api("POST", "/mcp", server_request(self.settings))
        if status != 201:
            raise RuntimeError(f"create answered {status}: {body}")
        self.server_id, self.server_url = body["id"], body["url"]

    def update(self, change: dict[str, Any]) -> None:
        status, body = self._api("PUT", f"/mcp/{self.server_id}", change)
        if status != 200:
            raise RuntimeError(f"update answered {status}: {body}")

    def delete(self) -> None:
        status, body = self._api("DELETE", f"/mcp/{self.server_id}")
        if status not in (200, 202, 204):
            raise RuntimeError(f"delete answered {status}: {body}")

    def wait_for(self, wanted: str) -> None:
        deadline, last = time.monotonic() + WAIT_SECONDS[wanted], None
        while time.monotonic() < deadline:
            status, body = self._api("GET", f"/mcp/{self.server_id}")
            current = "Deleted" if status == 404 else (body or {}).get("status")
            if current != last:
                print(f"    status: {current}", flush=True)
                last = current
            if current == wanted:
                return
            if current == "Failed":
                raise RuntimeError(f"the server failed: {(body or {}).get('lastError')}")
            time.sleep(10)
        raise RuntimeError(f"no {wanted} after {WAIT_SECONDS[wanted]} s (last status {last})")

    def call_tool(self) -> None:
        import asyncio

        import httpx2
        from mcp.client.session import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async def call() -> str:
            headers = {"Authorization": f"Bearer {self.token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                streamable_http_client(self.server_url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                if "get_current_time" not in tools:
                    raise RuntimeError(f"the server offers {sorted(tools)}, not get_current_time")
                result = await session.call_tool("get_current_time", {"timezone": "UTC"})
                return " ".join(getattr(c, "text", "") for c in result.content)

        print(f"    answer: {asyncio.run(call())[:200]}", flush=True)

    def tear_down(self) -> None:
        tables = [self.outputs[key] for key in ("ServersTableName", "ApiKeysTableName") if key in self.outputs]
        self._sh(sam_delete(self.settings))
        dynamodb = self._client("dynamodb")
        for table in tables:  # retained by the stack (DeletionPolicy: Retain) so data survives a mistaken delete
            dynamodb.delete_table(TableName=table)
            print(f"    deleted the retained table {table}", flush=True)


def _run(argv: Sequence[str]) -> str:
    print("    $ " + " ".join(argv), flush=True)
    done = subprocess.run(list(argv), cwd=REPO, check=True, text=True, stdout=subprocess.PIPE)
    return done.stdout


def run_steps(steps: list[Step]) -> tuple[list[Timing], int]:
    """Run the steps in order, timing each; stop at the first failure."""
    timings: list[Timing] = []
    for step in steps:
        print(f"==> {step.name}", flush=True)
        started = time.monotonic()
        try:
            step.run()
        except Exception as error:  # report which step failed, with its time, then clean up and stop
            timings.append(Timing(step.name, time.monotonic() - started, f"FAILED: {error}"))
            code = EXIT_REFUSED if isinstance(error, Refused) else EXIT_FAILED
            return timings, code
        timings.append(Timing(step.name, time.monotonic() - started, "ok"))
    return timings, EXIT_OK


def run_cleanup(steps: list[Step]) -> list[Timing]:
    timings = []
    for step in steps:
        print(f"==> cleanup: {step.name}", flush=True)
        started = time.monotonic()
        try:
            step.run()
            outcome = "ok"
        except Exception as error:  # keep cleaning up; say what is left
            outcome = f"FAILED: {error}"
        timings.append(Timing(f"cleanup: {step.name}", time.monotonic() - started, outcome))
    return timings


def report(timings: list[Timing]) -> str:
    width = max((len(t.name) for t in timings), default=4)
    lines = [f"{'step':<{width}}  {'seconds':>8}  outcome"]
    lines += [f"{t.name:<{width}}  {t.seconds:>8.1f}  {t.outcome}" for t in timings]
    lines.append(f"{'total':<{width}}  {sum(t.seconds for t in timings):>8.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", action="store_true", help="print the steps and their commands, run nothing")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ(os.environ if environ is None else environ)
    except Refused as refused:
        print("aws-smoke refuses to start:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_REFUSED
    smoke = Smoke(settings)
    steps = smoke.plan()
    if args.plan:
        print(json.dumps([{"step": s.name, "commands": s.commands} for s in steps], indent=2))
        return EXIT_OK
    timings, code = run_steps(steps)
    if code == EXIT_FAILED:
        timings += run_cleanup(smoke.cleanup())
    print(report(timings))
    return code


if __name__ == "__main__":
    sys.exit(main())

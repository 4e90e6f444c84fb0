"""The images we own, checked without a container engine: every base pinned to an exact version (never `latest`),
the tools each image must carry installed by its Dockerfile and proven at build time, entry points as the platform
uses them, a non-root user, and the platform stack's repositories and parameters that reference them by digest."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hosted_mcp.adapters.stack_template import STDIO_BRIDGE, server_command
from hosted_mcp.models.fields import STDIO_PORT
from hosted_mcp_bridge.cli import parse as bridge_options
from tests.support.ddb import load_template
from tests.support.lambdas import REPO_ROOT
from tests.support.server_stacks import a_spec

IMAGES = REPO_ROOT / "images"
DOCKERFILES = {"stdio-base": IMAGES / "stdio-base" / "Dockerfile", "router": IMAGES / "router" / "Dockerfile"}
EXACT_TAG = re.compile(r":v?[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def resolve(self, text: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.args.get(m[1], m[0]), text)


def parse(path: Path) -> Dockerfile:
    """Instructions with their continuation lines joined; ARGs before the first FROM are the global defaults."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages and "=" in value:
            name, _, default = value.partition("=")
            args[name.strip()] = default.strip()
        elif keyword == "FROM":
            base, _, alias = value.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=alias.strip() or None))
        elif stages:
            stages[-1].instructions.append((keyword, value.strip()))
    return Dockerfile(args, stages)


def external_bases(dockerfile: Dockerfile) -> list[str]:
    aliases = {s.name for s in dockerfile.stages if s.name}
    bases = [dockerfile.resolve(s.base) for s in dockerfile.stages]
    copied = [
        dockerfile.resolve(m[1])
        for s in dockerfile.stages
        for value in s.all("COPY")
        for m in [re.match(r"--from=(\S+)", value)]
        if m
    ]
    return [b for b in bases + copied if b not in aliases]


@pytest.mark.parametrize("image", list(DOCKERFILES))
def test_every_base_is_pinned_to_an_exact_version_or_digest(image: str) -> None:
    dockerfile = parse(DOCKERFILES[image])
    bases = external_bases(dockerfile)
    assert bases
    for base in bases:
        assert "latest" not in base, base
        assert EXACT_TAG.search(base) or DIGEST.search(base), f"{image}: {base} is not pinned"
    assert "latest" not in DOCKERFILES[image].read_text(encoding="utf-8")


@pytest.mark.parametrize("image", list(DOCKERFILES))
def test_the_image_runs_as_a_non_root_user_and_installs_the_projects_own_wheel(image: str) -> None:
    dockerfile = parse(DOCKERFILES[image])
    users = dockerfile.final.all("USER")
    assert users
    assert users[-1] not in ("root", "0")
    builder = next(s for s in dockerfile.stages if s.name == "wheel")
    assert any("uv build --wheel" in run for run in builder.all("RUN"))
    assert any("hosted_mcp-*.whl" in run for run in dockerfile.final.all("RUN"))


def stdio_base() -> Dockerfile:
    return parse(DOCKERFILES["stdio-base"])


def test_the_stdio_base_is_python_3_13_with_uv_and_a_node_lts() -> None:
    dockerfile = stdio_base()
    assert re.match(r"python:3\.13\.\d+-slim", dockerfile.resolve(dockerfile.final.base))
    node = dockerfile.args["NODE_IMAGE"]
    major = int(re.search(r"node:(\d+)\.", node)[1])  # type: ignore[index]
    assert major % 2 == 0, f"{node}: odd Node majors are never LTS"
    assert major >= 22
    copies = " ".join(dockerfile.final.all("COPY"))
    assert "/uv /uvx /usr/local/bin/" in copies
    assert "/usr/local/bin/node" in copies
    assert "node_modules" in copies
    links = " ".join(dockerfile.final.all("RUN"))
    assert "npm-cli.js /usr/local/bin/npm" in links
    assert "npx-cli.js /usr/local/bin/npx" in links


def test_the_stdio_base_proves_at_build_time_every_tool_a_start_command_may_name() -> None:
    checks = " && ".join(stdio_base().final.all("RUN"))
    for tool in ("python3 --version", "uv --version", "uvx --version", "node --version", "npm --version",
                 "npx --version", "hosted-mcp-bridge --help"):  # fmt: skip
        assert tool in checks, tool


def entrypoint(dockerfile: Dockerfile) -> list[str]:
    (value,) = dockerfile.final.all("ENTRYPOINT")
    return list(json.loads(value))


def test_the_stdio_base_serves_the_command_after_its_entry_point_as_the_synthesizer_runs_it() -> None:
    assert entrypoint(stdio_base()) == ["hosted-mcp-bridge", "--host", "0.0.0.0", "--port", "8080", "--"]
    # And a stdio server's stack runs that program on that address and port (with its own child mode and session
    # bound, hosted_mcp.stdio), then its own command
    argv = server_command(a_spec(startCommand="uvx mcp-server-time"))
    assert argv[0] == STDIO_BRIDGE == entrypoint(stdio_base())[0]
    image = bridge_options([*entrypoint(stdio_base())[1:], "placeholder"])
    stack = bridge_options(argv[1:])
    assert (stack.host, stack.port) == (image.host, image.port) == ("0.0.0.0", STDIO_PORT)
    assert stack.command == ("uvx", "mcp-server-time")
    assert "EXPOSE 8080" in DOCKERFILES["stdio-base"].read_text(encoding="utf-8")


def test_the_stdio_base_installs_only_what_the_bridge_needs() -> None:
    run = " ".join(stdio_base().final.all("RUN"))
    assert "--no-deps /tmp/dist/hosted_mcp-*.whl" in run
    assert "extra_requirements.py /tmp/dist/hosted_mcp-*.whl bridge" in run


def test_the_router_image_runs_the_router() -> None:
    assert entrypoint(parse(DOCKERFILES["router"])) == ["hosted-mcp-router"]
    assert any("hosted-mcp-router --help" in run for run in parse(DOCKERFILES["router"]).final.all("RUN"))


def test_the_router_image_holds_the_routers_package_and_its_extra() -> None:
    # Given where the router's code lives (hosted_mcp_gateway, on the shared hosted_mcp) and its extra
    dockerfile = parse(DOCKERFILES["router"])
    builder = next(s for s in dockerfile.stages if s.name == "wheel")
    copied = {value.split()[0] for value in builder.all("COPY")}
    # Then the wheel is built with both package roots, and the image installs the router's extra
    assert {"shared", "gateway"} <= copied
    assert dockerfile.args["ROUTER_EXTRA"] == "router"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "\nrouter = [" in pyproject
    assert 'hosted-mcp-router = "hosted_mcp_gateway.router:main"' in pyproject


def test_the_routers_help_is_what_the_image_build_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from hosted_mcp_gateway.router import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "ROUTER_SEALING_KEY" in capsys.readouterr().out


def test_the_build_context_holds_only_the_package_sources() -> None:
    lines = [ln for ln in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert next(ln for ln in lines if not ln.startswith("#")) == "*"  # nothing unless listed
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "shared", "gateway", "local", "bridge", "images/tools"}


# -- the helper that picks an extra's requirements out of the wheel ------------------------------------------------


def test_an_extras_requirements_are_read_from_the_wheel(tmp_path: Path) -> None:
    from images.tools.extra_requirements import extra_requirements

    wheel = tmp_path / "hosted_mcp-0.1.0-py3-none-any.whl"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.4",
            "Name: hosted-mcp",
            "Requires-Dist: pydantic==2.14.3",
            'Requires-Dist: uvicorn==0.54.0; extra == "bridge"',
            'Requires-Dist: uvloop==0.22.1; sys_platform != "win32" and extra == "bridge"',
            'Requires-Dist: starlette==1.10.0; extra == "local"',
        ]
    )
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("hosted_mcp-0.1.0.dist-info/METADATA", metadata)
    assert extra_requirements(str(wheel), "bridge") == [
        "uvicorn==0.54.0",
        'uvloop==0.22.1; sys_platform != "win32"',
    ]


# -- the platform stack: repositories, and images referenced by digest -------------------------------------------


def test_the_platform_has_a_repository_per_image_with_immutable_scanned_tags() -> None:
    resources = load_template()["Resources"]
    for name in ("StdioBaseRepository", "RouterRepository"):
        properties = resources[name]["Properties"]
        assert properties["ImageTagMutability"] == "IMMUTABLE"
        assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    outputs = load_template()["Outputs"]
    assert outputs["StdioBaseRepositoryUri"]["Value"] == {"Fn::GetAtt": ["StdioBaseRepository", "RepositoryUri"]}


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("StdioBaseImage", "1234.dkr.ecr.us-east-1.amazonaws.com/x@sha256:" + "a" * 64, True),
        ("StdioBaseImage", "1234.dkr.ecr.us-east-1.amazonaws.com/x:1.2.3", False),
        ("StdioBaseImage", "ghcr.io/sparfenyuk/mcp-proxy:latest", False),
        ("HttpBaseImage", "public.ecr.aws/docker/library/python:3.13-slim", False),
        ("ArtifactSyncImage", "public.ecr.aws/aws-cli/aws-cli:2.27.0", True),
        ("ArtifactSyncImage", "public.ecr.aws/aws-cli/aws-cli:latest", False),
    ],
)
def test_image_parameters_take_digests_or_exact_versions_only(parameter: str, value: str, accepted: bool) -> None:
    pattern = load_template()["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) == accepted


def test_no_image_default_floats() -> None:
    parameters: dict[str, Any] = load_template()["Parameters"]
    for name, parameter in parameters.items():
        default = str(parameter.get("Default", ""))
        assert not default.endswith(":latest"), name
        if name.endswith("Image") and default:
            assert EXACT_TAG.search(default) or DIGEST.search(default), name


def test_the_dockerfile_build_command_in_the_docs_matches_the_files() -> None:
    documented = (REPO_ROOT / "docs" / "aws.md").read_text(encoding="utf-8")
    for image, path in DOCKERFILES.items():
        command = f"-f {path.relative_to(REPO_ROOT)}"
        assert command in documented, (image, command)

"""Cold start: import + initialisation of each functions/*/app.py in a fresh process, against `import boto3` alone.

The process is laid out the way Lambda lays it out: the function's directory first (/var/task), then the layer
(shared/requirements.txt + shared/hosted_mcp, like /opt/python, byte-compiled as shared/Makefile does), then the
runtime's boto3. After the import the same process handles the function's sample event once. Python 3.13 (the
functions' runtime) is used when pyenv has it, else the current interpreter. Sizes come from `sam build` output
(.aws-sam/build) when present, else from that pip-target install, which is what `sam build` packages.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml

from bench.stats import Table, Target, median, ms, ratio, times

ROOT = Path(__file__).resolve().parents[1]
TARGET = Target(1.5)
PYENV_VERSION = "3.13.0"
CACHE = Path(tempfile.gettempdir()) / "hosted-mcp-bench"

MEASURE = """
import importlib.util, json, sys, time
path, event_path = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
t0, c0 = time.perf_counter(), time.process_time()
if path == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
figures = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "outcome": ""}
if event_path:
    class Context:
        function_name = "bench"
        function_version = "$LATEST"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        aws_request_id = "00000000-0000-4000-8000-000000000000"
        log_group_name = "/aws/lambda/bench"
        log_stream_name = "bench"
        def get_remaining_time_in_millis(self):
            return 30000
    outcome = "returned"
    try:
        if path == "boto3":  # the baseline's first invocation: one client, one call
            boto3.client("dynamodb").get_item(TableName="bench", Key={"pk": {"S": "bench"}})
        else:
            with open(event_path) as f:
                event = json.load(f)
            result = module.handler(event, Context())
            if isinstance(result, dict) and "statusCode" in result:
                outcome = "HTTP " + str(result["statusCode"])
            elif isinstance(result, dict) and result.get("batchItemFailures"):
                outcome = "batch item failed"
    except Exception as error:  # the authorizer answers 401 by raising; anything else is reported
        outcome = type(error).__name__ + ": " + str(error)[:200]
    figures.update(first_wall=time.perf_counter() - t0, first_cpu=time.process_time() - c0, outcome=outcome)
print(json.dumps(figures))
"""

# The sample event each function's first invocation handles (events/<function>/...).
SAMPLE_EVENTS = {
    "api": "api/list.json",
    "authorizer": "authorizer/api-key.json",
    "deploy": "deploy/record-entered-creating.json",
    "apply": "apply/record-entered-updating.json",
    "teardown": "teardown/record-entered-deleting.json",
    "publish": "publish/record-entered-inservice.json",
    "settle": "settle/create-complete.json",
    "reconcile": "reconcile/scheduled.json",
}

# Deployment parameters without a usable default that a function validates on its first invocation.
SAMPLE_PARAMETERS = {
    "authorizer": {"AUTH_ISSUER": "https://idp.example.com", "AUTH_AUDIENCE": "hosted-mcp", "AUTH_JWKS_URL": ""},
}


class _FakeAws(BaseHTTPRequestHandler):
    """Answers every AWS API call with an empty success: JSON protocols (DynamoDB, EventBridge) get `{}` plus
    empty lists, query protocols (CloudFormation, ELBv2) an empty `<Action>Result`. The first invocation then runs
    its whole path (client creation, signing, the HTTP round trip, parsing) without a network."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("X-Amz-Target"):
            payload = json.dumps({"Items": [], "Count": 0, "FailedEntryCount": 0, "Entries": []}).encode()
            content_type = "application/x-amz-json-1.0"
        else:
            action = parse_qs(body.decode()).get("Action", ["Unknown"])[0]
            payload = (
                f"<{action}Response><{action}Result></{action}Result>"
                f"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></{action}Response>"
            ).encode()
            content_type = "text/xml"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", "bench")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        return


class FakeAws:
    """A loopback AWS endpoint for the first invocations, on a thread of the benchmark's own process (so its CPU
    time is not counted in the function's)."""

    def __enter__(self) -> FakeAws:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAws)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.server.server_address[1]}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_MAX_ATTEMPTS": "1",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        }

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Runtime:
    python: str
    label: str
    layer: Path  # shared/requirements.txt + shared/hosted_mcp, as /opt/python
    provided: Path  # boto3 as the Lambda runtime provides it


def python313() -> str | None:
    env = {**os.environ, "PYENV_VERSION": PYENV_VERSION}
    try:
        found = subprocess.run(["pyenv", "which", "python"], env=env, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip() or None


def pinned(name: str) -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in deps if re.split(r"[=<>~!]", d)[0].strip() == name)


def pip_target(python: str, target: Path, *args: str) -> None:
    if target.exists():
        return
    staging = target.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--root-user-action=ignore"]
    done = subprocess.run([*command, "--target", str(staging), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install --target failed: {done.stderr.strip()[-500:]}")
    staging.rename(target)


def build_runtime() -> Runtime:
    python = python313()
    label = f"python {PYENV_VERSION} (pyenv)" if python else f"python {sys.version.split()[0]} (no 3.13 found)"
    python = python or sys.executable
    requirements = (ROOT / "shared" / "requirements.txt").read_text()
    key = hashlib.sha256(f"{python}\n{requirements}\n{pinned('boto3')}".encode()).hexdigest()[:12]
    base = CACHE / key
    base.mkdir(parents=True, exist_ok=True)
    deps = base / "layer-deps"
    pip_target(python, deps, "-r", str(ROOT / "shared" / "requirements.txt"))
    provided = base / "runtime-boto3"
    pip_target(python, provided, pinned("boto3"))
    layer = base / "layer"
    shutil.rmtree(layer, ignore_errors=True)
    shutil.copytree(deps, layer, symlinks=False)  # copy2 keeps mtimes, so pip's .pyc stay valid
    shutil.copytree(ROOT / "shared" / "hosted_mcp", layer / "hosted_mcp", symlinks=False)
    return Runtime(python, label, layer, provided)


def layer_variant(runtime: Runtime, name: str, *, compile_all: bool) -> Runtime:
    """A copy of the layer without any .pyc, then (compile_all) byte-compiled the way shared/Makefile builds the
    layer: every module, ours and the dependencies', as unchecked-hash .pyc. Lambda's /opt is read-only, so a layer
    shipped without .pyc is compiled again on every cold start."""
    layer = runtime.layer.with_name(name)
    shutil.rmtree(layer, ignore_errors=True)
    shutil.copytree(runtime.layer, layer, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    if compile_all:
        command = [runtime.python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
        subprocess.run([*command, str(layer)], check=True, capture_output=True)
    return Runtime(runtime.python, runtime.label, layer, runtime.provided)


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml, turning every intrinsic (!Ref, !GetAtt, !Sub...) into a placeholder string."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
    value = node.value if isinstance(node, yaml.ScalarNode) else ""
    return f"!{suffix} {value}".strip()


def _resolve(value: object, parameters: dict[str, Any]) -> str:
    """A parameter's default for `!Ref Parameter`; a placeholder for any other reference."""
    text = str(value)
    if text.startswith("!Ref "):
        name = text.removeprefix("!Ref ")
        return str(parameters.get(name, {}).get("Default", f"bench-{name.lower()}"))
    return "bench-placeholder" if text.startswith("!") else text


_CfnLoader.add_multi_constructor("!", _intrinsic)


def functions() -> dict[str, dict[str, str]]:
    """functions/<dir> -> environment variables the template gives it (placeholders for references)."""
    template: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    found: dict[str, dict[str, str]] = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        code = Path(str(props.get("CodeUri", "")))
        if not (ROOT / code / "app.py").is_file():
            continue
        variables = {**shared, **props.get("Environment", {}).get("Variables", {})}
        env = {k: _resolve(v, template.get("Parameters", {})) for k, v in variables.items()}
        env["AWS_LAMBDA_FUNCTION_NAME"] = name
        found[code.name] = env
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        found.setdefault(app.parent.name, {"AWS_LAMBDA_FUNCTION_NAME": app.parent.name})
    return found


def lambda_env(runtime: Runtime, task_root: Path | None, extra: dict[str, str]) -> dict[str, str]:
    path = [str(task_root)] if task_root else []
    path += [str(runtime.layer), str(runtime.provided)]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "LAMBDA_TASK_ROOT": str(task_root or ""),
        **extra,
    }


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    first_wall: float  # import + init + the first invocation of the sample event
    first_cpu: float
    outcome: str  # what the first invocation answered


def measure(runtime: Runtime, target: str, env: dict[str, str], cwd: Path, event: Path) -> Sample:
    command = [runtime.python, "-s", "-c", MEASURE, target, str(event)]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{target} failed to import: {done.stderr.strip().splitlines()[-1:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(
        wall=float(figures["wall"]),
        cpu=float(figures["cpu"]),
        first_wall=float(figures["first_wall"]),
        first_cpu=float(figures["first_cpu"]),
        outcome=str(figures["outcome"]),
    )


def import_profile(runtime: Runtime, target: str, env: dict[str, str], cwd: Path) -> list[tuple[str, float]]:
    """`-X importtime`, self time summed by top-level package: what the import time is spent on."""
    done = subprocess.run(
        [runtime.python, "-s", "-X", "importtime", "-c", MEASURE, target],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    totals: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(.*)$", line)
        if match:
            totals[match.group(2).strip().split(".")[0]] += int(match.group(1)) / 1e6
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)


def tree_size(path: Path, *, with_pyc: bool = False) -> tuple[int, int]:
    """(bytes unzipped, bytes zipped with deflate) of everything under `path`; `__pycache__` only `with_pyc` (the
    layer ships its .pyc; a source directory's are local leftovers)."""
    raw = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file() and (with_pyc or "__pycache__" not in p.parts)):
            raw += file.stat().st_size
            archive.write(file, file.relative_to(path))
    return raw, buffer.tell()


def mib(size: int) -> str:
    return f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def sample_event(name: str) -> Path:
    return ROOT / "events" / SAMPLE_EVENTS.get(name, f"{name}/missing.json")


def run(args: Any) -> list[Table]:
    runtime = layer_variant(build_runtime(), "layer-built", compile_all=True)
    uncompiled = layer_variant(runtime, "layer-no-pyc", compile_all=False)
    apps = functions()
    columns: dict[str, list[Sample]] = defaultdict(list)
    with FakeAws() as aws:
        baseline_env = lambda_env(runtime, None, aws.env)
        for _ in range(args.runs):  # interleaved, so machine drift hits every column alike
            columns["boto3"].append(measure(runtime, "boto3", baseline_env, ROOT, sample_event("boto3")))
            for name, env in apps.items():
                task_root = ROOT / "functions" / name
                app = str(task_root / "app.py")
                event = sample_event(name)
                env = {**env, **aws.env, **SAMPLE_PARAMETERS.get(name, {})}
                plain_env = lambda_env(runtime, task_root, env)
                columns[name].append(measure(runtime, app, plain_env, ROOT, event))
                bare_env = lambda_env(uncompiled, task_root, env)
                columns[f"{name}+bare"].append(measure(uncompiled, app, bare_env, ROOT, event))
    base = columns["boto3"]
    base_cpu, base_wall = median([s.cpu for s in base]), median([s.wall for s in base])
    base_first = median([s.first_cpu for s in base])
    table = Table(
        f"Cold start: import + init in a fresh process, then the first invocation, median of {args.runs} "
        f"({runtime.label})",
        [
            "entry point",
            "CPU",
            "wall",
            "import boto3 CPU",
            "ratio (CPU)",
            "ratio (wall)",
            "target",
            "verdict",
            "+ first invocation CPU",
            "boto3 + one call CPU",
            "ratio (first)",
            "first invocation answered",
        ],
    )
    worst = ""
    for name in apps:
        for key, label in ((name, f"functions/{name}/app.py"), (f"{name}+bare", "  layer without .pyc")):
            cpu = median([s.cpu for s in columns[key]])
            wall = median([s.wall for s in columns[key]])
            first = median([s.first_cpu for s in columns[key]])
            r = ratio(cpu, base_cpu)
            table.add(
                label,
                ms(cpu),
                ms(wall),
                ms(base_cpu),
                times(r),
                times(ratio(wall, base_wall)),
                TARGET.describe(),
                TARGET.verdict(r),
                ms(first),
                ms(base_first),
                times(ratio(first, base_first)),
                columns[key][-1].outcome,
            )
        if not worst or median([s.cpu for s in columns[name]]) > median([s.cpu for s in columns[worst]]):
            worst = name
    table.notes = [
        "CPU is the process's own CPU time over the import (robust to other load on a shared machine); wall is "
        "elapsed time. The ratio against the target uses CPU.",
        "'+ first invocation': the same process then handles the function's sample event (events/<function>/) "
        "against a loopback endpoint that answers every AWS call with an empty success, so work deferred from "
        "import to the first request is counted here. Its baseline is `import boto3`, then one DynamoDB client "
        "and one GetItem against the same endpoint (the least any function that reads a record pays).",
        "The environment is Lambda's: function directory, then the layer, then the runtime's boto3; "
        "AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, an X-Ray trace header and the template's variables are set, "
        "so Powertools' Tracer patches and records as in Lambda.",
        "The layer is byte-compiled the way shared/Makefile builds it (every module, unchecked-hash .pyc). 'layer "
        "without .pyc' is the same layer as `sam build`'s python builder shipped it before: Lambda's /opt is "
        "read-only, so every module (botocore included: the layer's copy shadows the runtime's) was compiled again "
        "on every cold start.",
    ]
    tables = [table]
    if worst:
        task_root = ROOT / "functions" / worst
        profile = import_profile(runtime, str(task_root / "app.py"), lambda_env(runtime, task_root, apps[worst]), ROOT)
        top = Table(
            f"Cold start profile: functions/{worst}/app.py, -X importtime self time by top-level package",
            ["package", "self time", "share"],
        )
        total = sum(seconds for _, seconds in profile) or 1.0
        for package, seconds in profile[:12]:
            top.add(package, ms(seconds), f"{seconds / total:.0%}")
        tables.append(top)
    tables.append(size_table(runtime, apps))
    return tables


def size_table(runtime: Runtime, apps: dict[str, dict[str, str]]) -> Table:
    built = ROOT / ".aws-sam" / "build"
    source = "sam build output (.aws-sam/build)" if built.is_dir() else "pip --target install of shared/"
    table = Table(f"Built size ({source})", ["artifact", "unzipped", "zipped"])
    for name in apps:
        directory = next(
            (d for d in built.glob("*") if (d / "app.py").is_file() and d.name.lower().startswith(name)), None
        )
        raw, zipped = tree_size(directory or ROOT / "functions" / name)
        table.add(f"function {name}", mib(raw), mib(zipped))
    layer_dir = next(built.glob("SharedLayer*"), None) if built.is_dir() else None
    raw, zipped = tree_size(layer_dir or runtime.layer, with_pyc=True)
    table.add("layer (shared/)", mib(raw), mib(zipped))
    table.notes = ["Lambda limits: 250 MiB unzipped for function + layers, 50 MiB zipped for a direct upload."]
    return table

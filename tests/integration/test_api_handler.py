"""The management API Lambda in-process: events/api samples against moto DynamoDB built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_label
from hypothesis import strategies as st

from hosted_mcp.adapters.dynamodb import DynamoDbServerStore
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from tests.conftest import SERVERS_TABLE
from tests.support.events import USER, api_event, load_event, response_json, with_caller, with_server_id
from tests.support.lambdas import FakeLambdaContext, load_handler

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
MINIMAL = {"name": "docs-mcp", "serverType": "stdio", "startCommand": "python main.py"}


@pytest.fixture
def api(servers_table: Any) -> Iterator[Invoke]:
    from hosted_mcp.wiring import aws

    aws.clear_factories()
    module = load_handler("api")
    yield lambda event: module.handler(event, FakeLambdaContext())
    aws.clear_factories()


@pytest.fixture
def client(servers_table: Any) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(client: Any) -> DynamoDbServerStore:
    return DynamoDbServerStore(client, SERVERS_TABLE)


def items(client: Any) -> list[dict[str, Any]]:
    return client.scan(TableName=SERVERS_TABLE, ConsistentRead=True)["Items"]


def create(api: Invoke, body: dict[str, Any] | None = None) -> dict[str, Any]:
    result = api(api_event("POST", "/mcp", body=body or MINIMAL))
    assert result["statusCode"] == 201, result["body"]
    return response_json(result)


def force_status(store: DynamoDbServerStore, server_id: str, status: ServerStatus) -> ServerRecord:
    """Given-step: put a record in `status` the way a reaction would (conditional, audited)."""
    record = store.get(server_id)
    assert record is not None
    return move(store, record, status, actor="deployer", reason="test setup", now=record.updatedAt)


def assert_bad_request(result: dict[str, Any], field: str) -> None:
    assert result["statusCode"] == 400, result["body"]
    body = response_json(result)
    assert body["code"] == "ValidationError"
    assert body["field"] == field, body
    assert field in body["message"]


# -- create -------------------------------------------------------------------------------------------------------


def test_the_product_example_creates_a_server_in_creating_with_its_fields(api: Invoke, client: Any) -> None:
    # Given the product description's example request
    event = load_event("api/create")
    sent = json.loads(event["body"])

    # When
    result = api(event)

    # Then
    assert result["statusCode"] == 201
    body = response_json(result)
    assert body["status"] == "Creating"
    assert body["id"]
    assert body["stack_name"] is None
    for field in ("name", "description", "serverType", "startCommand", "s3Path", "cpu", "memoryLimitMiB"):
        assert body[field] == sent[field], field
    assert body["autoScalingConfig"]["minCapacity"] == 1
    assert body["autoScalingConfig"]["maxCapacity"] == 2
    assert body["autoScalingConfig"]["targetValue"] == 80
    assert body["loadBalancerConfig"] == sent["loadBalancerConfig"]
    assert body["containerHealthCheckConfig"] == sent["containerHealthCheckConfig"]
    assert body["environment"] == sent["environment"]
    assert body["groups"] == ["group:admins"]
    assert body["port"] == 8080
    assert body["owner"] == "alice"
    # and the record, its name guard and its first audit entry are stored
    assert {(i["pk"]["S"], i["sk"]["S"]) for i in items(client)} == {
        (f"SERVER#{body['id']}", "META"),
        (f"SERVER#{body['id']}", "AUDIT#0000000001"),
        ("NAME#docsmcpworkbench", "NAME"),
    }


def test_a_name_normalising_to_a_taken_one_is_a_conflict(api: Invoke, client: Any) -> None:
    # Given
    create(api, {**MINIMAL, "name": "docs_mcp"})
    before = items(client)

    # When
    result = api(api_event("POST", "/mcp", body={**MINIMAL, "name": "Docs-MCP"}))

    # Then
    assert result["statusCode"] == 409
    assert response_json(result) == {"code": "NameConflict", "message": "Server name conflicts with existing server"}
    assert items(client) == before


def scaling(low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {"autoScalingConfig": {"minCapacity": low, "maxCapacity": high, **extra}}


# One case per documented rule: (rule, body overrides, field the 400 must name).
CREATE_RULES = [
    ("name normalises to nothing", {"name": "-_- !"}, "name"),
    ("name is empty", {"name": "  "}, "name"),
    ("cpu outside the Fargate set", {"cpu": 300}, "cpu"),
    ("cpu/memory not a Fargate pair", {"cpu": 256, "memoryLimitMiB": 4096}, "memoryLimitMiB"),
    ("cpu/memory pair off the 1 GiB steps", {"cpu": 1024, "memoryLimitMiB": 2500}, "memoryLimitMiB"),
    ("memory below 512", {"memoryLimitMiB": 256}, "memoryLimitMiB"),
    ("memory above 30720", {"cpu": 4096, "memoryLimitMiB": 31744}, "memoryLimitMiB"),
    ("minCapacity below 1", scaling(0, 1), "autoScalingConfig.minCapacity"),
    ("maxCapacity below min", scaling(3, 2), "autoScalingConfig.maxCapacity"),
    ("stdio not on 8080", {"serverType": "stdio", "port": 9000}, "port"),
    ("port out of range", {"serverType": "http", "port": 70000}, "port"),
    ("unknown top-level field", {"replicas": 3}, "replicas"),
    ("unknown nested field", scaling(1, 1, x=1), "autoScalingConfig.x"),
    ("read-only id", {"id": "mine"}, "id"),
    ("read-only status", {"status": "InService"}, "status"),
    ("read-only owner", {"owner": "mallory"}, "owner"),
    ("read-only stack name", {"stack_name": "hmcp-x"}, "stack_name"),
    ("read-only timestamp", {"createdAt": "2026-01-01T00:00:00Z"}, "createdAt"),
    ("unknown server type", {"serverType": "grpc"}, "serverType"),
    ("missing start command", {"startCommand": None}, "startCommand"),
    ("blank group", {"groups": [" "]}, "groups.0"),
    ("health check timeout not below interval", {"loadBalancerConfig": {"healthCheckConfig": {"timeout": 30}}},
     "loadBalancerConfig.healthCheckConfig.timeout"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "overrides", "field"), CREATE_RULES, ids=[r[0] for r in CREATE_RULES])
def test_a_create_breaking_a_rule_is_a_400_naming_the_field_and_writes_nothing(
    api: Invoke, client: Any, rule: str, overrides: dict[str, Any], field: str
) -> None:
    # Given
    body = {k: v for k, v in {**MINIMAL, **overrides}.items() if v is not None}

    # When
    result = api(api_event("POST", "/mcp", body=body))

    # Then
    assert_bad_request(result, field)
    assert items(client) == []


@pytest.mark.parametrize(
    ("body", "port"),
    [
        ({"serverType": "stdio"}, 8080),
        ({"serverType": "stdio", "port": 8080}, 8080),
        ({"serverType": "http"}, 8000),
        ({"serverType": "sse"}, 8000),
        ({"serverType": "http", "port": 9000}, 9000),
    ],
)
def test_ports_default_by_server_type(api: Invoke, body: dict[str, Any], port: int) -> None:
    assert create(api, {**MINIMAL, **body})["port"] == port


@pytest.mark.parametrize(
    ("groups", "stored"),
    [
        (None, ["lisa:public"]),
        ([], ["lisa:public"]),
        (["finance"], ["group:finance"]),
        (["group:finance", "engineering", "finance"], ["group:finance", "group:engineering"]),
    ],
)
def test_groups_get_the_prefix_and_empty_means_public(
    api: Invoke, store: DynamoDbServerStore, groups: list[str] | None, stored: list[str]
) -> None:
    body = {**MINIMAL, **({"groups": groups} if groups is not None else {})}
    created = create(api, body)
    assert created["groups"] == stored
    record = store.get(created["id"])
    assert record is not None
    assert record.spec.groups == stored


# -- update, stop, start, delete ----------------------------------------------------------------------------------

UPDATE_RULES = [
    ("needs at least one field", {}, "body"),
    ("only nulls is no field", {"description": None}, "body"),
    ("enabled with scaling", {"enabled": False, "autoScalingConfig": {"minCapacity": 1, "maxCapacity": 2}}, "enabled"),
    ("unknown field", {"replicas": 2}, "replicas"),
    ("read-only status", {"status": "Stopped"}, "status"),
    ("name cannot change", {"name": "other"}, "name"),
    ("cpu outside the set", {"cpu": 333}, "cpu"),
    ("memory invalid for the stored cpu", {"memoryLimitMiB": 4096}, "memoryLimitMiB"),
    ("minCapacity below 1", scaling(0, 1), "autoScalingConfig.minCapacity"),
    ("maxCapacity below min", scaling(2, 1), "autoScalingConfig.maxCapacity"),
    ("already running", {"enabled": True}, "enabled"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "body", "field"), UPDATE_RULES, ids=[r[0] for r in UPDATE_RULES])
def test_an_update_breaking_a_rule_is_a_400_naming_the_field_and_changes_nothing(
    api: Invoke, client: Any, store: DynamoDbServerStore, rule: str, body: dict[str, Any], field: str
) -> None:
    # Given a server in service
    server_id = create(api)["id"]
    force_status(store, server_id, ServerStatus.IN_SERVICE)
    before = items(client)

    # When
    result = api(with_server_id(load_event("api/update"), server_id) | {"body": json.dumps(body)})

    # Then
    assert_bad_request(result, field)
    assert items(client) == before


# A Failed server takes the same calls: they redeploy it (tested below).
NOT_UPDATABLE = [
    s for s in ServerStatus if s not in {ServerStatus.IN_SERVICE, ServerStatus.STOPPED, ServerStatus.FAILED}
]
NOT_DELETABLE = [
    s for s in ServerStatus if s not in {ServerStatus.IN_SERVICE, ServerStatus.STOPPED, ServerStatus.FAILED}
]


@pytest.mark.parametrize("status", NOT_UPDATABLE)
@pytest.mark.parametrize("sample", ["update", "stop", "start"])
def test_updates_are_refused_outside_in_service_and_stopped(
    api: Invoke, client: Any, store: DynamoDbServerStore, status: ServerStatus, sample: str
) -> None:
    # Given
    server_id = create(api)["id"]
    if status is not ServerStatus.CREATING:
        force_status(store, server_id, status)
    before = items(client)

    # When
    result = api(with_server_id(load_event(f"api/{sample}"), server_id))

    # Then
    assert result["statusCode"] == 409, result["body"]
    body = response_json(result)
    assert body["code"] == "StatusConflict"
    assert str(status) in body["message"]
    assert items(client) == before


@pytest.mark.parametrize(("sample", "runs"), [("update", True), ("start", True), ("stop", False)])
def test_a_failed_server_is_redeployed_by_the_same_calls(
    api: Invoke, client: Any, store: DynamoDbServerStore, sample: str, runs: bool
) -> None:
    # Given a server that failed
    server_id = create(api)["id"]
    force_status(store, server_id, ServerStatus.FAILED)

    # When an admin sends an update, a start or a stop
    result = api(with_server_id(load_event(f"api/{sample}"), server_id))

    # Then it is redeployed (Creating again), running or stopped as asked, with its own audit entry
    assert result["statusCode"] == 200, result["body"]
    assert response_json(result)["status"] == "Creating"
    record = store.get(server_id)
    assert record is not None
    assert record.pending is not None
    assert (record.pending.enabled, record.pending.returnStatus) == (runs, ServerStatus.FAILED)
    last = store.audit_trail(server_id)[-1]
    assert (last.fromStatus, last.toStatus, last.reason) == (
        ServerStatus.FAILED,
        ServerStatus.CREATING,
        "redeploy requested",
    )


@pytest.mark.parametrize("status", NOT_DELETABLE)
def test_delete_is_refused_outside_in_service_stopped_and_failed(
    api: Invoke, client: Any, store: DynamoDbServerStore, status: ServerStatus
) -> None:
    server_id = create(api)["id"]
    if status is not ServerStatus.CREATING:
        force_status(store, server_id, status)
    before = items(client)

    result = api(with_server_id(load_event("api/delete"), server_id))

    assert result["statusCode"] == 409, result["body"]
    assert response_json(result)["code"] == "StatusConflict"
    assert items(client) == before


def test_update_answers_with_the_record_in_updating_and_the_change_pending(
    api: Invoke, store: DynamoDbServerStore
) -> None:
    # Given
    server_id = create(api)["id"]
    force_status(store, server_id, ServerStatus.IN_SERVICE)

    # When
    result = api(with_server_id(load_event("api/update"), server_id))

    # Then
    assert result["statusCode"] == 200, result["body"]
    body = response_json(result)
    assert body["status"] == "Updating"
    assert body["pendingChanges"]["autoScalingConfig"]["minCapacity"] == 2
    assert body["pendingChanges"]["environment"] == {"LOG_LEVEL": "debug"}
    assert body["autoScalingConfig"]["minCapacity"] == 1  # the running config until the change settles


def test_stop_then_start_then_delete(api: Invoke, store: DynamoDbServerStore) -> None:
    server_id = create(api)["id"]
    force_status(store, server_id, ServerStatus.IN_SERVICE)

    stopping = api(with_server_id(load_event("api/stop"), server_id))
    assert (stopping["statusCode"], response_json(stopping)["status"]) == (200, "Stopping")

    force_status(store, server_id, ServerStatus.STOPPED)
    starting = api(with_server_id(load_event("api/start"), server_id))
    assert (starting["statusCode"], response_json(starting)["status"]) == (200, "Starting")

    force_status(store, server_id, ServerStatus.IN_SERVICE)
    deleting = api(with_server_id(load_event("api/delete"), server_id))
    assert (deleting["statusCode"], response_json(deleting)["status"]) == (200, "Deleting")

    audit = api(with_server_id(load_event("api/audit"), server_id))
    assert audit["statusCode"] == 200
    trail = [(e["fromStatus"], e["toStatus"], e["actor"]) for e in response_json(audit)["Items"]]
    assert trail == [
        (None, "Creating", "alice"),
        ("Creating", "InService", "deployer"),
        ("InService", "Stopping", "alice"),
        ("Stopping", "Stopped", "deployer"),
        ("Stopped", "Starting", "alice"),
        ("Starting", "InService", "deployer"),
        ("InService", "Deleting", "alice"),
    ]


# -- reads --------------------------------------------------------------------------------------------------------


def test_get_and_list(api: Invoke) -> None:
    created = create(api)

    got = api(with_server_id(load_event("api/get"), created["id"]))
    listed = api(load_event("api/list"))

    assert got["statusCode"] == 200
    assert response_json(got) == created
    assert listed["statusCode"] == 200
    assert response_json(listed) == {"Items": [created], "nextToken": None}


def test_listing_pages_through_every_server(api: Invoke) -> None:
    ids = [create(api, {**MINIMAL, "name": f"server-{i}"})["id"] for i in range(5)]

    seen: list[str] = []
    query: dict[str, str] = {"limit": "2"}
    for _ in range(5):
        page = response_json(api(api_event("GET", "/mcp", query=query)))
        seen += [item["id"] for item in page["Items"]]
        if not page["nextToken"]:
            break
        query = {"limit": "2", "nextToken": page["nextToken"]}

    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(ids)


@pytest.mark.parametrize(
    ("query", "field"), [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"nextToken": "forged"}, "nextToken")]
)
def test_bad_list_parameters_name_the_parameter(api: Invoke, query: dict[str, str], field: str) -> None:
    assert_bad_request(api(api_event("GET", "/mcp", query=query)), field)


@pytest.mark.parametrize("sample", ["get", "audit", "update", "stop", "start", "delete"])
def test_unknown_servers_are_404(api: Invoke, sample: str) -> None:
    result = api(load_event(f"api/{sample}"))
    assert result["statusCode"] == 404
    assert response_json(result)["code"] == "NotFound"


# -- identity -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["create", "list", "get", "audit", "update", "stop", "start", "delete"])
def test_management_needs_an_admin(api: Invoke, client: Any, sample: str) -> None:
    anonymous = api(with_caller(load_event(f"api/{sample}"), None))
    not_admin = api(with_caller(load_event(f"api/{sample}"), USER))

    assert anonymous["statusCode"] == 401
    assert response_json(anonymous)["code"] == "Unauthorized"
    assert not_admin["statusCode"] == 403
    assert response_json(not_admin)["code"] == "Forbidden"
    assert items(client) == []


# -- no input makes it fail -----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        *MINIMAL,
        *("cpu", "memoryLimitMiB", "port", "groups", "environment", "enabled", "id"),
        *("autoScalingConfig", "loadBalancerConfig", "containerHealthCheckConfig"),
    ]
)
KNOWN_ID = "0123456789abcdef0123456789abcdef"
plausible_updates = st.dictionaries(
    st.sampled_from(["enabled", "description", "cpu", "memoryLimitMiB", "environment", "autoScalingConfig", "groups"]),
    st.one_of(
        st.booleans(),
        st.text(max_size=10),
        st.sampled_from([256, 512, 1024, 2048, 4096, 300, 1536, 30720]),
        st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(max_size=8), max_size=2),
        st.fixed_dictionaries({"minCapacity": st.integers(-1, 5), "maxCapacity": st.integers(-1, 5)}),
        st.lists(st.text(max_size=8), max_size=3),
    ),
    min_size=1,
    max_size=3,
).map(json.dumps)
bodies = st.one_of(
    plausible_updates,
    st.dictionaries(field_names, json_values, max_size=8).map(lambda d: {**MINIMAL, **d}).map(json.dumps),
    st.dictionaries(field_names, json_values, min_size=1, max_size=4).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=50),
    st.none(),
)
known_paths = st.sampled_from(["/mcp", f"/mcp/{KNOWN_ID}", f"/mcp/{KNOWN_ID}/audit"])
any_paths = st.one_of(
    st.text(min_size=1, max_size=80).map(lambda s: "/mcp/" + s),
    st.text(min_size=1, max_size=20).map(lambda s: "/mcp/" + s + "/audit"),
    st.text(max_size=30).map(lambda s: "/" + s),
)
paths = st.integers(0, 9).flatmap(lambda n: known_paths if n < 6 else any_paths)  # mostly real routes
queries = st.none() | st.dictionaries(st.sampled_from(["limit", "nextToken", "x"]), st.text(max_size=40), max_size=3)


def server_in_service(store: DynamoDbServerStore, admin: Caller) -> None:
    """Given-step for each example: a known server, back in service whatever the previous example did to it."""
    from hosted_mcp.logic.servers import create_server
    from hosted_mcp.models.api import CreateServerRequest

    record = store.get(KNOWN_ID)
    if record is None:
        request = CreateServerRequest.model_validate({**MINIMAL, "name": "known"})
        record = create_server(store, request, admin, now=datetime.now(UTC), new_id=lambda: KNOWN_ID)
    if record.status is not ServerStatus.IN_SERVICE:
        move(store, record, ServerStatus.IN_SERVICE, actor="deployer", reason="test setup", now=record.updatedAt)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), path=paths, body=bodies, query=queries)
def test_no_request_makes_the_api_fail(
    api: Invoke,
    store: DynamoDbServerStore,
    admin: Caller,
    method: str,
    path: str,
    body: str | None,
    query: dict[str, str] | None,
) -> None:
    # Given
    server_in_service(store, admin)
    server_id = path.split("/")[2] if path.startswith("/mcp/") else None
    event = api_event(
        method,
        path,
        raw_body=body,
        query=query,
        path_parameters={"serverId": server_id} if server_id else None,
    )

    # When
    result = api(event)

    # Then
    event_label(f"{method} -> {result['statusCode']}")
    assert result["statusCode"] < 500, (event, result)
    assert isinstance(response_json(result), dict)

"""The DynamoDB store against moto, on a table built from template.yaml's ServersTable."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosted_mcp.adapters.dynamodb import (
    DynamoDbServerStore,
    decode_next_token,
    encode_next_token,
    is_server_item,
    record_from_image,
)
from hosted_mcp.adapters.memory import InMemoryServerStore
from hosted_mcp.errors import ConcurrentModification, InvalidRequest, NameConflict
from hosted_mcp.logic import servers
from hosted_mcp.logic.transitions import move
from hosted_mcp.models.api import CreateServerRequest, UpdateServerRequest
from hosted_mcp.models.domain import Caller, PendingChange, ServerRecord
from hosted_mcp.models.fields import ServerStatus
from tests.conftest import SERVERS_TABLE
from tests.support.ddb import create_servers_table
from tests.support.dynamodb_local import dynamodb_local, unavailable_reason
from tests.support.races import race, race_two_transitions

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
RACE_ROUNDS = 40
LOCAL_RACE_ROUNDS = 100  # DynamoDB Local is quick: more rounds for the same time


@pytest.fixture
def client(servers_table: Any) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(client: Any) -> DynamoDbServerStore:
    return DynamoDbServerStore(client, SERVERS_TABLE)


@pytest.fixture
def atomic_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give moto's TransactWriteItems the isolation DynamoDB guarantees.

    DynamoDB applies a transaction atomically and in isolation. moto applies its items one by one and rolls a
    failed transaction back by restoring a snapshot of the whole table, so two threads in moto at once can erase
    each other's committed writes: an emulator artefact, not a property of the service. Serialising moto's
    transaction call restores the service's guarantee; everything our code does around it (reads, the conditional
    writes' race) stays concurrent.
    """
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    lock = threading.Lock()

    def isolated(self: Any, transact_items: Any) -> None:
        with lock:
            original(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", isolated)


def all_items(client: Any) -> list[dict[str, Any]]:
    return client.scan(TableName=SERVERS_TABLE, ConsistentRead=True)["Items"]


def keys(client: Any) -> set[tuple[str, str]]:
    return {(i["pk"]["S"], i["sk"]["S"]) for i in all_items(client)}


def create(store: Any, admin: Caller, name: str = "docs-mcp", *, now: datetime = NOW, **fields: Any) -> ServerRecord:
    request = CreateServerRequest.model_validate(
        {"name": name, "serverType": "stdio", "startCommand": "python main.py", **fields}
    )
    return servers.create_server(store, request, admin, now=now)


def in_service(store: Any, admin: Caller, name: str = "docs-mcp") -> ServerRecord:
    record = create(store, admin, name)
    return move(store, record, ServerStatus.IN_SERVICE, actor="deployer", reason="deployed", now=NOW)


# -- items and round trips ----------------------------------------------------------------------------------------


def test_create_writes_record_name_guard_and_audit_in_one_transaction(store: Any, client: Any, admin: Caller) -> None:
    # Given / When
    record = create(
        store, admin, "Docs MCP", autoScalingConfig={"minCapacity": 1, "maxCapacity": 2, "targetValue": 80.5}
    )

    # Then: three items, keyed as the template's comment says
    assert keys(client) == {
        (f"SERVER#{record.id}", "META"),
        (f"SERVER#{record.id}", "AUDIT#0000000001"),
        ("NAME#docsmcp", "NAME"),
    }
    meta = client.get_item(TableName=SERVERS_TABLE, Key={"pk": {"S": f"SERVER#{record.id}"}, "sk": {"S": "META"}})
    item = meta["Item"]
    assert item["gsi1pk"] == {"S": "SERVER"}
    assert item["gsi1sk"] == {"S": f"{NOW.isoformat()}#{record.id}"}
    assert item["createdAt"] == {"S": "2026-11-24T01:00:00Z"}
    assert item["spec"]["M"]["autoScalingConfig"]["M"]["targetValue"] == {"N": "80.5"}
    assert item["status"] == {"S": "Creating"}


def test_a_record_reads_back_exactly_as_written(store: Any, admin: Caller) -> None:
    # Given a record with a pending change, floats, dates and optional fields
    record = in_service(store, admin)
    spec = record.spec.model_copy(update={"environment": {"LOG_LEVEL": "debug"}})
    updated = move(
        store,
        record,
        ServerStatus.UPDATING,
        actor="alice",
        reason="update requested",
        now=NOW + timedelta(minutes=1),
        pending=PendingChange(spec=spec, enabled=True, returnStatus=ServerStatus.IN_SERVICE),
        deploymentId="arn:aws:cloudformation:us-east-1:123456789012:stack/hmcp-docsmcp/1",
        stackName="hmcp-docsmcp",
    )

    # When / Then
    assert store.get(record.id) == updated
    assert store.get_by_name("docsmcp") == updated


def test_missing_records_read_as_none(store: Any) -> None:
    assert store.get("nope") is None
    assert store.get_by_name("nope") is None
    assert store.audit_trail("nope") == []


# -- uniqueness ---------------------------------------------------------------------------------------------------


def test_a_name_that_normalises_to_a_taken_one_conflicts_and_writes_nothing(
    store: Any, client: Any, admin: Caller
) -> None:
    # Given
    create(store, admin, "docs_mcp")
    before = all_items(client)

    # When / Then
    with pytest.raises(NameConflict):
        create(store, admin, "Docs-MCP")
    assert all_items(client) == before


def test_concurrent_creations_of_one_name_yield_exactly_one_record(
    store: Any, client: Any, admin: Caller, atomic_transactions: None
) -> None:
    for round_ in range(20):
        barrier = threading.Barrier(2, timeout=30)

        def create_after_barrier(name: str, round_: int = round_, barrier: threading.Barrier = barrier) -> ServerRecord:
            barrier.wait()
            return create(store, admin, name)

        outcomes = race(
            {
                "a": lambda r=round_: create_after_barrier(f"name-{r}"),
                "b": lambda r=round_: create_after_barrier(f"NAME {r}"),
            }
        )

        assert sum(o.won for o in outcomes) == 1
        loser = next(o for o in outcomes if not o.won)
        assert isinstance(loser.error, NameConflict | ConcurrentModification)
    metas = [i for i in all_items(client) if i["sk"]["S"] == "META"]
    assert len(metas) == 20


# -- conditional status writes ------------------------------------------------------------------------------------


def test_a_write_from_a_stale_version_is_refused_and_changes_nothing(store: Any, client: Any, admin: Caller) -> None:
    # Given a record read at version 2, then changed by someone else
    stale = in_service(store, admin)
    move(store, stale, ServerStatus.STOPPING, actor="bob", reason="stop requested", now=NOW)
    before = all_items(client)

    # When / Then
    with pytest.raises(ConcurrentModification):
        move(store, stale, ServerStatus.DELETING, actor="alice", reason="delete requested", now=NOW)
    with pytest.raises(ConcurrentModification):
        store.remove(stale, store.audit_trail(stale.id)[-1].model_copy(update={"version": 9}))
    assert all_items(client) == before


def test_a_write_expecting_another_status_at_the_same_version_is_refused(store: Any, admin: Caller) -> None:
    # Given
    record = in_service(store, admin)
    wrong = record.evolve(status=ServerStatus.STOPPED)

    # When / Then
    with pytest.raises(ConcurrentModification):
        move(store, wrong, ServerStatus.STARTING, actor="alice", reason="start requested", now=NOW)
    assert store.get(record.id) == record


def test_removal_deletes_record_and_name_guard_but_keeps_the_audit_trail(
    store: Any, client: Any, admin: Caller
) -> None:
    # Given
    record = in_service(store, admin)
    deleting = servers.delete_server(store, record.id, admin, now=NOW)

    # When
    move(store, deleting, None, actor="deployer", reason="torn down", now=NOW)

    # Then
    assert store.get(record.id) is None
    assert store.get_by_name("docsmcp") is None
    assert [(e.fromStatus, e.toStatus) for e in store.audit_trail(record.id)] == [
        (None, ServerStatus.CREATING),
        (ServerStatus.CREATING, ServerStatus.IN_SERVICE),
        (ServerStatus.IN_SERVICE, ServerStatus.DELETING),
        (ServerStatus.DELETING, None),
    ]
    assert {sk for pk, sk in keys(client)} == {f"AUDIT#{v:010d}" for v in range(1, 5)}
    # and the name can be used again
    assert create(store, admin, "docs-mcp").normalizedName == "docsmcp"


RESIZE = UpdateServerRequest(cpu=512, memoryLimitMiB=1024)
CONFLICTS = {
    "delete vs stop": (
        lambda s, sid, who: servers.delete_server(s, sid, who, now=NOW),
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(enabled=False), who, now=NOW),
    ),
    "update vs delete": (
        lambda s, sid, who: servers.update_server(
            s, sid, UpdateServerRequest(cpu=512, memoryLimitMiB=1024), who, now=NOW
        ),
        lambda s, sid, who: servers.delete_server(s, sid, who, now=NOW),
    ),
    "stop vs update": (
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(enabled=False), who, now=NOW),
        lambda s, sid, who: servers.update_server(s, sid, UpdateServerRequest(description="new"), who, now=NOW),
    ),
}


@pytest.mark.parametrize("conflict", list(CONFLICTS))
def test_two_conflicting_transitions_exactly_one_wins_every_time(
    client: Any, admin: Caller, atomic_transactions: None, conflict: str
) -> None:
    first, second = CONFLICTS[conflict]
    for round_ in range(RACE_ROUNDS):
        # Given a server in service (on a table of its own: moto copies a table's stream history on every
        # transaction, so a small table keeps the many rounds quick), read by both contenders at the same version
        store = DynamoDbServerStore(
            client, create_servers_table(client, f"race-{round_}")["TableDescription"]["TableName"]
        )
        record = in_service(store, admin, f"race-{round_}")

        # When both ask for their transition at once,
        # Then exactly one wins, the loser gets ConcurrentModification, and the store holds the winner's write
        winner = race_two_transitions(store, record.id, admin, first, second)
        assert winner.result.version == record.version + 1
        assert len(store.audit_trail(record.id)) == 3


# -- listing ------------------------------------------------------------------------------------------------------


def test_pages_cover_every_record_once_in_creation_order(store: Any, admin: Caller) -> None:
    # Given
    created = [create(store, admin, f"server-{i}", now=NOW + timedelta(seconds=i)) for i in range(7)]

    # When
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = store.list_page(3, token)
        pages += 1
        seen += [r.id for r in page.records]
        token = page.next_token
        if token is None:
            break

    # Then
    assert seen == [r.id for r in created]
    assert pages == 3


def test_a_full_last_page_carries_no_token(store: Any, admin: Caller) -> None:
    for i in range(4):
        create(store, admin, f"server-{i}", now=NOW + timedelta(seconds=i))
    first = store.list_page(2)
    second = store.list_page(2, first.next_token)
    assert len(second.records) == 2
    assert second.next_token is None


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode()


GOOD_KEY = {"pk": {"S": "SERVER#a"}, "sk": {"S": "META"}, "gsi1pk": {"S": "SERVER"}, "gsi1sk": {"S": "2026#a"}}


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        _b64(b"\xff\xfe"),
        _b64([1, 2]),
        _b64({"pk": {"S": "SERVER#a"}}),
        _b64({**GOOD_KEY, "extra": {"S": "x"}}),
        _b64({**GOOD_KEY, "gsi1pk": {"S": "NAME"}}),
        _b64({**GOOD_KEY, "pk": {"S": "NAME#a"}}),
        _b64({**GOOD_KEY, "sk": {"N": "1"}}),
        _b64({**GOOD_KEY, "gsi1sk": {"S": ""}}),
    ],
)
def test_a_tampered_token_is_a_bad_request_naming_next_token(store: Any, token: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        store.list_page(10, token)
    assert raised.value.problems[0].field == "nextToken"


def test_tokens_round_trip() -> None:
    assert decode_next_token(encode_next_token(GOOD_KEY)) == GOOD_KEY


# -- audit --------------------------------------------------------------------------------------------------------


def test_every_transition_appends_an_audit_entry_with_actor_and_reason(store: Any, admin: Caller) -> None:
    record = in_service(store, admin)
    servers.update_server(store, record.id, UpdateServerRequest(enabled=False), admin, now=NOW)

    trail = store.audit_trail(record.id)

    assert [(e.version, e.actor, e.fromStatus, e.toStatus, e.reason) for e in trail] == [
        (1, "alice", None, ServerStatus.CREATING, "created"),
        (2, "deployer", ServerStatus.CREATING, ServerStatus.IN_SERVICE, "deployed"),
        (3, "alice", ServerStatus.IN_SERVICE, ServerStatus.STOPPING, "stop requested"),
    ]


# -- stream images ------------------------------------------------------------------------------------------------


def test_images_of_the_record_parse_and_other_items_are_skipped(store: Any, client: Any, admin: Caller) -> None:
    """Stream images are the items' AttributeValue JSON, the same shape a low-level scan returns."""
    # Given
    record = in_service(store, admin)

    # When
    images = all_items(client)

    # Then
    server_images = [image for image in images if is_server_item(image)]
    assert [record_from_image(image) for image in server_images] == [record]
    skipped = [image for image in images if not is_server_item(image)]
    assert len(skipped) == 3  # the name guard and two audit entries
    assert all(record_from_image(image) is None for image in skipped)
    assert record_from_image(None) is None
    assert not is_server_item({})


# -- how service errors map to domain errors ----------------------------------------------------------------------


class RefusingClient:
    """A client whose transactions are cancelled with the given reasons (what DynamoDB reports, item by item)."""

    def __init__(self, *codes: str | None, error_code: str = "TransactionCanceledException") -> None:
        self.response = {
            "Error": {"Code": error_code, "Message": "refused"},
            "CancellationReasons": [{"Code": code or "None"} for code in codes],
        }

    def transact_write_items(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(self.response, "TransactWriteItems")  # type: ignore[arg-type]


def a_record(admin: Caller) -> tuple[ServerRecord, Any]:
    memory = InMemoryServerStore()
    record = create(memory, admin)
    return record, memory.audit_trail(record.id)[0]


@pytest.mark.parametrize(
    ("codes", "error"),
    [
        ((None, "ConditionalCheckFailed", None), NameConflict),
        (("ConditionalCheckFailed", None, None), NameConflict),
        ((None, "TransactionConflict", None), ConcurrentModification),
        (("TransactionConflict", None, None), ConcurrentModification),
    ],
)
def test_cancelled_creations_map_to_domain_errors(admin: Caller, codes: tuple[str | None, ...], error: type) -> None:
    record, audit = a_record(admin)
    with pytest.raises(error):
        DynamoDbServerStore(RefusingClient(*codes), "t").create(record, audit)


@pytest.mark.parametrize("codes", [("ConditionalCheckFailed", None), ("TransactionConflict", None)])
def test_cancelled_status_writes_are_concurrent_modifications(admin: Caller, codes: tuple[str | None, ...]) -> None:
    record, audit = a_record(admin)
    store = DynamoDbServerStore(RefusingClient(*codes), "t")
    with pytest.raises(ConcurrentModification):
        store.replace(record, record.evolve(version=2), audit)
    with pytest.raises(ConcurrentModification):
        store.remove(record, audit)


def test_other_service_errors_are_not_disguised_as_conflicts(admin: Caller) -> None:
    from botocore.exceptions import ClientError

    record, audit = a_record(admin)
    store = DynamoDbServerStore(RefusingClient(error_code="ProvisionedThroughputExceededException"), "t")
    with pytest.raises(ClientError):
        store.create(record, audit)
    with pytest.raises(ClientError):
        store.replace(record, record.evolve(version=2), audit)


def test_a_store_can_be_built_from_a_table_resource(servers_table: Any, admin: Caller) -> None:
    store = DynamoDbServerStore.from_table(servers_table)
    record = create(store, admin)
    assert store.get(record.id) == record


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: _b64(b))))
def test_any_token_either_decodes_or_is_a_bad_request_naming_next_token(token: str) -> None:
    problems: list[str] = []
    try:
        key = decode_next_token(token)
    except InvalidRequest as error:
        problems = [p.field for p in error.problems]
        key = None
    assert problems == ["nextToken"] if key is None else set(key) == {"pk", "sk", "gsi1pk", "gsi1sk"}


def test_attributes_this_version_does_not_know_are_ignored_on_read(store: Any, client: Any, admin: Caller) -> None:
    record = create(store, admin)
    key = {"pk": {"S": f"SERVER#{record.id}"}, "sk": {"S": "META"}}
    values = {":t": {"N": "1"}}
    client.update_item(
        TableName=SERVERS_TABLE,
        Key=key,
        UpdateExpression="SET expiresAt = :t",
        ExpressionAttributeValues=values,
    )
    assert store.get(record.id) == record


# -- the same races on Amazon's own engine (DynamoDB Local), no emulator patch ---------------------------------------


@pytest.fixture(scope="module")
def local_endpoint() -> Iterator[str]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with dynamodb_local() as endpoint:
        yield endpoint


@pytest.fixture
def local_client(local_endpoint: str) -> Any:
    client = boto3.client(
        "dynamodb",
        endpoint_url=local_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = f"servers-{uuid.uuid4().hex[:8]}"
    create_servers_table(client, name)
    client.get_waiter("table_exists").wait(TableName=name)
    client.table_name = name
    return client


@pytest.mark.slow
@pytest.mark.parametrize("conflict", list(CONFLICTS))
def test_two_conflicting_transitions_exactly_one_wins_on_dynamodb_local(
    local_client: Any, admin: Caller, conflict: str
) -> None:
    first, second = CONFLICTS[conflict]
    store = DynamoDbServerStore(local_client, local_client.table_name)
    for round_ in range(LOCAL_RACE_ROUNDS):
        # Given a server in service, read by both contenders at the same version
        record = in_service(store, admin, f"race-{round_}")

        # When both ask for their transition at once,
        # Then exactly one wins and the engine holds exactly the winner's write
        race_two_transitions(store, record.id, admin, first, second)
        assert len(store.audit_trail(record.id)) == 3


@pytest.mark.slow
def test_concurrent_creations_of_one_name_yield_one_record_on_dynamodb_local(local_client: Any, admin: Caller) -> None:
    store = DynamoDbServerStore(local_client, local_client.table_name)
    for round_ in range(LOCAL_RACE_ROUNDS):
        barrier = threading.Barrier(2, timeout=30)

        def create_at_once(name: str, barrier: threading.Barrier = barrier) -> ServerRecord:
            barrier.wait()
            return create(store, admin, name)

        outcomes = race(
            {"a": partial(create_at_once, f"name-{round_}"), "b": partial(create_at_once, f"NAME {round_}")}
        )

        assert sum(o.won for o in outcomes) == 1, (round_, outcomes)
        assert all(isinstance(o.error, NameConflict | ConcurrentModification) for o in outcomes if not o.won)
        assert store.get_by_name(f"name{round_}") is not None

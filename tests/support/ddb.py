"""The servers table, created from template.yaml's own `ServersTable` definition so tests cannot drift from it."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml

from tests.support.lambdas import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...) as plain data."""


def _tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _tag)


@cache
def _parsed_template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader


def load_template() -> dict[str, Any]:
    """template.yaml as data (parsed once per test session; a fresh copy each call)."""
    return copy.deepcopy(_parsed_template())


def servers_table_properties() -> dict[str, Any]:
    return load_template()["Resources"]["ServersTable"]["Properties"]


def create_table_arguments(table_name: str) -> dict[str, Any]:
    """`CreateTable` arguments equal to the template's ServersTable (CloudFormation and the API differ a little)."""
    props = servers_table_properties()
    args: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if "GlobalSecondaryIndexes" in props:
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if "SSESpecification" in props:
        args["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    return args


def create_servers_table(dynamodb: Any, table_name: str = "hosted-mcp-servers") -> Any:
    """Create the servers table with a boto3 DynamoDB *resource* or *client* (e.g. under moto) and return the Table
    resource (or, for a client, the CreateTable response)."""
    args = create_table_arguments(table_name)
    if hasattr(dynamodb, "create_table") and hasattr(dynamodb, "Table"):
        table = dynamodb.create_table(**args)
        table.wait_until_exists()
        return table
    return dynamodb.create_table(**args)


def create_call_audit_table(client: Any, table_name: str = "hosted-mcp-calls") -> str:
    """The data-plane audit table from template.yaml's `CallAuditTable`, with its TTL, through a boto3 *client*."""
    props = load_template()["Resources"]["CallAuditTable"]["Properties"]
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    ttl = props["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
    )
    return table_name

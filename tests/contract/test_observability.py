"""What the platform records about requests, read from template.yaml: traces never capture responses, the API's
access log is JSON without any header, execution logs and data traces are off, the stage is throttled, and a WAF
web ACL is associated only when one is given."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.ddb import load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
API = RESOURCES["Api"]["Properties"]
SECRET_BEARING = re.compile(r"authorization|api.?key|header|cookie|token|requestOverride|body", re.IGNORECASE)


def functions() -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def test_no_function_traces_what_it_returns() -> None:
    # Given the globals every function inherits
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    # Then response capture is off there, and no function turns it back on
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    for name, function in functions().items():
        own = function.get("Environment", {}).get("Variables", {})
        assert own.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "false") == "false", name


def access_log_fields() -> dict[str, str]:
    return dict(json.loads(API["AccessLogSetting"]["Format"]))


def test_the_access_log_is_one_json_object_of_context_variables_and_never_a_header() -> None:
    fields = access_log_fields()
    assert fields["requestId"] == "$context.requestId"  # API Gateway requires it
    assert {"status", "method", "path", "ip", "principal", "integrationLatency"} <= set(fields)
    for key, value in fields.items():
        assert re.fullmatch(r"\$context\.[A-Za-z.]+", value), (key, value)
        assert not SECRET_BEARING.search(value), (key, value)
        assert not SECRET_BEARING.search(key), key


def test_the_access_log_goes_to_a_log_group_with_retention() -> None:
    destination = API["AccessLogSetting"]["DestinationArn"]
    assert destination == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert RESOURCES["ApiAccessLogs"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_stage_is_throttled_and_keeps_no_execution_logs_or_data_traces() -> None:
    (settings,) = API["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert settings["DataTraceEnabled"] is False
    assert settings["LoggingLevel"] == "OFF"


def test_a_waf_web_acl_is_associated_only_when_one_is_given() -> None:
    parameter = TEMPLATE["Parameters"]["WebAclArn"]
    assert parameter["Default"] == ""
    assert TEMPLATE["Conditions"]["HasWebAcl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebAclArn"}, ""]}]}
    association = RESOURCES["ApiWebAclAssociation"]
    assert association["Condition"] == "HasWebAcl"
    assert association["Properties"]["WebACLArn"] == {"Ref": "WebAclArn"}
    assert "${Api.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]


def test_the_records_pipe_logs_errors_without_the_records() -> None:
    logging = RESOURCES["ServerRecordsPipe"]["Properties"]["LogConfiguration"]
    assert logging["Level"] == "ERROR"
    assert "IncludeExecutionData" not in logging

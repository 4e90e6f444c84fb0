"""The cost model's arithmetic and its per-lifecycle counts."""

import pytest

from bench import prices
from bench.cost import (
    ROUTER,
    TaskSize,
    fargate_month,
    lifecycle_counts,
    logs_month,
    ours_month,
    reconcile_month,
    reference_month,
    router_month,
)
from tests.support.ddb import load_template


def test_fargate_month_is_vcpu_plus_memory_for_every_hour() -> None:
    # Given the default task (0.25 vCPU, 0.5 GB) on arm64
    size = TaskSize(cpu=256, memory_mib=512, tasks=2, arch="arm64")
    # Then a month is both tasks' vCPU-hours and GB-hours at list price
    hourly = 0.25 * prices.FARGATE_VCPU_HOUR_ARM.value + 0.5 * prices.FARGATE_GB_HOUR_ARM.value
    assert fargate_month(size) == pytest.approx(2 * hourly * 730)


def test_fargate_month_rejects_an_unknown_architecture() -> None:
    with pytest.raises(ValueError, match="architecture"):
        fargate_month(TaskSize(arch="mips"))


def test_ours_pays_one_load_balancer_and_one_router_and_the_reference_two_balancers_per_server() -> None:
    # Given 10 servers of the same size in both designs
    ours, reference = ours_month(10), reference_month(10)
    alb_month = prices.ALB_HOUR.value * 730
    # Then ours has one ALB, the router at rest and the reconcile sweep as fixed cost
    assert ours.fixed == pytest.approx(alb_month + router_month() + reconcile_month())
    # And per server only its key and the Cloud Map registration of its task, no load balancer
    assert ours.per_server_keys == prices.SECRETS_MANAGER_SECRET_MONTH.value
    assert ours.per_server_network == prices.CLOUD_MAP_INSTANCE_MONTH.value
    # And the reference has an NLB and an ALB per server and no fixed networking
    assert reference.fixed == 0
    assert reference.per_server_network == pytest.approx(alb_month + prices.NLB_HOUR.value * 730)
    # And compute is the same on both sides
    assert ours.per_server_compute == reference.per_server_compute
    assert ours.total == pytest.approx(ours.fixed + 10 * ours.per_server)


def test_the_router_at_rest_is_its_minimum_tasks_as_the_template_deploys_them() -> None:
    # Given the router service's defaults in template.yaml
    parameters = load_template()["Parameters"]
    definition = load_template()["Resources"]["RouterTaskDefinition"]["Properties"]
    assert ROUTER.tasks == parameters["RouterMinTasks"]["Default"]
    assert (str(ROUTER.cpu), str(ROUTER.memory_mib)) == (
        parameters["RouterCpu"]["Default"],
        parameters["RouterMemory"]["Default"],
    )
    assert ROUTER.arch.upper() == definition["RuntimePlatform"]["CpuArchitecture"]
    # Then its monthly cost is those tasks, its logs, its key, the namespace's zone and the images
    expected = (
        fargate_month(ROUTER)
        + logs_month(prices.ASSUMED_ROUTER_LOG_GB_MONTH.value)
        + prices.SECRETS_MANAGER_SECRET_MONTH.value
        + prices.ROUTE53_HOSTED_ZONE_MONTH.value
        + prices.ASSUMED_IMAGES_GB.value * prices.ECR_GB_MONTH.value
    )
    assert router_month() == pytest.approx(expected)


def test_past_a_few_servers_ours_costs_less_per_server_and_the_gap_grows() -> None:
    ratios = [ours_month(n).total / reference_month(n).total for n in (1, 100, 1000)]
    assert ratios[1] < 0.5
    assert ratios[2] < ratios[1]


def test_choreography_lifecycle_has_one_stack_call_per_action_and_no_transitions() -> None:
    # When the real logic runs a full lifecycle on counting fakes
    counts = lifecycle_counts()
    # Then each of the five actions made exactly one CloudFormation call and nothing polled
    assert counts.cloudformation_calls == 5
    assert counts.state_transitions == 0
    assert counts.detail["lambda.settle"] == 5
    # And every status change (10 in create/update/stop/start/delete) was published once
    assert counts.custom_events == 10
    assert counts.detail["lambda.publish"] == 10


def test_reconcile_sweep_costs_one_invocation_per_period() -> None:
    # Given a sweep every 5 minutes: 8,760 invocations in a 730-hour month
    invocations = 730 * 60 / 5
    per_invocation = prices.LAMBDA_MILLION_REQUESTS.value / 1e6 + 0.5 * prices.LAMBDA_GB_SECOND_ARM.value
    assert reconcile_month(5, memory_gb=0.5) == pytest.approx(invocations * per_invocation)


def test_logic_driven_counts_agree_with_the_table_the_readme_shows() -> None:
    # Given the per-operation table the choreography test checks against the real handlers
    from tests.support import lifecycle_cost as shared

    measured = shared.total(shared.CHOREOGRAPHY)
    # When the logic alone is driven through the same lifecycle
    counts = lifecycle_counts()
    # Then both see the same Lambda invocations and servers-table item writes
    assert counts.lambda_invocations == measured.lambdas
    assert counts.servers_table_items == measured.item_writes


def test_a_million_audited_calls_cost_their_writes_and_a_month_of_storage() -> None:
    from bench.cost import per_million_calls

    # Given the item the DynamoDB adapter writes for a typical call
    cost = per_million_calls()

    # Then it fits one write unit, and a million of them cost a million units plus a month of their bytes
    assert 300 < cost.item_bytes <= 1024
    assert cost.audit_writes == pytest.approx(prices.DYNAMODB_MILLION_WRU.value)
    stored_gb = 1_000_000 * (cost.item_bytes + 100) / 1024**3
    assert cost.audit_storage_month == pytest.approx(stored_gb * prices.DYNAMODB_GB_MONTH.value)
    # And the uncached authorizer costs its requests, its billed time and two reads per request
    duration = 1_000_000 * prices.ASSUMED_AUTHORIZER_MS.value / 1000 * prices.LAMBDA_GB_SECOND_ARM.value
    expected = prices.LAMBDA_MILLION_REQUESTS.value + duration + 2 * prices.DYNAMODB_MILLION_RRU.value
    assert cost.authorizer == pytest.approx(expected)

"""What one full lifecycle (create, update, stop, start, delete) of one server costs in calls, for docs/benchmarks.md.

`CHOREOGRAPHY` is what this platform does per operation; the choreography test measures it in process (every
Lambda invocation, every item the servers table's stream reports, every CloudFormation call) and checks it equals
this table. `polling_reference` models the reference design: a Step Functions workflow per operation whose loop
polls the stack every 60 s, so its cost grows with how long CloudFormation takes. `cost_table()` renders both;
a test checks docs/benchmarks.md carries exactly that table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OPERATIONS = ("create", "update", "stop", "start", "delete")


@dataclass(frozen=True)
class Cost:
    lambdas: int
    item_writes: int
    cloudformation_calls: int
    state_transitions: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.lambdas + other.lambdas,
            self.item_writes + other.item_writes,
            self.cloudformation_calls + other.cloudformation_calls,
            self.state_transitions + other.state_transitions,
        )


# Per operation on this platform. Lambdas: the API call, the reaction its stream record wakes (deploy/apply/teardown),
# publish for the status change, settle for the one terminal stack event the rule lets through, publish again for
# the settled status. Item writes (servers table): create = record + name guard + audit, the stack id noted on the
# record, settle = record + audit; update/stop/start = record + audit twice; delete = record + audit, then record,
# name guard and audit removed/written. CloudFormation: one Create/Update/DeleteStack (delete first looks the stack
# up). Independent of how long the stack takes: nothing waits, nothing polls.
CHOREOGRAPHY: dict[str, Cost] = {
    "create": Cost(lambdas=5, item_writes=6, cloudformation_calls=1),
    "update": Cost(lambdas=5, item_writes=4, cloudformation_calls=1),
    "stop": Cost(lambdas=5, item_writes=4, cloudformation_calls=1),
    "start": Cost(lambdas=5, item_writes=4, cloudformation_calls=1),
    "delete": Cost(lambdas=5, item_writes=5, cloudformation_calls=2),
}

# How long CloudFormation takes, in minutes (assumed, typical for the resources involved). The reference's stack per
# server holds its own NLB, ALB and VPC link besides the ECS service; ours holds the service, a target group and a
# listener rule on the shared ALB. Polling only costs in the reference, so only its durations enter the table.
REFERENCE_MINUTES = {"create": 15, "update": 6, "stop": 4, "start": 5, "delete": 10}
OUR_MINUTES = {"create": 5, "update": 6, "stop": 2, "start": 4, "delete": 3}
POLL_SECONDS = 60


def polling_reference(operation: str, minutes: int) -> Cost:
    """One Step Functions execution: the API Lambda, a status-write Lambda, a deploy Lambda (plus the deployer it
    calls), then one poll Lambda (DescribeStacks) per minute until the stack settles, then a finalize Lambda.
    Each poll costs three state transitions (task, choice, wait); the fixed steps five."""
    polls = math.ceil(minutes * 60 / POLL_SECONDS)
    fixed_lambdas = 5
    writes = 2  # status on entry and on exit; no audit trail
    calls = 1 + polls  # the Create/Update/DeleteStack, then a DescribeStacks per poll
    return Cost(
        lambdas=fixed_lambdas + polls,
        item_writes=writes,
        cloudformation_calls=calls,
        state_transitions=5 + 3 * polls,
    )


def total(costs: dict[str, Cost]) -> Cost:
    result = Cost(0, 0, 0)
    for operation in OPERATIONS:
        result = result + costs[operation]
    return result


def reference_costs() -> dict[str, Cost]:
    return {op: polling_reference(op, REFERENCE_MINUTES[op]) for op in OPERATIONS}


def cost_table() -> str:
    """Each cell: ours / the reference. Stack times are assumed; item writes are to the servers table."""
    ours, ref = CHOREOGRAPHY, reference_costs()
    lines = [
        "| operation | stack time | Lambda invocations | item writes | CloudFormation calls | state transitions |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPERATIONS:
        a, b = ours[op], ref[op]
        lines.append(
            f"| {op} | {OUR_MINUTES[op]} / {REFERENCE_MINUTES[op]} min | {a.lambdas} / {b.lambdas} | "
            f"{a.item_writes} / {b.item_writes} | {a.cloudformation_calls} / {b.cloudformation_calls} | "
            f"0 / {b.state_transitions} |"
        )
    a, b = total(ours), total(ref)
    lines.append(
        f"| **whole lifecycle** | {sum(OUR_MINUTES.values())} / {sum(REFERENCE_MINUTES.values())} min | "
        f"**{a.lambdas} / {b.lambdas}** | **{a.item_writes} / {b.item_writes}** | "
        f"**{a.cloudformation_calls} / {b.cloudformation_calls}** | **0 / {b.state_transitions}** |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(cost_table())

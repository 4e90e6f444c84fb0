"""The lifecycle, loaded from `statemachine/lifecycle.json` (the one source of truth).

API guards ask which operation is allowed in which status; reactions ask which transitions an outcome allows
and what each status triggers on entry; the reconciler asks for deadlines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Literal

from hosted_mcp.errors import StatusConflict
from hosted_mcp.models.fields import ServerStatus

Operation = Literal["create", "update", "stop", "start", "delete", "redeploy"]
# deployed / rolledBack / failed: how an action a transitional status asked for ended. lost: the deployment of a
# record in a stable status stopped running and does not come back by itself.
Outcome = Literal["deployed", "rolledBack", "failed", "lost"]
Reaction = Literal["deploy", "apply", "teardown", "publish"]


@dataclass(frozen=True)
class StatusRule:
    transitional: bool
    deadline: timedelta | None
    on_enter: Reaction | None
    on_deadline: ServerStatus | None


@dataclass(frozen=True)
class OperationRule:
    allowed_from: frozenset[ServerStatus]
    to: ServerStatus


@dataclass(frozen=True)
class Lifecycle:
    statuses: dict[ServerStatus, StatusRule]
    operations: dict[str, OperationRule]
    transitions: frozenset[tuple[ServerStatus, ServerStatus | None, str]]

    @classmethod
    def from_document(cls, doc: dict) -> Lifecycle:
        names = set(doc["statuses"])
        expected = {s.value for s in ServerStatus}
        if names != expected:
            raise ValueError(f"lifecycle statuses {sorted(names)} differ from the wire contract {sorted(expected)}")
        statuses = {
            ServerStatus(name): StatusRule(
                transitional=rule["transitional"],
                deadline=timedelta(seconds=rule["deadlineSeconds"]) if "deadlineSeconds" in rule else None,
                on_enter=rule.get("onEnter"),
                on_deadline=ServerStatus(rule["onDeadline"]) if "onDeadline" in rule else None,
            )
            for name, rule in doc["statuses"].items()
        }
        for status, rule in statuses.items():
            if rule.transitional and (rule.deadline is None or rule.on_deadline is None):
                raise ValueError(f"transitional status {status} needs a deadline and a way out")
        operations = {
            name: OperationRule(
                allowed_from=frozenset(ServerStatus(s) for s in rule.get("from", [])),
                to=ServerStatus(rule["to"]),
            )
            for name, rule in doc["operations"].items()
        }
        transitions = frozenset(
            (ServerStatus(t["from"]), ServerStatus(t["to"]) if t["to"] else None, t["on"]) for t in doc["transitions"]
        )
        return cls(statuses=statuses, operations=operations, transitions=transitions)

    # -- API guards -------------------------------------------------------------------------------------------
    def operation(self, name: Operation) -> OperationRule:
        return self.operations[name]

    def guard(self, name: Operation, current: ServerStatus) -> ServerStatus:
        """The status `name` moves a record in `current` to, or StatusConflict naming the allowed statuses."""
        rule = self.operations[name]
        if current not in rule.allowed_from:
            allowed = " or ".join(sorted(rule.allowed_from))
            raise StatusConflict(f"Cannot {name} a server in status {current}; allowed only in {allowed}")
        return rule.to

    # -- reactions --------------------------------------------------------------------------------------------
    def allows(self, current: ServerStatus, target: ServerStatus | None, outcome: Outcome) -> bool:
        return (current, target, outcome) in self.transitions

    def is_transitional(self, status: ServerStatus) -> bool:
        return self.statuses[status].transitional

    def deadline(self, status: ServerStatus) -> timedelta | None:
        return self.statuses[status].deadline

    def on_enter(self, status: ServerStatus) -> Reaction | None:
        return self.statuses[status].on_enter

    def on_deadline(self, status: ServerStatus) -> ServerStatus | None:
        return self.statuses[status].on_deadline

    def transitional_statuses(self) -> list[ServerStatus]:
        return [s for s, rule in self.statuses.items() if rule.transitional]


def load_document() -> dict:
    return json.loads(resources.files("hosted_mcp").joinpath("lifecycle.json").read_text(encoding="utf-8"))


@cache
def lifecycle() -> Lifecycle:
    return Lifecycle.from_document(load_document())

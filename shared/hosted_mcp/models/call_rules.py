"""What a server's callers may do on its data plane: the tool policy and the call limits on its record.

**Tool policy** (`toolPolicy`): for each identity-provider group, which tools, prompts and resources its members
may use, by name (tools, prompts) or URI (resources), each entry a literal or a glob where `*` stands for any run
of characters (nothing else is special, so a URI with `?` or `[` is written as it is). The key `*` is the rule for
callers in none of the listed groups. In a rule, a kind left out means every one of that kind; an empty list means
none. Without a policy, or for a caller matched by no key and no `*`, everything is allowed (as before policies
existed). A caller in several listed groups may use what any of them may.

```json
"toolPolicy": {
  "analysts": {"tools": ["search", "report_*"], "prompts": [], "resources": ["docs://public/*"]},
  "*": {"tools": []}
}
```

Group keys are normalised like `groups` (`analysts` -> `group:analysts`); on a server that is not public each must
be one of its groups (another group's members cannot reach the server at all).

**Call limits** (`callLimits`): a request rate per caller with a burst (a token bucket: `burst` requests at once,
refilled at `ratePerSecond`), and a cap on the calls (`tools/call`, `prompts/get`, `resources/read`) in flight on
one replica at a time. Both are enforced by each gateway process on its own (docs: `docs/policy.md`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from hosted_mcp.models.fields import PUBLIC_GROUP, normalize_group, rule_error

EVERYONE_ELSE = "*"
MAX_PATTERNS = 1000
MAX_RULES = 51  # the 50 groups a server may have, and `*`
MAX_POLICY_CHARS = 64 * 1024  # all patterns together: the record (a DynamoDB item) stays far below 400 KB

Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="A name (tools, prompts) or URI (resources); `*` matches any run of characters."),
]
PolicyKey = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")]


class ToolAccess(BaseModel):
    """One group's rule: what it may use of each kind (left out: everything of that kind; `[]`: nothing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: list[Pattern] | None = Field(None, max_length=MAX_PATTERNS)
    prompts: list[Pattern] | None = Field(None, max_length=MAX_PATTERNS)
    resources: list[Pattern] | None = Field(None, max_length=MAX_PATTERNS)


class ToolPolicy(RootModel[dict[PolicyKey, ToolAccess]]):
    """Rules by group (`group:<name>`), and `*` for everyone else; see the module's documentation."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _normalise_keys(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if len(value) > MAX_RULES:
            raise rule_error("toolPolicy", f"at most {MAX_RULES} rules (one per group, and *)")
        normalised: dict[str, Any] = {}
        for key, rule in value.items():
            if not isinstance(key, str):
                return value  # left to the field validation, which names it
            if key == PUBLIC_GROUP:
                raise rule_error(f"toolPolicy.{key}", f"{PUBLIC_GROUP} is no group of a caller: use * for everyone")
            name = key if key == EVERYONE_ELSE else normalize_group(key)
            if name in normalised:
                raise rule_error(f"toolPolicy.{key}", f"{name} has two rules")
            normalised[name] = rule
        return normalised

    @model_validator(mode="after")
    def _bounded(self) -> ToolPolicy:
        size = sum(
            len(p)
            for rule in self.root.values()
            for kind in (rule.tools, rule.prompts, rule.resources)
            for p in kind or ()
        )
        if size > MAX_POLICY_CHARS:
            raise rule_error("toolPolicy", f"at most {MAX_POLICY_CHARS} characters of names and patterns in all")
        return self

    @property
    def rules(self) -> dict[str, ToolAccess]:
        return self.root

    def groups(self) -> list[str]:
        return [key for key in self.root if key != EVERYONE_ELSE]


def check_policy_groups(policy: ToolPolicy | None, groups: Iterable[str]) -> None:
    """On a server that is not public, every group the policy names must be one of the server's groups."""
    allowed = set(groups)
    if policy is None or PUBLIC_GROUP in allowed:
        return
    for key in policy.groups():
        if key not in allowed:
            raise rule_error(f"toolPolicy.{key}", f"{key} is not one of the server's groups ({', '.join(allowed)})")


class CallLimits(BaseModel):
    """Per caller: `ratePerSecond` with `burst`; per replica: `maxConcurrentPerReplica` calls in flight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratePerSecond: float | None = Field(
        None, gt=0, le=100_000, description="Requests per second each caller may make to this server."
    )
    burst: int | None = Field(
        None, ge=1, le=1_000_000, description="Requests a caller may make at once (default: one second's worth)."
    )
    maxConcurrentPerReplica: int | None = Field(
        None, ge=1, le=100_000, description="Calls in flight on one replica at a time (a stdio child is one process)."
    )

    @model_validator(mode="after")
    def _burst_needs_a_rate(self) -> CallLimits:
        if self.burst is not None and self.ratePerSecond is None:
            raise rule_error("callLimits.burst", "burst needs ratePerSecond")
        return self

    @property
    def bucket_size(self) -> int:
        """How many requests a caller may make at once."""
        if self.burst is not None:
            return self.burst
        return max(1, math.ceil(self.ratePerSecond or 1))


def glob_regex(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One anchored regular expression for the patterns with a `*`, or None when there are none."""
    globs = [p for p in patterns if "*" in p]
    if not globs:
        return None
    alternatives = ["".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", g)) for g in globs]
    return re.compile("(?:" + "|".join(alternatives) + r")\Z", re.DOTALL)

"""What a deployment backend reports: where a deployment lives, and how an action on it settled."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hosted_mcp.lifecycle import Outcome
from hosted_mcp.models.fields import ServerStatus


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True)

    deploymentId: str  # CloudFormation stack id on AWS; a local deployment id on one machine
    stackName: str
    unchanged: bool = False  # a redeploy found the deployment already as asked: no settlement will follow


class Settlement(BaseModel):
    """A deployment action finished, or (outcome `lost`) a running deployment was lost. `token` ties an action's
    settlement to the record version that asked for it; `status` ties a loss to the stable status it was seen in."""

    model_config = ConfigDict(frozen=True)

    serverId: str | None = None
    deploymentId: str
    outcome: Outcome
    reason: str
    token: str | None = None
    status: ServerStatus | None = None

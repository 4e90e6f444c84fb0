"""The limits that depend on how the platform was deployed, read from the API function's environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hosted_mcp.models.limits import PlatformLimits, configure_platform_limits

ROLE_PATH_VARIABLE = "SERVER_ROLE_PATH"


def platform_limits_from(environ: Mapping[str, str]) -> PlatformLimits:
    """`SERVER_ROLE_PATH` (template.yaml: `/<PassableRolePath>`) is where task roles a client names must live."""
    role_path = environ.get(ROLE_PATH_VARIABLE) or PlatformLimits().role_path
    return PlatformLimits(role_path=role_path if role_path.endswith("/") else role_path + "/")


def configure_from_environ() -> None:
    configure_platform_limits(platform_limits_from(os.environ))

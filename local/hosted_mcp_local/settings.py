"""Settings of the one-machine platform's supervision, from `HOSTED_MCP_*` environment variables, validated once.

| variable | default | what |
|---|---|---|
| `HOSTED_MCP_CRASH_LOOP_RESTARTS` | 5 | restarts of one replica allowed within the window; one failure more: `Failed` |
| `HOSTED_MCP_CRASH_LOOP_WINDOW` | 600 | the window, in seconds |
| `HOSTED_MCP_LOG_MAX_BYTES` | 10485760 | size at which a replica's log is rotated (`replica-N.log` -> `.log.1`) |
| `HOSTED_MCP_LOG_BACKUPS` | 2 | rotated files kept per replica: at most (1 + backups) x max bytes on disk |

Five restarts in ten minutes: the backoff between restarts (0, 1, 3, 7, 15 s) lets a server that fails at once use
up its five restarts in about half a minute plus five start-up times, while a server that crashes once an hour is
restarted every time. Errors name the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MIB = 1 << 20


class SettingsError(RuntimeError):
    """A `HOSTED_MCP_*` variable holds a value the platform cannot use."""


class SupervisionSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    crash_loop_restarts: int = Field(5, ge=1, le=1000, alias="HOSTED_MCP_CRASH_LOOP_RESTARTS")
    crash_loop_window: float = Field(600.0, gt=0, le=7 * 86400, alias="HOSTED_MCP_CRASH_LOOP_WINDOW")
    log_max_bytes: int = Field(10 * MIB, ge=4096, alias="HOSTED_MCP_LOG_MAX_BYTES")
    log_backups: int = Field(2, ge=0, le=100, alias="HOSTED_MCP_LOG_BACKUPS")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SupervisionSettings:
        values = {k: v for k, v in (os.environ if environ is None else environ).items() if k.startswith("HOSTED_MCP_")}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            names = ", ".join(sorted(str(e["loc"][0]) for e in error.errors() if e.get("loc")))
            raise SettingsError(f"invalid settings: {names}") from error

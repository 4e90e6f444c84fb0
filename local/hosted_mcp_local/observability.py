"""The `serve` process's own output: JSON lines only, in the Powertools format every logger of the platform writes.

What would otherwise be plain text is routed through the same formatter: uvicorn's own logs, Python warnings, and
exceptions no thread caught. The announcement that the platform is up is a log line too (`message`
"Hosted MCP is running at", with the URL and the commands to go on in its keys). Neither the platform's logs nor
this output carry a record's environment values (failure reasons are redacted where they are made) or a credential
(the gateway and the API log who, never what they were given).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE = "hosted-mcp-serve"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

logger = Logger(service=SERVICE)


class WithoutColour(logging.Filter):
    """Drops the terminal-coloured copy of the message uvicorn attaches to some records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """`log_config` for uvicorn: its loggers write JSON lines to stdout, like the rest of the platform."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"without_colour": {"()": WithoutColour}},
        "formatters": {"json": {"()": LambdaPowertoolsFormatter, "service": "hosted-mcp-http"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["without_colour"],
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            name: {"handlers": ["json"], "level": level.upper(), "propagate": False} for name in UVICORN_LOGGERS
        },
    }


def structure_everything_else() -> None:
    """Python warnings and uncaught exceptions (of any thread) as JSON lines instead of plain text on stderr."""
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaPowertoolsFormatter(service=SERVICE))
    warnings_logger.handlers = [handler]
    warnings_logger.propagate = False

    def uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        logger.error("uncaught exception", exc_info=(kind, error, trace))

    def uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        thread = args.thread.name if args.thread else None
        logger.error(
            "uncaught exception in a thread",
            thread=thread,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread


def announce(base_url: str, data_dir: Path) -> None:
    """The platform is up: where, and what to do next (commands, never a credential)."""
    logger.info(
        "Hosted MCP is running at",
        url=base_url,
        data_dir=str(data_dir),
        admin_token_command=f"hosted-mcp token --data-dir {data_dir} --user admin --admin",
        then=f"export HOSTED_MCP_URL={base_url} HOSTED_MCP_TOKEN=<that token>",
    )

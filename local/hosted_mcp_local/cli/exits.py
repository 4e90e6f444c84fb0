"""What `hosted-mcp` exits with: one table, which scripts rely on and the help renders."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    API_ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    FAILED = 5
    TIMEOUT = 6
    UNREACHABLE = 7
    ROLLED_BACK = 8
    SERVE_FAILED = 9


MEANINGS: dict[Exit, str] = {
    Exit.OK: "success (for `wait`: the wanted status was reached)",
    Exit.API_ERROR: "the API refused or failed the request",
    Exit.USAGE: "bad command line or input file, or no platform in the data directory",
    Exit.AUTH: "not authenticated (401) or not allowed (403)",
    Exit.NOT_FOUND: "no such server (or API key)",
    Exit.FAILED: "wait: the server reached Failed (or was removed) instead",
    Exit.TIMEOUT: "wait: timed out",
    Exit.UNREACHABLE: "the API could not be reached",
    Exit.ROLLED_BACK: "wait: the status was reached, but the change was rolled back (lastError says why)",
    Exit.SERVE_FAILED: "serve: the platform could not start (port or data directory in use)",
}


def exit_codes_help() -> str:
    return "exit codes:\n" + "".join(f"  {int(code)}  {MEANINGS[code]}\n" for code in Exit)


class CliError(Exception):
    """A failure the command reports in one line and exits with `code`."""

    def __init__(self, message: str, code: Exit = Exit.API_ERROR, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status  # the HTTP status, when the API answered

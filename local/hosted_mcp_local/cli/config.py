"""Where the API is and who calls it: --url/--token, else HOSTED_MCP_URL/HOSTED_MCP_TOKEN, else the config file
(HOSTED_MCP_CONFIG, default ~/.config/hosted-mcp/config.json: {"url": "...", "token": "..."})."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from hosted_mcp_local.cli.exits import CliError, Exit

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATA_DIR = ".data"


def default_data_dir() -> str:
    return os.environ.get("HOSTED_MCP_DATA_DIR") or DEFAULT_DATA_DIR


def config_file() -> Path:
    return Path(os.environ.get("HOSTED_MCP_CONFIG") or Path.home() / ".config" / "hosted-mcp" / "config.json")


def load_config() -> dict[str, str]:
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CliError(f"{path}: not valid JSON ({error})", Exit.USAGE) from error
    return {k: str(v) for k, v in data.items() if k in ("url", "token")} if isinstance(data, dict) else {}


def connection(args: argparse.Namespace) -> tuple[str, str | None]:
    config = load_config()
    url = args.url or os.environ.get("HOSTED_MCP_URL") or config.get("url") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    token = args.token or os.environ.get("HOSTED_MCP_TOKEN") or config.get("token")
    return url.rstrip("/"), token

"""Load `functions/<name>/app.py` as a module. Every function's entry point is called `app`, so each load gets its own
module name instead of colliding in `sys.modules`."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
_loads = itertools.count()


def load_handler(function_dir_name: str) -> ModuleType:
    """Import functions/<function_dir_name>/app.py afresh under a unique module name and return the module."""
    path = FUNCTIONS_DIR / function_dir_name / "app.py"
    if not path.is_file():
        raise FileNotFoundError(path)
    module_name = f"function_{function_dir_name.replace('-', '_')}_app_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "hosted-mcp-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:hosted-mcp-test"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/hosted-mcp-test"
    log_stream_name = "2026/01/01/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000

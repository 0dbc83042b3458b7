"""Command-line tools the tests run (promtool, chromium, mailpit, grpcurl, toxiproxy-server).

`make test` installs them first with deploy/local/tools.sh. A missing tool fails the test under
PAPERWIRE_REQUIRE_SERVERS=1 (CI, make test) and skips it otherwise (a developer's quick run), naming the fix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TOOLS_BIN = Path(os.environ.get("PAPERWIRE_TOOLS_BIN") or Path.home() / ".cache" / "paperwire" / "bin")
# tools.sh name -> the binary it provides
BINARIES = {
    "promtool": "promtool",
    "chromium": "chromium",
    "mailpit": "mailpit",
    "grpcurl": "grpcurl",
    "toxiproxy": "toxiproxy-server",
}


def find_tool(name: str) -> str | None:
    binary = BINARIES[name]
    installed = TOOLS_BIN / binary
    if installed.exists():
        return str(installed)
    return shutil.which(binary)


def need_tool(name: str) -> str:
    """The tool's path; fail (CI) or skip (developer) when it is not installed."""
    path = find_tool(name)
    if path is not None:
        return path
    msg = f"{name} is not installed: run `make tools` (bash deploy/local/tools.sh install {name})"
    if os.environ.get("PAPERWIRE_REQUIRE_SERVERS") == "1":
        pytest.fail(msg + " (PAPERWIRE_REQUIRE_SERVERS=1: tests never skip here)", pytrace=False)
    pytest.skip(msg)

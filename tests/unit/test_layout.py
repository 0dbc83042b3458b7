"""Layout rules the code must keep (an ast scan, no import of the code under test)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

SERVICES = ROOT / "services"
FIRST_PARTY = {p.name for p in SERVICES.iterdir() if p.is_dir() and p.name.startswith("paperwire")}


def first_party_imports(source: str) -> set[str]:
    """The first-party top-level packages a module imports, anywhere in it (relative imports stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & FIRST_PARTY


def imported_packages(package: str) -> dict[str, set[str]]:
    """module file -> first-party top-level packages it imports."""
    return {
        str(path.relative_to(ROOT)): first_party_imports(path.read_text())
        for path in sorted((SERVICES / package).rglob("*.py"))
    }


def test_the_gateway_imports_only_the_shared_package() -> None:
    # `paperwire` is the gRPC code generated from proto/.
    allowed = {"paperwire_gateway", "paperwire_common", "paperwire"}
    found = imported_packages("paperwire_gateway")
    assert len(found) >= 10
    bad = {f: sorted(p - allowed) for f, p in found.items() if p - allowed}
    assert not bad, f"the gateway imports other services (pass what it needs in): {bad}"


def test_the_shared_package_imports_no_service() -> None:
    found = imported_packages("paperwire_common")
    bad = {f: sorted(p - {"paperwire_common"}) for f, p in found.items() if p - {"paperwire_common"}}
    assert not bad, bad


def test_the_scan_sees_every_kind_of_import() -> None:
    source = """
import json
import paperwire_enricher.embeddings
from paperwire_trending.service import Trending
from . import deps

def f():
    from paperwire_indexer import reindex
"""
    assert first_party_imports(source) == {"paperwire_enricher", "paperwire_trending", "paperwire_indexer"}

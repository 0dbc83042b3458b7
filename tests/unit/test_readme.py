"""The README is the user's manual: keep its settings tables and commands true."""

from __future__ import annotations

import re

from paperwire_cli.settings_doc import settings_classes, with_settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_settings_tables_match_the_code() -> None:
    assert with_settings(README) == README, "run `make readme` to regenerate the configuration tables"


def test_every_setting_is_documented_with_a_meaning() -> None:
    for _, cls in settings_classes():
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"


def test_the_two_commands_come_first() -> None:
    first = README.index("make run")
    assert first < README.index("## Architecture") and README.index("make test") < README.index("## Architecture")


def test_make_targets_named_in_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    for t in set(re.findall(r"make ([a-z][a-z-]+)", README)):
        assert t in targets, f"README mentions `make {t}` but the Makefile has no such target"

"""Every setting of every service as Markdown tables (`paperwire settings`); the README embeds this output
and tests/unit/test_readme.py keeps the two equal."""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

from paperwire_common.workers import GATEWAY_SETTINGS, WORKERS, load

# (title, "module:Class"): the shared settings, the ingestor, every registered worker, the gateway.
SETTINGS_CLASSES = (
    ("all services", "paperwire_common.settings:CommonSettings"),
    ("ingestor", "paperwire_ingestor.settings:IngestorSettings"),
    *((w.name, w.settings) for w in WORKERS.values()),
    ("gateway", GATEWAY_SETTINGS),
)


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    return [(title, load(path)) for title, path in SETTINGS_CLASSES]


def env_vars(cls: type[BaseSettings]) -> dict[str, Any]:
    """ENV_VAR -> default, for one settings class."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper(): f.default for name, f in cls.model_fields.items()}


def _fmt(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v}"


def markdown() -> str:
    parts = []
    for title, cls in settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        parts.append(f"#### {title} (`{prefix}*`)\n")
        parts.append("| env var | default | meaning |\n|---|---|---|")
        for name, f in cls.model_fields.items():
            desc = (f.description or "").replace("|", "\\|")
            parts.append(f"| `{prefix}{name.upper()}` | `{_fmt(f.default)}` | {desc} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def with_settings(readme: str) -> str:
    """The README text with its settings block replaced by the current tables."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown()}{END}{tail}"

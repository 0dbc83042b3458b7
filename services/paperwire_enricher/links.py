"""Code and project links found in an abstract (the seed has GitHub repos and github.io project pages)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "huggingface.co",
    "codeberg.org",
    "sourceforge.net",
)


def _clean(url: str) -> str:
    # Sentence punctuation sticks to URLs in prose ("... at https://github.com/a/b.").
    return url.rstrip(".,;:!?")


def extract_links(*texts: str) -> tuple[list[str], list[str]]:
    """(code_urls, project_urls), each de-duplicated in order of appearance."""
    code: list[str] = []
    project: list[str] = []
    for text in texts:
        for raw in _URL.findall(text or ""):
            url = _clean(raw)
            host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
            if not host or "." not in host:
                continue
            is_repo = (
                host in ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")
                and len([p for p in urlsplit(url).path.split("/") if p]) >= 2
            )
            target = code if is_repo or (host in CODE_HOSTS and host not in ("github.com", "gitlab.com")) else project
            if url not in target:
                target.append(url)
    return code, project

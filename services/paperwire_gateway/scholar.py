"""Semantic Scholar's Recommendations API shape (POST /recommendations/v1/papers), for its clients.

Request `{"positivePaperIds": [...], "negativePaperIds": [...]}` with `?fields=` and `?limit=` (default 100, at
most 500), answer `{"recommendedPapers": [...]}`. Ids may be given the way Semantic Scholar takes them
(`ArXiv:2106.15928`, `DOI:10.1/x`, `URL:https://arxiv.org/abs/...`) or as Paperwire ids. A paper carries
`paperId` always and, of Semantic Scholar's paper fields, those Paperwire has: `externalIds` (ArXiv, DOI),
`url` (its page here), `title`, `abstract`, `year`, `publicationDate`, `authors` (`authorId` is null: Paperwire
has no author ids) and `openAccessPdf` (arXiv papers). Without `fields`, `paperId` and `title`, as there.
"""

from __future__ import annotations

from typing import Any

from paperwire_common.ids import normalize_doi, parse_arxiv_id

from .atom import paper_page

FIELDS = ("paperId", "externalIds", "url", "title", "abstract", "year", "publicationDate", "authors", "openAccessPdf")
DEFAULT_FIELDS = ("paperId", "title")
AUTHOR_SUBFIELDS = ("authors.name", "authors.authorId")
DEFAULT_LIMIT, MAX_LIMIT = 100, 500


class UnsupportedFields(ValueError):
    """`fields` names fields Paperwire does not serve (a 400, as Semantic Scholar answers)."""


def paper_id(raw: str) -> str:
    """A Semantic Scholar style id as a Paperwire id (`ArXiv:x` -> `arxiv:x`, `DOI:x` -> `doi:x`); others as is."""
    kind, sep, rest = raw.strip().partition(":")
    kind = kind.lower() if sep else ""
    if kind in ("arxiv", "url"):
        got = parse_arxiv_id(rest)
        if got is not None:
            return f"arxiv:{got[0]}"
    if kind in ("doi", "url"):
        doi = normalize_doi(rest)
        if doi is not None:
            return f"doi:{doi}"
    return raw.strip()


def parse_fields(fields: str | None) -> tuple[str, ...]:
    """The requested fields, paperId first; raises UnsupportedFields naming the unknown ones."""
    if fields is None or not fields.strip():
        return DEFAULT_FIELDS
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FIELDS and f not in AUTHOR_SUBFIELDS]
    if bad:
        raise UnsupportedFields(
            f"Unrecognized or unsupported fields: [{', '.join(bad)}]; supported: {', '.join(FIELDS)}"
        )
    named = {"authors" if f in AUTHOR_SUBFIELDS else f for f in wanted}
    return ("paperId", *(f for f in FIELDS[1:] if f in named))


def _values(doc: dict[str, Any], public_url: str) -> dict[str, Any]:
    arxiv, doi = doc.get("arxiv_id"), doc.get("doi")
    published = doc.get("published_at")
    external = {k: str(v) for k, v in (("ArXiv", arxiv), ("DOI", doi)) if v}
    return {
        "paperId": doc["id"],
        "externalIds": external,
        "url": paper_page(public_url, doc["id"]),
        "title": doc.get("title"),
        "abstract": doc.get("abstract"),
        "year": doc.get("year"),
        "publicationDate": published[:10] if isinstance(published, str) and len(published) >= 10 else None,
        "authors": [{"authorId": None, "name": str(a)} for a in doc.get("authors") or []],
        "openAccessPdf": {"url": f"https://arxiv.org/pdf/{arxiv}", "status": "GREEN"} if arxiv else None,
    }


def recommended_paper(doc: dict[str, Any], fields: tuple[str, ...], public_url: str) -> dict[str, Any]:
    """One entry of `recommendedPapers`: the requested fields (null when Paperwire does not know one)."""
    values = _values(doc, public_url)
    return {f: values[f] for f in fields}

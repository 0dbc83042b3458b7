"""Compatibility: Hugging Face's `/api/daily_papers` answer shape, so existing clients and scripts work."""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from paperwire_common.trends.service import DailyEntry, DailySort

from .deps import ISO_DATE, SettingsDep, TrendServiceDep
from .schemas import DailyPaper, problems

router = APIRouter(tags=["compatibility"])


def to_daily_paper(entry: DailyEntry) -> dict[str, Any]:
    """One entry of Hugging Face's answer: the paper (arXiv id, summary, authors as objects) and its upvotes."""
    i = entry.item
    paper = {
        "id": i.get("arxiv_id") or i["id"],
        "title": i.get("title", ""),
        "summary": i.get("abstract", ""),
        "authors": [{"name": a} for a in i.get("authors", [])],
        "publishedAt": i.get("published_at"),
        "upvotes": entry.upvotes,
        "githubRepo": i.get("code_url"),
    }
    return {
        "paper": paper,
        "title": paper["title"],
        "summary": paper["summary"],
        "publishedAt": paper["publishedAt"],
        "numComments": 0,
    }


@router.get("/api/daily_papers", response_model=list[DailyPaper], responses=problems(422))
async def daily_papers(
    trends: TrendServiceDep,
    settings: SettingsDep,
    date: Annotated[dt.date | None, ISO_DATE] = None,
    sort: DailySort = "trending",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    """Hugging Face `/api/daily_papers` shape, so existing clients and scripts work unchanged."""
    entries = await trends.daily(date, sort, limit, latest_cap=settings.max_page_size)
    return [to_daily_paper(e) for e in entries]

"""Compatibility: Hugging Face's `/api/daily_papers`, so existing clients (huggingface_hub's
`HfApi.list_daily_papers`, scripts reading its JSON) work unchanged.

On Hugging Face a paper's day is the day it arrived on the daily list; here it is the day (UTC) its current
version arrived (`ingested_at`). `date=`, `week=` (ISO week) and `month=` select that day, week or month;
without them the most recent arrivals. `sort=publishedAt` (the default, as there) is newest arrival first,
`sort=trending` by 24h trending score. `p` (from 0) and `limit` page through it, at most DAILY_DEPTH deep.
The answer's fields are Hugging Face's (README: "Hugging Face daily papers"); what Paperwire does not have
(thumbnail, submitter, discussion) is left out rather than invented.
"""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

import calendar
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from paperwire_common.trends.service import DAILY_DEPTH, DailyEntry, DailySort

from .deps import ISO_DATE, TrendServiceDep
from .schemas import DailyPaper, problems

router = APIRouter(tags=["compatibility"])
DAY = 86_400


def hf_time(value: Any) -> str | None:
    """A date, datetime or epoch seconds as Hugging Face writes times: `2024-01-02T03:04:05.000Z` (UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            t = dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value:
        s = value if len(value) > 4 else f"{value}-01-01"
        s = s if len(s) > 7 else f"{s}-01"
        try:
            t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return None
        t = t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)
    else:
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def to_daily_paper(entry: DailyEntry) -> dict[str, Any]:
    """One entry of Hugging Face's answer: the paper (arXiv id, abstract, authors as objects, its arXiv and
    daily-list times, upvotes, links) and the entry's own time (the arrival), title and summary."""
    i = entry.item
    arrived = hf_time(i.get("ingested_at"))
    paper: dict[str, Any] = {
        "id": i.get("arxiv_id") or i["id"],
        "title": i.get("title", ""),
        "summary": i.get("abstract", ""),
        "authors": [{"name": a, "hidden": False} for a in i.get("authors", [])],
        "publishedAt": hf_time(i.get("published_at")),
        "submittedOnDailyAt": arrived,
        "upvotes": entry.upvotes,
        "githubRepo": i.get("code_url"),
        "projectPage": next(iter(i.get("project_urls") or []), None),
        "ai_keywords": list(i.get("keyphrases") or []),
        "mediaUrls": [],
    }
    if isinstance(i.get("summary"), str) and i["summary"]:
        paper["ai_summary"] = i["summary"]
    return {
        "paper": paper,
        "publishedAt": arrived,  # Hugging Face: when it was put on the daily list
        "submittedOnDailyAt": arrived,  # read there by clients too (huggingface_hub's fallback)
        "title": paper["title"],
        "summary": paper["summary"],
        "numComments": 0,
        "isAuthorParticipating": False,
    }


def arrival_window(date: dt.date | None, week: str | None, month: str | None) -> tuple[float, float] | None:
    """[from, before) in epoch seconds of the day, ISO week or month asked for; None for none."""
    given = [n for n, v in (("date", date), ("week", week), ("month", month)) if v is not None]
    if len(given) > 1:
        raise HTTPException(422, f"give one of date, week or month, not {' and '.join(given)}")
    try:
        if date is not None:
            start, days = date, 1
        elif week is not None:
            year, w = week.split("-W")
            start, days = dt.date.fromisocalendar(int(year), int(w), 1), 7
        elif month is not None:
            year, m = month.split("-")
            start, days = dt.date(int(year), int(m), 1), calendar.monthrange(int(year), int(m))[1]
        else:
            return None
    except ValueError as e:
        raise HTTPException(422, f"{given[0]}: {e}") from None
    # Epoch arithmetic: the day after 9999-12-31 is no `date`.
    first = float(calendar.timegm(start.timetuple()))
    return first, first + days * DAY


@router.get(
    "/api/daily_papers", response_model=list[DailyPaper], response_model_exclude_unset=True, responses=problems(422)
)
async def daily_papers(
    trends: TrendServiceDep,
    date: Annotated[dt.date | None, ISO_DATE, Query(description="the day papers arrived, YYYY-MM-DD (UTC)")] = None,
    week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="an ISO week, YYYY-Www")] = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="a month, YYYY-MM")] = None,
    sort: DailySort = "publishedAt",
    p: Annotated[int, Query(ge=0, le=DAILY_DEPTH, description="page, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    """Hugging Face `/api/daily_papers`: the papers of a day, week or month (by arrival), or the most recent."""
    if (p + 1) * limit > DAILY_DEPTH:
        raise HTTPException(422, f"p: pages reach the first {DAILY_DEPTH} papers ((p + 1) * limit <= {DAILY_DEPTH})")
    window = arrival_window(date, week, month)
    entries = await trends.daily(window, sort, p * limit, limit)
    return [to_daily_paper(e) for e in entries]

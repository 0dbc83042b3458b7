"""Hugging Face /api/daily_papers answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperwire_ingestor.parsers import daily_papers
from paperwire_ingestor.records import FormatError, Rejected, SourceRecord

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "sources"


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_list_of_entries() -> None:
    results = list(daily_papers.parse(_read("daily_papers.json")))
    assert all(isinstance(r, SourceRecord) for r in results)
    xmodel, rt1, pitfalls = (r for r in results if isinstance(r, SourceRecord))

    assert (xmodel.arxiv_id, xmodel.arxiv_version) == ("2412.19638", None)
    assert xmodel.title == "Xmodel-2 Technical Report"
    assert xmodel.abstract.endswith("available on GitHub at https://github.com/XiaoduoAILab/Xmodel-2")
    assert "\n" not in xmodel.abstract
    assert xmodel.authors == ["Wang Qun", "Liu Yang", "Lin Qingquan"]
    assert xmodel.published_at == "2024-12-27T13:32:10+00:00"  # the paper's date, not the featured day
    assert xmodel.upvotes == 23
    assert xmodel.links == ["https://github.com/XiaoduoAILab/Xmodel-2"]  # githubRepo and abstract, deduped
    assert xmodel.source_url == "https://huggingface.co/papers/2412.19638"
    assert xmodel.position == "item 1"

    assert rt1.links == ["https://robotics-transformer1.github.io"]  # projectPage
    assert pitfalls.upvotes == 41 and pitfalls.position == "item 3"


def test_single_entry_and_bare_paper_object() -> None:
    (entry,) = daily_papers.parse(_read("daily_paper_single.json"))
    assert isinstance(entry, SourceRecord)
    assert entry.arxiv_id == "2305.02309"
    assert entry.links == ["https://github.com/salesforce/CodeGen2"]

    bare = json.loads(_read("daily_paper_single.json"))["paper"]
    (paper,) = daily_papers.parse(json.dumps(bare))
    assert isinstance(paper, SourceRecord)
    assert (paper.title, paper.upvotes) == (entry.title, entry.upvotes)


def test_broken_entries_are_rejected_with_positions() -> None:
    results = list(daily_papers.parse(_read("daily_papers_broken.json")))
    assert [r for r in results if isinstance(r, Rejected)] == [
        Rejected("item 2", "not a JSON object"),
        Rejected("item 3", "'paper' is not an object"),
        Rejected("item 4", "missing title"),
        Rejected("item 5", "title is not a string"),
    ]
    last = results[-1]
    assert isinstance(last, SourceRecord)
    assert (last.upvotes, last.authors, last.abstract) == (None, [], "")  # odd optional fields dropped


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'[{"paper": ', "invalid JSON"),
        (b"42", "expected a JSON list or object"),
        (b'{"error": "Invalid date"}', "Invalid date"),
        (b"", "invalid JSON"),
    ],
)
def test_not_daily_papers(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        list(daily_papers.parse(data))


def test_empty_list_is_an_empty_answer() -> None:
    assert list(daily_papers.parse(b"[]")) == []

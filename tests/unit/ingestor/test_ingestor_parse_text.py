"""Plain title/abstract dumps (the trending page's text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperwire_ingestor.parsers import text
from paperwire_ingestor.records import FormatError, Rejected, SourceRecord

ROOT = Path(__file__).resolve().parents[3]
SEED_PAGE = ROOT / "data" / "sample" / "seed_page.txt"
SEED_JSONL = ROOT / "data" / "sample" / "seed_papers.jsonl"
FIXTURES = ROOT / "tests" / "fixtures" / "sources"

LONG = " ".join(["This sentence pads an abstract well past any title length."] * 8)


def _seed() -> list[dict[str, str]]:
    return [json.loads(line) for line in SEED_JSONL.read_text(encoding="utf-8").splitlines()]


def test_seed_page_yields_the_247_papers_of_the_jsonl() -> None:
    results = list(text.parse(SEED_PAGE.read_bytes()))
    assert all(isinstance(r, SourceRecord) for r in results)
    records = [r for r in results if isinstance(r, SourceRecord)]
    seed = _seed()
    assert len(records) == 247 == len(seed)
    assert [r.title for r in records] == [p["title"] for p in seed]
    assert [r.abstract for r in records] == [p["abstract"] for p in seed]
    assert records[0].title.startswith("AFSD-Physics")  # "Subscribe" glued to it is gone
    assert records[0].position == "line 3"
    assert records[1].position == "line 5"


def test_seed_titles_and_abstracts_fall_on_the_right_side_of_the_heuristic() -> None:
    for paper in _seed():
        assert text.looks_like_title(paper["title"]) and not text.looks_like_abstract(paper["title"])
        assert text.looks_like_abstract(paper["abstract"]) and not text.looks_like_title(paper["abstract"])


def test_fixture_with_blank_lines_and_a_missing_abstract_keeps_later_pairs_aligned() -> None:
    results = list(text.parse((FIXTURES / "trending_page.txt").read_bytes()))
    assert [type(r).__name__ for r in results] == ["SourceRecord", "SourceRecord", "Rejected", "SourceRecord"]
    first, second, missing, last = results
    assert isinstance(first, SourceRecord) and isinstance(last, SourceRecord)
    assert isinstance(second, SourceRecord)
    assert first.title == "GPT-NeoX-20B: An Open-Source Autoregressive Language Model"
    assert first.links == ["https://github.com/EleutherAI/gpt-neox"]  # sentence's final period cut
    assert second.position == "line 6"
    assert missing == Rejected("line 9", "title without abstract")
    assert last.title == "Datamodels: Predicting Predictions from Training Data"
    assert last.abstract.startswith("We present a conceptual framework")
    assert last.links == ["https://github.com/MadryLab/datamodels-data"]


def test_orphan_abstract_is_rejected_without_shifting_pairs() -> None:
    data = f"Title A\n{LONG}\n{LONG}\nTitle B\n{LONG}\n"
    results = list(text.parse(data))
    assert [r.title for r in results if isinstance(r, SourceRecord)] == ["Title A", "Title B"]
    assert Rejected("line 3", "abstract without title") in results


def test_title_at_end_of_input_is_rejected() -> None:
    results = list(text.parse(f"Title A\n{LONG}\nDangling title\n"))
    assert results[-1] == Rejected("line 3", "title without abstract")


def test_short_abstract_ending_with_a_period_still_pairs() -> None:
    (record,) = text.parse("A Tiny Paper\nWe release a dataset.\n")
    assert isinstance(record, SourceRecord)
    assert record.abstract == "We release a dataset."


def test_crlf_str_input_and_header_variants() -> None:
    data = "Get trending papers in your email inbox!\r\nSubscribe\r\nTitle A\r\n" + LONG + "\r\n"
    (record,) = text.parse(data)
    assert isinstance(record, SourceRecord)
    assert (record.title, record.position) == ("Title A", "line 3")


def test_subscribe_is_only_stripped_as_a_glued_prefix() -> None:
    (record,) = text.parse(f"Subscribers and Their Papers\n{LONG}\n")
    assert isinstance(record, SourceRecord)
    assert record.title == "Subscribers and Their Papers"


def test_empty_input_yields_nothing() -> None:
    assert list(text.parse(b"")) == []
    assert list(text.parse(b"Get trending papers in your email inbox!\n\n")) == []


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>',
        b'{"title": "x", "abstract": "y"}\n',
        b"\xff\xfe\x00t\x00i\x00t\x00l\x00e",
        b"Title\x00with NUL\n",
    ],
)
def test_other_formats_and_binary_raise_format_error(data: bytes) -> None:
    with pytest.raises(FormatError, match="text"):
        list(text.parse(data))

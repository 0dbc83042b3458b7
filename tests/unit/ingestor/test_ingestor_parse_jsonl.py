"""JSON Lines paper dumps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperwire_ingestor.parsers import jsonl
from paperwire_ingestor.records import FormatError, Rejected, SourceRecord

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "sources"


def _records(name: str) -> list[SourceRecord | Rejected]:
    return list(jsonl.parse((FIXTURES / name).read_bytes()))


def test_fields_from_every_accepted_spelling() -> None:
    results = _records("papers.jsonl")
    assert all(isinstance(r, SourceRecord) for r in results)
    neox, rt1, old, pitfalls, datamodels = (r for r in results if isinstance(r, SourceRecord))

    assert (neox.arxiv_id, neox.arxiv_version) == ("2204.06745", 1)
    assert neox.doi == "10.48550/arxiv.2204.06745"  # from a doi.org URL, normalised
    assert neox.authors == ["Sid Black", "Stella Biderman", "Eric Hallahan"]
    assert neox.published_at == "2022-04-14T17:00:01+00:00"
    assert neox.categories == ["cs.CL"]
    assert neox.upvotes == 12
    assert neox.links == ["https://github.com/EleutherAI/gpt-neox"]
    assert neox.position == "line 1"

    assert rt1.abstract.startswith("By transferring knowledge")  # "summary" spelling
    assert rt1.authors == ["Anthony Brohan", "Noah Brown"]  # [{"name": ...}]
    assert (rt1.arxiv_id, rt1.arxiv_version) == ("2212.06817", 2)  # from the abs URL
    assert rt1.source_url == "https://arxiv.org/abs/2212.06817v2"
    assert rt1.published_at == "2022-12-13T00:00:00+00:00"
    assert rt1.categories == ["cs.RO", "cs.AI", "cs.LG"]  # space-separated string
    assert rt1.links == ["https://robotics-transformer1.github.io"]

    assert (old.arxiv_id, old.arxiv_version) == ("hep-th/9901001", None)
    assert old.authors == ["L. Okafor", "M. Lindqvist", "R. Tanaka"]  # one string, affiliation dropped
    assert old.published_at == "1999-01-04T12:00:00+00:00"  # RFC 2822 "date"
    assert old.position == "line 4"  # blank line 3 skipped but counted

    assert pitfalls.arxiv_id == "2403.06963"  # a daily-papers entry on one line
    assert pitfalls.upvotes == 7
    assert pitfalls.links == ["https://github.com/gregorbachmann/Next-Token-Failures"]

    assert datamodels.arxiv_id is None  # "id": 42 is somebody else's key
    assert datamodels.updated_at == "2022-02-01T17:15:00+00:00"


def test_broken_lines_are_rejected_with_positions_and_parsing_goes_on() -> None:
    results = _records("papers_broken.jsonl")
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert [(r.position, r.reason.split(":")[0]) for r in rejected] == [
        ("line 2", "invalid JSON"),
        ("line 4", "missing title"),
        ("line 5", "title is not a string"),
        ("line 6", "not a JSON object"),
        ("line 7", "authors must be a list"),
        ("line 8", "upvotes must be an integer"),
        ("line 9", "empty title"),
    ]
    records = [r for r in results if isinstance(r, SourceRecord)]
    assert [r.position for r in records] == ["line 1", "line 10"]
    assert records[0].arxiv_id == "2305.02309"
    assert records[1].arxiv_id is None  # "not-an-id" is dropped, not rejected


def test_seed_jsonl_parses_completely() -> None:
    results = list(jsonl.parse((ROOT / "data" / "sample" / "seed_papers.jsonl").read_bytes()))
    assert len(results) == 247 and all(isinstance(r, SourceRecord) for r in results)


def test_line_separator_inside_a_string_does_not_split_the_line() -> None:
    line = json.dumps({"title": "A\u2028B", "abstract": "x\u2029y"}, ensure_ascii=False)
    (record,) = jsonl.parse(line + "\n")
    assert isinstance(record, SourceRecord)
    assert record.title == "A B"


def test_blank_input_yields_nothing() -> None:
    assert list(jsonl.parse("\n  \n")) == []


@pytest.mark.parametrize(
    "data",
    [b"Some Title\nSome abstract.\n", b"<feed/>", b"\n[1, 2]\n", b"\xc3\x28not utf-8"],
)
def test_input_that_is_not_jsonl_raises(data: bytes) -> None:
    with pytest.raises(FormatError, match="jsonl"):
        list(jsonl.parse(data))

"""Format sniffing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from paperwire_ingestor import parsers
from paperwire_ingestor.records import FormatError, SourceRecord

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "sources"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (FIXTURES / "trending_page.txt", "text"),
        (ROOT / "data" / "sample" / "seed_page.txt", "text"),
        (FIXTURES / "papers.jsonl", "jsonl"),
        (FIXTURES / "papers_broken.jsonl", "jsonl"),
        (ROOT / "data" / "sample" / "seed_papers.jsonl", "jsonl"),
        (FIXTURES / "arxiv_atom.xml", "arxiv-atom"),
        (FIXTURES / "arxiv_atom_error.xml", "arxiv-atom"),
        (FIXTURES / "arxiv_atom_empty.xml", "arxiv-atom"),
        (FIXTURES / "arxiv_atom_truncated.xml", "arxiv-atom"),
        (FIXTURES / "oai_arxiv.xml", "oai-pmh"),
        (FIXTURES / "oai_arxivraw.xml", "oai-pmh"),
        (FIXTURES / "oai_no_records.xml", "oai-pmh"),
        (FIXTURES / "oai_bad_token.xml", "oai-pmh"),
        (FIXTURES / "oai_truncated.xml", "oai-pmh"),
        (FIXTURES / "daily_papers.json", "daily-papers"),
        (FIXTURES / "daily_paper_single.json", "daily-papers"),
        (FIXTURES / "daily_papers_broken.json", "daily-papers"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_detects_every_fixture(path: Path, expected: str) -> None:
    assert parsers.detect(path.read_bytes()) == expected
    assert parsers.detect(path.read_bytes(), path.name) == expected


def test_every_format_is_registered() -> None:
    assert set(parsers.FORMATS) == {"text", "jsonl", "arxiv-atom", "oai-pmh", "daily-papers"}


def test_json_objects() -> None:
    one_line = b'{"title": "A", "abstract": "B"}\n'
    assert parsers.detect(one_line) == "jsonl"
    assert parsers.detect(one_line, "dump.json") == "daily-papers"
    assert parsers.detect(b'{\n  "title": "A",\n  "summary": "B"\n}\n') == "daily-papers"  # pretty-printed
    assert parsers.detect(b'{"paper": {"id": "2301.01234", "title": "A"}}') == "daily-papers"
    assert parsers.detect(b'{"paper": {"title": "A"}}\n{"paper": {"title": "B"}}\n') == "jsonl"
    assert parsers.detect(b'{"paper": {"title": "A"}}', "feed.jsonl") == "jsonl"
    assert parsers.detect(b'\xef\xbb\xbf  [{"paper": {}}]') == "daily-papers"  # BOM + whitespace


def test_xml_prolog_comments_and_prefixes_are_skipped() -> None:
    data = b'<?xml version="1.0"?>\n<!-- harvested 2024-03-12 -->\n<oai:OAI-PMH xmlns:oai="x"/>'
    assert parsers.detect(data) == "oai-pmh"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b" \n\t\n", "empty"),
        (gzip.compress(b'{"title": "x"}'), "gzip"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"abc\x00def", "binary"),
        (b"\xff\xfe\xfd junk", "not UTF-8"),
        (bytes(range(1, 32)) * 4, "binary"),
        (b"<!DOCTYPE html><html><body>Rate limited</body></html>", "HTML"),
        (b'<rss version="2.0"><channel/></rss>', "unsupported XML"),
    ],
)
def test_rejects_empty_binary_and_foreign_xml(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        parsers.detect(data)


def test_a_multibyte_character_cut_by_the_sniff_window_is_fine() -> None:
    data = b"Titles\n" + "é".encode() * 40_000  # 7 + 2k bytes: the 64 KiB window splits an "é"
    assert parsers.detect(data) == "text"


def test_parse_uses_detection_or_the_given_format() -> None:
    data = (FIXTURES / "oai_arxiv.xml").read_bytes()
    assert len([r for r in parsers.parse(data) if isinstance(r, SourceRecord)]) == 3
    with pytest.raises(FormatError, match="unknown format"):
        parsers.parse(data, "bibtex")

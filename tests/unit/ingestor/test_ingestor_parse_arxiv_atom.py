"""arXiv API Atom feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperwire_ingestor.parsers import arxiv_atom
from paperwire_ingestor.records import FormatError, Rejected, SourceRecord

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "sources"


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _records(data: bytes | str) -> list[SourceRecord]:
    results = list(arxiv_atom.parse(data))
    assert all(isinstance(r, SourceRecord) for r in results)
    return [r for r in results if isinstance(r, SourceRecord)]


def test_entry_fields() -> None:
    neox, old, pitfalls = _records(_read("arxiv_atom.xml"))

    assert (neox.arxiv_id, neox.arxiv_version) == ("2204.06745", 1)
    assert neox.title == "GPT-NeoX-20B: An Open-Source Autoregressive Language Model"  # wrapped title joined
    assert neox.abstract.startswith("We introduce GPT-NeoX-20B, a 20 billion parameter autoregressive language model")
    assert "\n" not in neox.abstract and "  " not in neox.abstract
    assert neox.authors == ["Sid Black", "Stella Biderman"]  # affiliation is not part of the name
    assert neox.doi == "10.48550/arxiv.2204.06745"
    assert neox.categories == ["cs.CL"]
    assert neox.published_at == neox.updated_at == "2022-04-14T17:00:01+00:00"
    assert neox.source_url == "http://arxiv.org/abs/2204.06745v1"
    assert neox.links == ["http://arxiv.org/pdf/2204.06745v1", "https://github.com/EleutherAI/gpt-neox"]
    assert neox.position == "entry 1"

    assert (old.arxiv_id, old.arxiv_version) == ("hep-th/9901001", 2)
    assert old.categories == ["hep-th", "gr-qc"]
    assert old.published_at == "1999-01-04T17:00:00+00:00"  # -05:00 converted to UTC
    assert old.doi is None

    assert (pitfalls.arxiv_id, pitfalls.arxiv_version) == ("2403.06963", 3)
    assert pitfalls.categories == ["cs.LG", "cs.CL"]  # primary category first
    assert "https://github.com/gregorbachmann/Next-Token-Failures" in pitfalls.links


def test_feed_info_for_paging() -> None:
    assert arxiv_atom.feed_info(_read("arxiv_atom.xml")) == (3, 0, 10)
    assert arxiv_atom.feed_info(_read("arxiv_atom_empty.xml")) == (0, 0, 10)
    assert list(arxiv_atom.parse(_read("arxiv_atom_empty.xml"))) == []


def test_api_error_entry_raises_with_the_message() -> None:
    with pytest.raises(FormatError, match=r"incorrect id format for 1234\.12345"):
        list(arxiv_atom.parse(_read("arxiv_atom_error.xml")))
    with pytest.raises(FormatError, match="incorrect id format"):
        arxiv_atom.feed_info(_read("arxiv_atom_error.xml"))


def test_truncated_feed_keeps_complete_entries_then_rejects() -> None:
    results = list(arxiv_atom.parse(_read("arxiv_atom_truncated.xml")))
    assert [r.arxiv_id for r in results if isinstance(r, SourceRecord)] == ["2204.06745", "hep-th/9901001"]
    last = results[-1]
    assert isinstance(last, Rejected)
    assert last.position == "line 62" and last.reason.startswith("malformed XML")
    with pytest.raises(FormatError, match="not well-formed"):
        arxiv_atom.feed_info(_read("arxiv_atom_truncated.xml"))


def test_entry_without_title_is_rejected() -> None:
    data = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2301.01234v1</id>'
        "<title>  </title></entry></feed>"
    )
    assert list(arxiv_atom.parse(data)) == [Rejected("entry 1", "missing title")]


def test_str_input_with_a_non_utf8_declaration() -> None:
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2301.01234</id>'
        "<title>Caf\u00e9 Models</title></entry></feed>"
    )
    (record,) = _records(data)
    assert record.title == "Caf\u00e9 Models"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"/>', "root element"),
        (b"<feed><entry/></feed>", "root element"),  # an Atom feed has the Atom namespace
        (
            b'<!DOCTYPE feed [<!ENTITY a "aaaa">]><feed xmlns="http://www.w3.org/2005/Atom">&a;</feed>',
            "unsafe XML",
        ),
    ],
)
def test_not_an_atom_feed(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        list(arxiv_atom.parse(data))

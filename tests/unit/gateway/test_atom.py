"""The pure parts of the Atom feeds: summaries, XML-safe text, and the versions behind Last-Modified."""

from __future__ import annotations

import feedparser

from paperwire_gateway.atom import FeedMeta, entry_summary, first_sentences, render, xml_text
from paperwire_gateway.revalidation import FeedVersions


def test_first_sentences_stop_at_three_and_at_the_length_bound() -> None:
    text = "One is here. Two follows!  Three asks? Four is left out. e.g. not split."
    assert first_sentences(text) == "One is here. Two follows! Three asks?"
    assert first_sentences("A value of 3.5 is kept whole. Next.") == "A value of 3.5 is kept whole. Next."
    long = "word " * 400
    cut = first_sentences(long, max_chars=50)
    assert cut.endswith("…") and len(cut) <= 51 and not cut[:-1].endswith(" ")


def test_summary_prefers_the_extractive_summary() -> None:
    assert entry_summary({"summary": " Extract  one. ", "abstract": "Abstract."}) == "Extract one."
    assert entry_summary({"summary": ["First.", "Second."]}) == "First. Second."
    assert entry_summary({"summary": "", "abstract": "Only the abstract. Then more."}) == (
        "Only the abstract. Then more."
    )
    assert entry_summary({}) == ""


def test_control_characters_never_reach_the_xml() -> None:
    assert xml_text("a\x00b\x1fc\td\ufffee") == "abc\tde"
    items = [{"id": "x:1", "title": "\x00", "abstract": "\x08Bad.", "authors": ["\x01"], "topic_labels": ["\x02"]}]
    feed = feedparser.parse(render(FeedMeta("urn:paperwire:feed:t", "T\x00", "http://h/f", "http://h/"), items, 0, "h"))
    assert feed.bozo == 0 and feed.entries[0].title == "x:1", "an empty title falls back to the id"


def test_versions_move_forward_only_when_the_content_changes() -> None:
    v = FeedVersions(size=2)
    assert v.since("a", "d1", 100.7) == 100
    assert v.since("a", "d1", 500.0) == 100, "same content: same version"
    assert v.since("a", "d2", 100.9) == 101, "new content in the same second: a later second"
    assert v.since("a", "d1", 101.2) == 102, "back to old content is a change too"
    v.since("b", "x", 200.0)
    v.since("c", "x", 200.0)  # evicts "a", the least recently used
    assert v.since("a", "d1", 300.0) == 300, "forgotten: now (a needless 200, never a wrong 304)"


def test_semantic_scholar_ids_and_fields() -> None:
    from paperwire_gateway import scholar

    assert scholar.paper_id("ArXiv:2106.15928") == "arxiv:2106.15928"
    assert scholar.paper_id("ARXIV:2106.15928v2") == "arxiv:2106.15928"
    assert scholar.paper_id("URL:https://arxiv.org/abs/2106.15928") == "arxiv:2106.15928"
    assert scholar.paper_id("DOI:10.18653/V1/2020.ACL-MAIN.447") == "doi:10.18653/v1/2020.acl-main.447"
    assert scholar.paper_id("title:abc123") == "title:abc123"
    assert scholar.paper_id("649def34f8be52c8b66281af98ae884c09aef38b") == "649def34f8be52c8b66281af98ae884c09aef38b"
    assert scholar.parse_fields(None) == ("paperId", "title")
    assert scholar.parse_fields("authors.name,year,title") == ("paperId", "title", "year", "authors")
    doc = {"id": "arxiv:2401.1", "arxiv_id": "2401.1", "published_at": "2024-01-02T10:00:00Z", "authors": ["A"]}
    got = scholar.recommended_paper(doc, scholar.FIELDS, "https://h")
    assert got["externalIds"] == {"ArXiv": "2401.1"} and got["publicationDate"] == "2024-01-02"
    assert got["openAccessPdf"] == {"url": "https://arxiv.org/pdf/2401.1", "status": "GREEN"}
    assert got["authors"] == [{"authorId": None, "name": "A"}] and got["url"] == "https://h/papers/arxiv:2401.1"

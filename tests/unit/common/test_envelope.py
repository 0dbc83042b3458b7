from __future__ import annotations

import pytest

from paperwire_common.bus.port import Record
from paperwire_common.envelope import PoisonMessage, dead_letter, decode, encode
from paperwire_common.events import PaperRaw
from paperwire_common.streams import ALL_STREAMS, PAPERS_RAW, all_stream_names


def raw() -> PaperRaw:
    return PaperRaw(
        paper_id="arxiv:2301.01234",
        version=1,
        content_hash="abcdef0123",
        title="A  title",
        source="jsonl",
        ingested_at=1.7e9,
    )


def as_record(m: object, offset: int = 0) -> Record:
    return Record(m.topic, m.key, m.value, m.headers, 0, offset)  # type: ignore[attr-defined]


def test_round_trip_with_cloudevents_headers() -> None:
    m = encode(PAPERS_RAW, raw(), key="arxiv:2301.01234", event_id="e1", source="test", time=0)
    assert m.header("ce_specversion") == "1.0" and m.header("ce_type") == PAPERS_RAW.ce_type
    assert m.header("ce_time") == "1970-01-01T00:00:00Z"
    d = decode(PAPERS_RAW, as_record(m))
    assert d.event == raw() and d.event_id == "e1"
    assert d.event.title == "A title", "titles are whitespace-normalised"


def test_bad_messages_are_poison_with_a_reason() -> None:
    m = encode(PAPERS_RAW, raw(), key="k", event_id="e1", source="t", time=0)
    with pytest.raises(PoisonMessage, match=r"invalid papers\.raw\.v1"):
        decode(PAPERS_RAW, Record(m.topic, "k", b"{", m.headers))
    with pytest.raises(PoisonMessage, match="version"):
        decode(PAPERS_RAW, Record(m.topic, "k", m.value.replace(b'"version":1', b'"version":0'), m.headers))
    with pytest.raises(PoisonMessage, match="ce_id"):
        decode(PAPERS_RAW, Record(m.topic, "k", m.value, ()))


def test_dead_letter_keeps_original_bytes_and_says_why() -> None:
    r = Record("papers.raw.v1", "k", b"junk", (("ce_id", b"x"),), 2, 41)
    d = dead_letter(r, reason="bad", group="g", time=0)
    assert d.topic == "papers.raw.v1.dlq" and d.value == b"junk" and d.key == "k"
    assert (d.header("dlq_reason"), d.header("dlq_partition"), d.header("dlq_offset")) == ("bad", "2", "41")
    assert d.header("ce_id") == "x"


def test_registry_names_are_versioned_and_have_dlqs() -> None:
    names = all_stream_names()
    assert len(names) == 2 * len(ALL_STREAMS)
    for t in ALL_STREAMS:
        assert t.name.endswith(".v1") and f"{t.name}.dlq" in names

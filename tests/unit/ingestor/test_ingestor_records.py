"""Every parser hands over collapsed text: the content hash (new version or not) relies on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperwire_ingestor import parsers
from paperwire_ingestor.handlers import record_hash
from paperwire_ingestor.records import FormatError, SourceRecord

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [*sorted((ROOT / "tests" / "fixtures" / "sources").iterdir()), ROOT / "data" / "sample" / "seed_page.txt"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_parsers_yield_collapsed_title_and_abstract(path: Path) -> None:
    data = path.read_bytes()
    try:
        records = [r for r in parsers.FORMATS[parsers.detect(data, path.name)](data) if isinstance(r, SourceRecord)]
    except FormatError:
        return  # an unreadable sample: nothing handed over
    for r in records:
        assert r.title == " ".join(r.title.split()) and r.abstract == " ".join(r.abstract.split()), r.position


def test_a_rewrapped_abstract_is_the_same_version() -> None:
    jsonl = b'{"title": "A  paper", "abstract": "Line one\\n   line two."}\n'
    again = b'{"title": "A paper", "abstract": "Line one line two."}\n'
    (a,), (b,) = parsers.FORMATS["jsonl"](jsonl), parsers.FORMATS["jsonl"](again)
    assert isinstance(a, SourceRecord) and isinstance(b, SourceRecord)
    assert record_hash(a) == record_hash(b)

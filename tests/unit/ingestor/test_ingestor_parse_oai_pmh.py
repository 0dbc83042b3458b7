"""arXiv OAI-PMH ListRecords answers (arXiv and arXivRaw metadata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperwire_ingestor.parsers import oai_pmh
from paperwire_ingestor.records import FormatError, Rejected, SourceRecord

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "sources"

RAW_RECORD = """<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record>
<header><identifier>oai:arXiv.org:2301.01234</identifier></header>
<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2301.01234</id>
{versions}<title>Out of Order</title><authors>A. One</authors></arXivRaw></metadata>
</record></ListRecords></OAI-PMH>"""


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _records(data: bytes | str) -> list[SourceRecord]:
    results = list(oai_pmh.parse(data))
    assert all(isinstance(r, SourceRecord) for r in results)
    return [r for r in results if isinstance(r, SourceRecord)]


def test_arxiv_format_fields_and_deleted_record_skipped() -> None:
    rt1, old, codegen = _records(_read("oai_arxiv.xml"))
    assert [r.position for r in (rt1, old, codegen)] == ["record 1", "record 3", "record 4"]

    assert (rt1.arxiv_id, rt1.arxiv_version) == ("2212.06817", None)  # this format has no version
    assert rt1.authors == ["Anthony Brohan", "Noah Brown", "Karol Hausman"]
    assert rt1.categories == ["cs.RO", "cs.AI", "cs.CL", "cs.CV", "cs.LG"]
    assert rt1.published_at == "2022-12-13T00:00:00+00:00"
    assert rt1.updated_at == "2023-08-11T00:00:00+00:00"
    assert rt1.abstract.startswith("By transferring knowledge from large, diverse, task-agnostic datasets, modern")
    assert rt1.source_url == "https://arxiv.org/abs/2212.06817"

    assert old.arxiv_id == "hep-th/9901001"
    assert old.title == "Dualities of Fictional Branes in Five Dimensions"
    assert old.authors == ["L. Okafor", "C. Balázs", "R. Tanaka Jr"]  # TeX accent undone, suffix kept
    assert old.doi == "10.1000/fict.1999.001"
    assert old.categories == ["hep-th", "gr-qc"]

    assert codegen.links == ["https://github.com/salesforce/CodeGen2"]  # comments + abstract, deduped


def test_arxivraw_takes_the_highest_version() -> None:
    xmodel, datamodels = _records(_read("oai_arxivraw.xml"))
    assert (xmodel.arxiv_id, xmodel.arxiv_version) == ("2412.19638", 3)
    assert xmodel.published_at == "2024-12-27T13:32:10+00:00"  # v1
    assert xmodel.updated_at == "2025-01-06T09:20:00+00:00"  # v3
    assert xmodel.authors == ["Wang Qun", "Liu Yang", "Lin Qingquan", "Jiang Ling"]
    assert xmodel.links == ["https://github.com/XiaoduoAILab/Xmodel-2"]

    assert datamodels.arxiv_version == 1
    assert datamodels.authors == ["Andrew Ilyas", "Sung Min Park", "Logan Engstrom", "Aleksander Mądry"]
    assert datamodels.doi == "10.48550/arxiv.2202.00622"
    assert datamodels.categories == ["stat.ML", "cs.LG"]


def test_version_order_in_the_document_is_not_trusted() -> None:
    versions = "".join(
        f'<version version="v{n}"><date>Mon, {n} Jan 2024 10:00:00 GMT</date></version>' for n in (2, 10, 1)
    )
    (record,) = _records(RAW_RECORD.format(versions=versions))
    assert record.arxiv_version == 10
    assert record.published_at == "2024-01-01T10:00:00+00:00"
    assert record.updated_at == "2024-01-10T10:00:00+00:00"


def test_resumption_token() -> None:
    assert oai_pmh.resumption_token(_read("oai_arxiv.xml")) == "6960524|1001"
    assert oai_pmh.resumption_token(_read("oai_arxivraw.xml")) is None  # empty element: list complete
    assert oai_pmh.resumption_token(_read("oai_no_records.xml")) is None
    assert oai_pmh.resumption_token(RAW_RECORD.format(versions="")) is None  # no element at all
    with pytest.raises(FormatError, match="badResumptionToken"):
        oai_pmh.resumption_token(_read("oai_bad_token.xml"))
    with pytest.raises(FormatError, match="not well-formed"):
        oai_pmh.resumption_token(_read("oai_truncated.xml"))


def test_no_records_match_is_an_empty_answer() -> None:
    assert list(oai_pmh.parse(_read("oai_no_records.xml"))) == []


def test_other_oai_errors_raise() -> None:
    with pytest.raises(FormatError, match=r"badResumptionToken.*invalid or expired"):
        list(oai_pmh.parse(_read("oai_bad_token.xml")))


def test_truncated_answer_keeps_complete_records_then_rejects() -> None:
    results = list(oai_pmh.parse(_read("oai_truncated.xml")))
    assert [r.arxiv_id for r in results if isinstance(r, SourceRecord)] == ["2212.06817", "hep-th/9901001"]
    assert isinstance(results[-1], Rejected) and results[-1].reason.startswith("malformed XML")


def test_unusable_records_are_rejected() -> None:
    data = """<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>
    <record><header><identifier>oai:arXiv.org:2301.00001</identifier></header>
      <metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"/></metadata></record>
    <record><header><identifier>oai:arXiv.org:2301.00002</identifier></header></record>
    <record><header><identifier>oai:arXiv.org:2301.00003</identifier></header>
      <metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2301.00003</id></arXiv></metadata></record>
    </ListRecords></OAI-PMH>"""
    assert list(oai_pmh.parse(data)) == [
        Rejected("record 1", "unsupported metadata format <dc> (want arXiv or arXivRaw)"),
        Rejected("record 2", "record without metadata"),
        Rejected("record 3", "missing title"),
    ]


def test_id_falls_back_to_the_header_identifier() -> None:
    data = RAW_RECORD.format(versions="").replace("<id>2301.01234</id>", "")
    (record,) = _records(data)
    assert record.arxiv_id == "2301.01234"


@pytest.mark.parametrize("data", [b"", b"<html><body>502 Bad Gateway</body></html>", b"{}"])
def test_not_oai_pmh(data: bytes) -> None:
    with pytest.raises(FormatError, match="oai-pmh"):
        list(oai_pmh.parse(data))

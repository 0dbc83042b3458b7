from __future__ import annotations

from paperwire_common.ids import canonical_id, normalize_doi, normalize_title, parse_arxiv_id, title_hash


def test_arxiv_ids_new_and_old_style_with_versions() -> None:
    assert parse_arxiv_id("http://arxiv.org/abs/2301.01234v2") == ("2301.01234", 2)
    assert parse_arxiv_id("arXiv:2401.12345") == ("2401.12345", None)
    assert parse_arxiv_id("hep-th/9901001v3") == ("hep-th/9901001", 3)
    assert parse_arxiv_id("not an id") is None


def test_doi_normalisation() -> None:
    assert normalize_doi("https://doi.org/10.1145/3580305.3599533.") == "10.1145/3580305.3599533"
    assert normalize_doi("DOI: 10.48550/ARXIV.2301.01234") == "10.48550/arxiv.2301.01234"
    assert normalize_doi("none here") is None


def test_titles_equal_up_to_case_accents_punctuation_whitespace() -> None:
    a = "Café:  Time-Series   Forecasting!"
    b = "cafe time series forecasting"
    assert normalize_title(a) == b
    assert title_hash(a) == title_hash(b)
    assert title_hash(a) != title_hash("Cafe time series forecast")


def test_canonical_id_precedence() -> None:
    assert canonical_id(arxiv_id="2301.01234", doi="10.1/x", title="T") == "arxiv:2301.01234"
    assert canonical_id(arxiv_id=None, doi="10.1/x", title="T") == "doi:10.1/x"
    assert canonical_id(arxiv_id=None, doi=None, title="T").startswith("title:")

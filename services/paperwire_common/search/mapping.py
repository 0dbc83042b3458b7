"""The production index mapping (Elasticsearch 9; 8.x reads it too). The local no-Docker node registers the
analysis names the stock distribution gets from its analysis-common module, so this mapping serves both unchanged."""

from __future__ import annotations

from typing import Any

INDEX_VERSION = 1
EMBEDDING_DIMS = 384

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    "analysis": {
        "filter": {
            "english_possessive": {"type": "stemmer", "language": "possessive_english"},
            "english_stemmer": {"type": "stemmer", "language": "english"},
        },
        "analyzer": {
            # english with folding: "Café" finds "cafe", "running" finds "runs".
            "paper_english": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["english_possessive", "lowercase", "asciifolding", "english_stemmer"],
            },
        },
    },
}

# Only what queries use: every sub-field is paid for on every indexed document.
_TEXT: dict[str, Any] = {"type": "text", "analyzer": "paper_english"}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "version": {"type": "long"},
        "content_hash": {"type": "keyword", "index": False},
        "title": _TEXT,
        "abstract": _TEXT,
        "authors": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "arxiv_id": {"type": "keyword"},
        "arxiv_version": {"type": "integer"},
        "doi": {"type": "keyword"},
        "categories": {"type": "keyword"},
        "published_at": {"type": "date", "format": "strict_date_optional_time||yyyy-MM-dd||yyyy"},
        "year": {"type": "integer"},
        "source": {"type": "keyword"},
        "source_url": {"type": "keyword", "index": False},
        "keyphrases": {"type": "keyword", "fields": {"text": {"type": "text", "analyzer": "paper_english"}}},
        "topics": {"type": "keyword"},
        "topic_labels": {"type": "keyword"},
        "methods": {"type": "keyword", "fields": {"text": {"type": "text", "analyzer": "paper_english"}}},
        "datasets": {"type": "keyword", "fields": {"text": {"type": "text", "analyzer": "paper_english"}}},
        "code_urls": {"type": "keyword"},
        "code_url": {"type": "keyword", "index": False},
        "project_urls": {"type": "keyword"},
        "has_code": {"type": "boolean"},
        "ingested_at": {"type": "double"},
        "summary": {"type": "text", "index": False},  # stored, shown (digest, feeds, site), never searched
        # int8 HNSW, stated: it is 8.x's default, but 9.x defaults to bbq_hnsw (1-bit) at 384 dims and above.
        "embedding": {
            "type": "dense_vector",
            "dims": EMBEDDING_DIMS,
            "index": True,
            "similarity": "cosine",
            "index_options": {"type": "int8_hnsw"},
        },
        # Title suggestions (document.suggest_suffixes): the folded title, and its text from every word on, as
        # plain keywords for `prefix` queries, and its length to rank by. A completion field holding the same
        # suffixes cost more than all other fields together at index time.
        "title_start": {"type": "keyword", "doc_values": False},
        "title_suffixes": {"type": "keyword", "doc_values": False},
        "title_len": {"type": "integer", "index": False},
    },
}

# Fields the indexer adds for suggestions: never part of a returned document.
SUGGEST_FIELDS = ("title_start", "title_suffixes", "title_len")


def index_name(alias: str, version: int = INDEX_VERSION) -> str:
    return f"{alias}-v{version}"

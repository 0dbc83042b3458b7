"""The search index port and its adapters (embedded SQLite FTS5 + numpy, Elasticsearch 8)."""

from .port import SearchIndex, SearchRequest, SearchResponse

__all__ = ["SearchIndex", "SearchRequest", "SearchResponse"]

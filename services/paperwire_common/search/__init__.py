"""The search index port and its adapters (embedded SQLite FTS5 + numpy, Elasticsearch 9)."""

from .port import SearchIndex, SearchRequest, SearchResponse

__all__ = ["SearchIndex", "SearchRequest", "SearchResponse"]

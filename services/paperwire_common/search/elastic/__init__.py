"""The Elasticsearch SearchIndex adapter (see index.py)."""

from .index import ElasticIndex, IndexUnavailable
from .queries import stored_body

__all__ = ["ElasticIndex", "IndexUnavailable", "stored_body"]

"""The Elasticsearch SearchIndex adapter (see index.py)."""

from .index import ElasticIndex
from .queries import stored_body

__all__ = ["ElasticIndex", "stored_body"]

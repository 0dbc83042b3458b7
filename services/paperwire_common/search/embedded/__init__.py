"""The embedded SearchIndex adapter: SQLite FTS5 + numpy, no server (see index.py)."""

from .index import EmbeddedIndex

__all__ = ["EmbeddedIndex"]

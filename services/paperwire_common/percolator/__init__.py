"""Saved-search matching by percolation: analysis (analysis.py), compiled queries (compiled.py), the query index
(index.py)."""

from .index import KnownWords, Percolator

__all__ = ["KnownWords", "Percolator"]

"""Keyphrases with YAKE (unsupervised, per document, no model) via its maintained Rust port."""

from __future__ import annotations

from typing import Protocol


class KeyphraseExtractor(Protocol):
    def extract(self, text: str, n: int) -> list[str]: ...


class YakeExtractor:
    def __init__(self, max_ngram: int = 3) -> None:
        import yake_rust

        self._yake = yake_rust.Yake(language="en", ngrams=max_ngram, remove_duplicates=True)

    def extract(self, text: str, n: int) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        for phrase, _score in self._yake.get_n_best(text, n=n * 2):
            key = phrase.lower()
            # Drop a phrase contained in a better-ranked one ("Technical" after "Qwen Technical Report").
            if key in seen or any(key in s for s in seen):
                continue
            seen.add(key)
            out.append(key)
            if len(out) == n:
                break
        return out


class NoKeyphrases:
    def extract(self, text: str, n: int) -> list[str]:
        return []

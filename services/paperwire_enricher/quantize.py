"""The encoder's model with int8 feed-forward layers, derived once from the packaged model and cached.

Why: the packaged all-MiniLM-L6-v2 stores int8 weights that onnxruntime turns back into float at load, so every
MatMul runs in float32. Re-quantizing the feed-forward MatMuls (two of each layer's six, two thirds of its weight
FLOPs) to dynamic int8 — weights per output channel, activations per batch — lets onnxruntime use its integer
kernels. The attention projections stay float: quantizing them as well moved nDCG (bench/README.md).

The derivation is deterministic for given onnx and onnxruntime versions (both pinned in uv.lock); its input is
the packaged model after its sha256 check, so the cached file is keyed by that hash, the recipe and the versions.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

__all__ = ["RECIPE", "cache_dir", "int8_ffn_model"]

RECIPE = "ffn-int8-dynamic-per-channel-v1"
FFN_WIDTH = 1536  # all-MiniLM-L6-v2's intermediate size: the feed-forward weights are 384 x 1536 and 1536 x 384
FFN_MATMULS = 12  # two per layer, six layers


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/paperwire/models`` (default ``~/.cache/paperwire/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperwire" / "models"


def int8_ffn_model(source: Path, source_sha256: str) -> Path:
    """The cached derived model for ``source`` (whose sha256 the caller has verified), made if missing."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = cache_dir() / f"{source_sha256[:16]}-{RECIPE}-onnx{onnx.__version__}-ort{ort.__version__}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        # Basic graph optimisation folds the weights' int8 -> float dequantisation into float initializers, which
        # quantize_dynamic needs to see as the MatMuls' constant inputs.
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(Path(tmp) / "float.onnx")
        ort.InferenceSession(str(source), sess_options=opts, providers=["CPUExecutionProvider"])
        model = onnx.load(opts.optimized_model_filepath)
        dims = {init.name: tuple(init.dims) for init in model.graph.initializer}
        ffn = [
            n.name
            for n in model.graph.node
            if n.op_type == "MatMul" and any(FFN_WIDTH in dims.get(i, ()) for i in n.input)
        ]
        if len(ffn) != FFN_MATMULS:
            raise RuntimeError(f"{source}: expected {FFN_MATMULS} feed-forward MatMuls, found {len(ffn)}")
        out = Path(tmp) / "int8-ffn.onnx"
        logging.disable(logging.WARNING)  # quantize_dynamic warns on the root logger about optional pre-processing
        try:
            quantize_dynamic(model, out, weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=ffn)
        finally:
            logging.disable(logging.NOTSET)
        os.replace(out, target)  # atomic: processes starting together may derive it at the same time
    return target

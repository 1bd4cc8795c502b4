"""The cross-encoder of the rerank stage on ONNX Runtime: no torch when a search reranks.

`OnnxCrossEncoder` stands where sentence-transformers' `CrossEncoder` stands for
`CrossEncoderReranker` (`predict(pairs, batch_size)`). It runs the model's sequence-classification
head exported once to ONNX (`es_rag.embedding.onnx_export`, task `sequence-classification`, fp32
or dynamically quantized int8, cached in `<model>/onnx/sequence-classification`, apart from an
embedding export of the same folder, or under `fallback_root`), tokenizes the
(query, passage) pairs with the `tokenizers` package from the model's `tokenizer.json`
(truncating the longest of the two first, as `CrossEncoder` does), and scores each pair with the
model's logit, as the torch backend is loaded (`CrossEncoderReranker` blends logits).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from es_rag.embedding.onnx_export import OnnxExportError, ensure_export
from es_rag.embedding.onnx_model import (
    OnnxBackendError,
    cache_folder,
    default_cache_dir,
    onnx_session,
)

TASK = "sequence-classification"


class OnnxCrossEncoder:
    """A cross-encoder folder (as `es-rag finetune reranker` writes it) scored by ONNX Runtime.

    ```
    model = OnnxCrossEncoder("/models/reranker-v1", quantized=True, max_length=256)
    scores = model.predict([("query", "passage one"), ("query", "passage two")])
    ```
    """

    def __init__(self, model: str | Path, *, quantized: bool = True, max_length: int = 256,
                 cache_root: Path | None = None,
                 fallback_root: Path = Path(".es-rag/models")) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxBackendError(f"the ONNX reranker needs the tokenizers package ({exc.msg})"
                                   ": set rerank.backend to torch") from None
        folder = Path(model).expanduser().resolve()
        if not (folder / "tokenizer.json").is_file():
            raise OnnxBackendError(f"the ONNX reranker needs a model folder with tokenizer.json, "
                                   f"and {folder} has none: set rerank.backend to torch")
        self.quantized = quantized
        self.max_length = max_length
        cache_dir = (default_cache_dir(folder, fallback_root, str(folder)) if cache_root is None
                     else cache_folder(cache_root, str(folder), str(folder))) / TASK
        try:
            self.path = ensure_export(folder, cache_dir, "int8" if quantized else "fp32", TASK)
        except OnnxExportError as exc:
            raise OnnxBackendError(f"{exc}; set rerank.backend to torch") from None
        self.session = onnx_session(self.path)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id("[PAD]") or 0)

    @property
    def backend(self) -> str:
        """`onnx` or `onnx-int8`, as `rerank.backend` names it."""
        return "onnx-int8" if self.quantized else "onnx"

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 16,
                **_: Any) -> list[float]:
        """The relevance of each (query, passage) pair, in order, in batches of `batch_size`."""
        import numpy as np

        scores: list[float] = []
        for start in range(0, len(pairs), batch_size):
            encodings = self._tokenizer.encode_batch(list(pairs[start:start + batch_size]))
            feeds = {name: np.array([getattr(e, attr) for e in encodings], dtype=np.int64)
                     for name, attr in (("input_ids", "ids"), ("attention_mask", "attention_mask"),
                                        ("token_type_ids", "type_ids"))}
            logits = self.session.run(None, {k: v for k, v in feeds.items()
                                             if k in self._inputs})[0]
            scores.extend(logits[:, 0].tolist())
        return scores

"""Embed with ONNX Runtime: the same sentence-transformers model, without torch at query time.

`OnnxEmbedder` stands where `Embedder` stands. It runs the model's transformer exported to
ONNX (`es_rag.embedding.onnx_export`, fp32 or dynamically quantized int8), tokenizes with the
`tokenizers` package from the model's own `tokenizer.json`, and pools and normalises as the model's
sentence-transformers configuration says (`modules.json`, `1_Pooling/config.json`,
`sentence_bert_config.json`, prompts in `config_sentence_transformers.json`). Its vectors are
those of the torch `Embedder` (fp32: max abs diff ~1e-7; int8: cosine ≥ 0.99), so an index
embedded by one backend is searched with the other; `model_name` is therefore the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from es_rag.embedding.local import DEFAULT_MODEL, ModelNotAvailableError, model_location
from es_rag.embedding.onnx_export import OnnxExportError, ensure_export

POOLING_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens")
POOLING_NAMES = {"cls": "cls_token", "max": "max_tokens", "mean": "mean_tokens",
                 "mean_sqrt_len": "mean_sqrt_len_tokens"}
ST_MODULES = {  # the module classes as modules.json names them (sentence-transformers < 6, 6+)
    "Transformer": ("sentence_transformers.models.Transformer",
                    "sentence_transformers.base.modules.transformer.Transformer"),
    "Pooling": ("sentence_transformers.models.Pooling",
                "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
    "Normalize": ("sentence_transformers.models.Normalize",
                  "sentence_transformers.base.modules.normalize.Normalize"),
}
DOCUMENT_PROMPTS = ("document", "passage", "corpus")  # the names encode_document looks for

_sessions: dict[Path, Any] = {}
_sessions_lock = threading.Lock()


class OnnxBackendError(ModelNotAvailableError):
    """The ONNX backend cannot run: onnxruntime is missing, or the model cannot be exported."""


def cache_folder(cache_root: Path, model_name: str, location: str) -> Path:
    """Where the exports of `model_name` live under `cache_root` (one folder per model)."""
    if Path(location).is_dir() and model_name != DEFAULT_MODEL:
        digest = hashlib.sha256(location.encode()).hexdigest()[:10]
        return cache_root / f"{Path(location).name}-{digest}"
    return cache_root / re.sub(r"[^A-Za-z0-9._-]+", "__", model_name)


def default_cache_dir(folder: Path, fallback_root: Path, model_name: str) -> Path:
    """Beside the model (`<model>/onnx`, shared by every data dir) when its folder is writable,
    else `fallback_root`'s folder for the model."""
    beside = folder / "onnx"
    if os.access(beside if beside.is_dir() else folder, os.W_OK):
        return beside
    return cache_folder(fallback_root, model_name, str(folder))


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise OnnxBackendError(f"cannot read {path}: {exc}") from None


def model_folder(name: str) -> Path:
    """The folder of model `name`: bundled, a local folder, or already in the HF cache."""
    location = model_location(name)
    if Path(location).is_dir():
        return Path(location)
    try:  # a hub id: only its snapshot already in the Hugging Face cache
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(location, local_files_only=True))
    except Exception as exc:
        raise OnnxBackendError(
            f"embedding model {name!r} is not available on this machine: name a folder holding a "
            f"sentence-transformers model, a model already in the Hugging Face cache, or "
            f"{DEFAULT_MODEL!r} (bundled); es-rag never downloads models "
            f"({exc.__class__.__name__})") from None


class ModelLayout:
    """What the sentence-transformers configuration of a model folder says about embedding."""

    def __init__(self, folder: Path) -> None:
        modules = _read_json(folder / "modules.json", [])
        kinds = [m.get("type") for m in modules]
        known = {name for names in ST_MODULES.values() for name in names}
        unsupported = [k for k in kinds if k not in known]
        if unsupported:
            raise OnnxBackendError(f"the ONNX backend runs Transformer, Pooling and Normalize "
                                   f"modules; {folder} also has {', '.join(unsupported)}: "
                                   "use embedding_backend = torch")
        pooling_dir = next((m.get("path", "") for m in modules
                            if m.get("type") in ST_MODULES["Pooling"]), "1_Pooling")
        pooling = _read_json(folder / pooling_dir / "config.json",
                             {"pooling_mode_mean_tokens": True})
        named = pooling.get("pooling_mode")  # sentence-transformers 6: "mean", "cls", ...
        if isinstance(named, str | list):
            wanted = [POOLING_NAMES.get(n, n) for n in ([named] if isinstance(named, str)
                                                        else named)]
            self.pooling = [mode for mode in wanted if mode in POOLING_MODES]
            other = [mode for mode in wanted if mode not in POOLING_MODES]
        else:
            self.pooling = [mode for mode in POOLING_MODES
                            if pooling.get(f"pooling_mode_{mode}")]
            other = [key for key, on in pooling.items() if key.startswith("pooling_mode_")
                     and on and key.removeprefix("pooling_mode_") not in POOLING_MODES]
        if other or not self.pooling:
            raise OnnxBackendError(f"the ONNX backend does not pool with {other or 'no mode'} "
                                   f"({folder / pooling_dir / 'config.json'})")
        bert = _read_json(folder / "sentence_bert_config.json", {})
        config = _read_json(folder / "config.json", {})
        tokenizer = _read_json(folder / "tokenizer_config.json", {})
        self.max_seq_length = int(bert.get("max_seq_length") or tokenizer.get("model_max_length")
                                  or config.get("max_position_embeddings", 512))
        self.do_lower_case = bool(bert.get("do_lower_case", False))
        prompts = _read_json(folder / "config_sentence_transformers.json", {}).get("prompts", {})
        self.query_prompt = str(prompts.get("query", ""))
        self.document_prompt = str(next((prompts[n] for n in DOCUMENT_PROMPTS if n in prompts), ""))

    def pool(self, hidden: Any, mask: Any) -> Any:
        """Sentence vectors from token vectors, by the configured pooling modes (concatenated)."""
        import numpy as np

        weights = mask[..., None].astype(hidden.dtype)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        parts = []
        for mode in self.pooling:
            if mode == "cls_token":
                parts.append(hidden[:, 0])
            elif mode == "max_tokens":
                parts.append(np.where(weights > 0, hidden, -1e9).max(axis=1))
            elif mode == "mean_tokens":
                parts.append((hidden * weights).sum(axis=1) / counts)
            else:
                parts.append((hidden * weights).sum(axis=1) / np.sqrt(counts))
        return np.concatenate(parts, axis=1)


class TokenizerView:
    """A `tokenizers.Tokenizer` called like a Hugging Face fast tokenizer, as chunking and token
    counting call it (`tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)`,
    `tokenizer.encode(text, add_special_tokens=False)`), without importing transformers."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def __call__(self, text: str, add_special_tokens: bool = True,
                 return_offsets_mapping: bool = False, **_: Any) -> dict[str, list[Any]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=add_special_tokens)
        out: dict[str, list[Any]] = {"input_ids": encoding.ids,
                                     "attention_mask": encoding.attention_mask}
        if return_offsets_mapping:
            out["offset_mapping"] = encoding.offsets
        return out

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)


def onnx_session(path: Path) -> Any:
    """The ONNX Runtime session of `path` (CPU), created once per process."""
    import onnxruntime

    with _sessions_lock:
        session = _sessions.get(path)
        if session is None:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # `serving.one_model_thread`
                options.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
            session = onnxruntime.InferenceSession(str(path), options,
                                                   providers=["CPUExecutionProvider"])
            _sessions[path] = session
    return session


class OnnxEmbedder:
    """Embeds passages and queries with the ONNX export of a sentence-transformers model.

    ```
    embedder = OnnxEmbedder(quantized=True)    # all-MiniLM-L6-v2, int8, export cached beside it
    vectors = embedder.embed_documents(["first passage", "second passage"])
    query_vector = embedder.embed_query("what does the first passage say?")
    ```
    The first use exports the model (torch, once; see `ensure_export`) into `cache_root`'s folder
    for the model, or by default beside the model (`default_cache_dir`); later processes load
    the cached file with onnxruntime and tokenizers only.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, *, cache_root: Path | None = None,
                 fallback_root: Path = Path(".es-rag/models"), quantized: bool = False,
                 batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        try:
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxBackendError(
                f"embedding_backend = {'onnx-int8' if quantized else 'onnx'} needs the "
                f"onnxruntime and tokenizers packages ({exc.msg}): install es-rag's dependencies "
                "or set embedding_backend = torch") from None
        self.model_name = model_name
        self.batch_size = batch_size
        self.quantized = quantized
        folder = model_folder(model_name)
        self.layout = ModelLayout(folder)
        if not (folder / "tokenizer.json").is_file():
            raise OnnxBackendError(f"the ONNX backend needs the model's tokenizer.json, and "
                                   f"{folder} has none: use embedding_backend = torch")
        self.cache_dir = (default_cache_dir(folder, fallback_root, model_name)
                          if cache_root is None else
                          cache_folder(cache_root, model_name, str(folder)))
        try:
            self.path = ensure_export(folder, self.cache_dir, "int8" if quantized else "fp32")
        except OnnxExportError as exc:
            raise OnnxBackendError(f"{exc}; set embedding_backend = torch") from None
        self.session = onnx_session(self.path)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._tokenizer_file = folder / "tokenizer.json"
        self._encoder = Tokenizer.from_file(str(self._tokenizer_file))
        self._encoder.enable_truncation(self.layout.max_seq_length)
        self._encoder.enable_padding(pad_id=self._encoder.token_to_id("[PAD]") or 0)
        self._counter: TokenizerView | None = None

    @property
    def backend(self) -> str:
        """`onnx` or `onnx-int8`, as `embedding_backend` names it."""
        return "onnx-int8" if self.quantized else "onnx"

    @property
    def dims(self) -> int:
        """Length of the vectors this model produces."""
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int):
            return width * len(self.layout.pooling)
        return len(self.embed_query("dimension probe"))

    @property
    def tokenizer(self) -> TokenizerView:
        """The model's tokenizer, untruncated (chunk sizes are counted with it); read on first
        use, so a process that only embeds a query does not load it twice."""
        if self._counter is None:
            from tokenizers import Tokenizer

            counter = Tokenizer.from_file(str(self._tokenizer_file))
            counter.no_truncation()
            counter.no_padding()
            self._counter = TokenizerView(counter)
        return self._counter

    @property
    def max_seq_length(self) -> int:
        """Tokens the model reads per text; longer texts are truncated when embedded."""
        return self.layout.max_seq_length

    def _embed(self, texts: list[str]) -> Any:
        import numpy as np

        if self.layout.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = self._encoder.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask,
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        vectors = self.layout.pool(hidden, mask)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per passage, in order, in batches of `batch_size` texts of similar length."""
        return self._embed_in_batches(texts, self.layout.document_prompt)

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query (with the model's query prompt, if it has one)."""
        return list(self._embed([self.layout.query_prompt + text])[0].tolist())

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of several search queries (the API batches concurrent queries)."""
        return self._embed_in_batches(texts, self.layout.query_prompt)

    def _embed_in_batches(self, texts: Sequence[str], prompt: str) -> list[list[float]]:
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            for i, vector in zip(batch, self._embed([prompt + texts[i] for i in batch]),
                                 strict=True):
                vectors[i] = vector.tolist()
        return vectors

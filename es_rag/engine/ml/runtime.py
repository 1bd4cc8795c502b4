"""Running an uploaded TorchScript model on CPU, the way Elasticsearch's `pytorch_inference` does.

The model is the module eland traced: BERT-style models take `(input_ids, attention_mask,
token_type_ids, position_ids)`, MPNet-style models `(input_ids, attention_mask)`, each of
shape `[batch, sequence]`; a `text_embedding` model returns the pooled embedding
`[batch, dims]` (or a tuple whose first element it is; eland traces sentence-transformers
models with their pooling and normalization layers). Each request is one sequence, so no
padding is needed; requests are served one at a time per model, each with the deployment's
`threads_per_allocation` intra-op threads (1 by default, as in Elasticsearch).
"""

from __future__ import annotations

import io
import threading
from typing import Any

from ..errors import EngineError
from .config import Tokenization
from .tokenizer import WordPieceTokenizer


class LoadedModel:
    """A deserialized TorchScript module with its tokenizer."""

    def __init__(self, model_id: str, definition: bytes, vocabulary: list[str],
                 tokenization: Tokenization) -> None:
        import torch  # imported on first deployment: the engine starts without torch

        self._torch = torch
        self.model_id = model_id
        self.tokenizer = WordPieceTokenizer(vocabulary, tokenization)
        try:
            module = torch.jit.load(io.BytesIO(definition), map_location="cpu")
        except (RuntimeError, ValueError) as err:
            raise EngineError(f"Could not load the definition of model [{model_id}] as a "
                              f"TorchScript module: {str(err).splitlines()[0]}", status=400,
                              error_type="status_exception") from err
        module.eval()
        self._module = module
        self._lock = threading.Lock()

    def embed(self, text: str, tokenization: Tokenization | None = None, threads: int = 1
              ) -> tuple[list[float], bool]:
        """The embedding of `text`, and whether its tokens were truncated; the model runs
        with `threads` intra-op threads (the deployment's `threads_per_allocation`)."""
        tokens = self.tokenizer.encode(text, tokenization)
        torch = self._torch
        ids = torch.tensor([tokens.ids], dtype=torch.long)
        mask = torch.ones_like(ids)
        if self.tokenizer.options.kind == "mpnet":
            inputs: tuple[Any, ...] = (ids, mask)
        else:
            positions = torch.arange(ids.shape[1], dtype=torch.long).unsqueeze(0)
            inputs = (ids, mask, torch.zeros_like(ids), positions)
        with self._lock, torch.inference_mode():
            # the deployment's threads_per_allocation, only while it runs: more intra-op
            # threads than cores left to this process stall OpenMP (10x slower under load)
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                output = self._module(*inputs)
            except RuntimeError as err:
                raise EngineError(f"Inference failed for model [{self.model_id}]: "
                                  f"{str(err).splitlines()[0]}", status=500,
                                  error_type="status_exception") from err
            finally:
                torch.set_num_threads(previous)
        if isinstance(output, tuple | list):
            output = output[0]
        # Elasticsearch reads result[0][0]: the pooled embedding of a [batch, dims] output,
        # the first token's vector of a [batch, tokens, dims] one
        vector = output[0][0] if output.dim() == 3 else output[0]
        return vector.float().tolist(), tokens.truncated

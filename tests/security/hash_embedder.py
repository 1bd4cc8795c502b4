"""A deterministic embedder for security tests: hashed bag of words, 384 dims, no model needed."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

DIMS = 384  # mappings/chunks.json
_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Each lowercased word adds ±1 to one of 384 dimensions chosen by its CRC32; unit length."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = zlib.crc32(word.encode())
                out[row, h % DIMS] += 1.0 if h & 0x8000_0000 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += (norms[:, 0] == 0)  # an empty text still gets a valid unit vector
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

"""The WordPiece tokenizers Elasticsearch runs for `bert` and `mpnet` tokenization.

Built with the `tokenizers` library from the uploaded vocabulary: BERT's normalizer (clean
text, CJK characters split, lowercasing and accent stripping when `do_lower_case`), BERT's
whitespace-and-punctuation pre-tokenizer and WordPiece (100 characters per word at most).
Special tokens are added around the sequence, and the sequence is truncated (`truncate:
first`) or refused (`none`, `second`: there is no second sequence) past
`max_sequence_length`, as Elasticsearch's `BertTokenizer` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from ..errors import EngineError
from .config import Tokenization

# (start, end, pad, unk) tokens per tokenization kind
SPECIAL_TOKENS = {"bert": ("[CLS]", "[SEP]", "[PAD]", "[UNK]"),
                  "mpnet": ("<s>", "</s>", "<pad>", "[UNK]")}
_NEVER_SPLIT = {"bert": ("[MASK]",), "mpnet": ("<mask>",)}


@dataclass(frozen=True)
class Tokens:
    """One tokenized input: ids with special tokens, and whether it was truncated."""

    ids: list[int]
    truncated: bool


class WordPieceTokenizer:
    """Tokenizes text for a model from its vocabulary and tokenization options."""

    def __init__(self, vocabulary: list[str], options: Tokenization) -> None:
        start, end, pad, unk = SPECIAL_TOKENS[options.kind]
        index: dict[str, int] = {}
        for position, token in enumerate(vocabulary):
            index.setdefault(token, position)
        missing = [t for t in (start, end, pad, unk) if t not in index]
        if missing:
            raise EngineError(f"The vocabulary is missing the special tokens {missing} that "
                              f"[{options.kind}] tokenization requires", status=400,
                              error_type="illegal_argument_exception")
        self.options = options
        self.start, self.end, self.pad = index[start], index[end], index[pad]
        tokenizer = Tokenizer(models.WordPiece(vocab=index, unk_token=unk,
                                               max_input_chars_per_word=100))
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=None,
            lowercase=options.do_lower_case)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        never_split = [t for t in (start, end, pad, unk, *_NEVER_SPLIT[options.kind])
                       if t in index]
        tokenizer.add_special_tokens(never_split)
        self._tokenizer = tokenizer

    def encode(self, text: str, options: Tokenization | None = None) -> Tokens:
        """The model input ids for `text` (`options` may override truncation for one call)."""
        options = options or self.options
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        budget = options.max_sequence_length - (2 if options.with_special_tokens else 0)
        truncated = len(ids) > budget
        if truncated:
            if options.truncate != "first":
                length = len(ids) + (2 if options.with_special_tokens else 0)
                raise EngineError(f"Input too large. The tokenized input length [{length}] "
                                  f"exceeds the maximum sequence length "
                                  f"[{options.max_sequence_length}]", status=400,
                                  error_type="status_exception")
            ids = ids[:budget]
        if options.with_special_tokens:
            ids = [self.start, *ids, self.end]
        return Tokens(ids, truncated)

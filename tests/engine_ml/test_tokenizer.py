"""The engine's WordPiece tokenizer gives the ids BERT's tokenizer gives, and truncates as ES."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from es_rag.engine.errors import EngineError
from es_rag.engine.ml.config import Tokenization
from es_rag.engine.ml.tokenizer import WordPieceTokenizer

TEXTS = [
    "Hello, World!",
    "Elasticsearch's kNN search (HNSW) on 384-d vectors: p50=2.2ms.",
    "Crème brûlée à São Paulo — naïve café",
    "日本語のテキストと中文字符 mixed with English",
    "tabs\tand\nnewlines\r\n and  double  spaces",
    "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    "emoji 🙂 and symbols ©®™ ½",
    "[MASK] tokens stay whole",
    "x" * 150,
]


@pytest.fixture(scope="module")
def vocabulary(minilm_dir: Path) -> list[str]:
    return [line for line in (minilm_dir / "vocab.txt").read_text().split("\n")[:-1]]


@pytest.fixture(scope="module")
def reference(minilm_dir: Path):  # a transformers tokenizer
    return AutoTokenizer.from_pretrained(str(minilm_dir))


@pytest.mark.parametrize("text", TEXTS)
def test_ids_equal_the_bert_tokenizer_of_the_model(vocabulary: list[str], reference,
                                                   text: str) -> None:
    tokenizer = WordPieceTokenizer(vocabulary, Tokenization(do_lower_case=True))
    assert tokenizer.encode(text).ids == reference(text)["input_ids"]


def test_cased_tokenization_keeps_case_and_accents(vocabulary: list[str]) -> None:
    cased = WordPieceTokenizer(vocabulary, Tokenization(do_lower_case=False))
    lower = WordPieceTokenizer(vocabulary, Tokenization(do_lower_case=True))
    assert cased.encode("Hello").ids != lower.encode("Hello").ids
    assert cased.encode("hello").ids == lower.encode("Hello").ids


def test_truncate_first_cuts_to_the_maximum_sequence_length(vocabulary: list[str]) -> None:
    tokenizer = WordPieceTokenizer(vocabulary, Tokenization(do_lower_case=True,
                                                            max_sequence_length=8))
    tokens = tokenizer.encode("one two three four five six seven eight nine")
    cls, sep = vocabulary.index("[CLS]"), vocabulary.index("[SEP]")
    assert tokens.truncated
    assert len(tokens.ids) == 8 and tokens.ids[0] == cls and tokens.ids[-1] == sep
    assert not tokenizer.encode("one two").truncated


def test_truncate_none_refuses_a_long_input(vocabulary: list[str]) -> None:
    tokenizer = WordPieceTokenizer(vocabulary, Tokenization(max_sequence_length=4,
                                                            truncate="none"))
    with pytest.raises(EngineError) as err:
        tokenizer.encode("one two three four")
    assert err.value.status == 400
    assert err.value.reason == ("Input too large. The tokenized input length [6] exceeds the "
                                "maximum sequence length [4]")


def test_without_special_tokens(vocabulary: list[str], reference) -> None:
    tokenizer = WordPieceTokenizer(vocabulary, Tokenization(do_lower_case=True,
                                                            with_special_tokens=False))
    text = "plain words only"
    assert tokenizer.encode(text).ids == reference(text, add_special_tokens=False)["input_ids"]


def test_a_vocabulary_without_bert_special_tokens_is_refused() -> None:
    with pytest.raises(EngineError, match=r"missing the special tokens \['\[CLS\]'"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "words"], Tokenization())


def test_mpnet_uses_its_own_special_tokens() -> None:
    vocabulary = ["<s>", "<pad>", "</s>", "[UNK]", "hello", "world"]
    tokens = WordPieceTokenizer(vocabulary, Tokenization(kind="mpnet")).encode("hello there")
    assert tokens.ids == [0, 4, 3, 2]

"""(query, passage) pairs as model inputs, with the `tokenizers` library only (no torch, no transformers):
`[CLS] query [SEP] passage [SEP]`, token type 0 then 1, cut to max_length tokens (the longer side first),
padded to the longest pair of the batch. Training and the query-time scorer both call this, so the
model is scored on exactly the inputs it was trained on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embedding import TOKENIZER_FILE


class PairEncoder:
    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(max_length, strategy="longest_first")
        pad_id = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def of_folder(cls, folder: Path, max_length: int) -> PairEncoder:
        return cls(folder / TOKENIZER_FILE, max_length)

    def encode(self, query: str, passages: Sequence[str]) -> dict[str, np.ndarray]:
        """input_ids, attention_mask, token_type_ids (int64, one row per passage) for `query` against each passage."""
        return self.encode_pairs([(query, passage) for passage in passages])

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(pairs))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

"""Training text for continual training: the user's own documents.

A source is a directory of .txt files (one document per file, searched
recursively, sorted by path) or a .jsonl file (one JSON object per line with
a "text" string, or pre-tokenised "ids"). Documents are tokenised once with
the checkpoint's tokenizer: SentencePiece (tokenizer.model), or Hugging
Face's tokenizer.json through the `tokenizers` package when it is installed.

Training samples are windows of a document: a window of n segments is drawn
from a document at least that long (shorter documents are used whole,
padded), so every sample folds n-1 segments into memory before its last.
"""

from __future__ import annotations

import json
import os
import random
from typing import Callable, List, Optional, Sequence

Encode = Callable[[str], List[int]]


class DocumentError(ValueError):
    """Unreadable training text; the message names the file and line."""


class Encoder:
    """The checkpoint's tokenizer: text -> ids without special tokens, and a piece's id."""

    def __init__(self, encode: Encode, piece_id: Callable[[str], Optional[int]]):
        self.encode, self.piece_id = encode, piece_id

    def __call__(self, text: str) -> List[int]:
        return self.encode(text)


def load_encoder(model_dir: str) -> Encoder:
    sp_path = os.path.join(model_dir, "tokenizer.model")
    if os.path.isfile(sp_path):
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=sp_path)
        return Encoder(lambda text: sp.encode(text),
                       lambda piece: sp.piece_to_id(piece) if sp.piece_to_id(piece) != sp.unk_id() else None)
    hf_path = os.path.join(model_dir, "tokenizer.json")
    if os.path.isfile(hf_path):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise DocumentError(f"{hf_path}: reading it needs the `tokenizers` package "
                                "(pip install tokenizers)") from None
        tok = Tokenizer.from_file(hf_path)
        return Encoder(lambda text: tok.encode(text, add_special_tokens=False).ids, tok.token_to_id)
    raise DocumentError(f"{model_dir}: no tokenizer.model or tokenizer.json")


def _jsonl(path: str, encode: Encode) -> List[List[int]]:
    docs = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DocumentError(f"{path}:{number}: invalid JSON: {e}") from None
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                docs.append(encode(record["text"]))
            elif isinstance(record, dict) and isinstance(record.get("ids"), list) and all(
                    isinstance(i, int) and i >= 0 for i in record["ids"]):
                docs.append(list(record["ids"]))
            else:
                raise DocumentError(f"{path}:{number}: expected an object with a \"text\" string "
                                    "or an \"ids\" list of token ids")
    return docs


def read_documents(source: str, encode: Encode, vocab_size: int,
                   min_tokens: int = 2) -> List[List[int]]:
    """Every document of `source` as token ids (shorter than min_tokens dropped)."""
    if os.path.isdir(source):
        paths = sorted(os.path.join(root, name) for root, _, names in os.walk(source)
                       for name in names if name.endswith(".txt"))
        if not paths:
            raise DocumentError(f"{source}: no .txt files")
        docs = []
        for path in paths:
            with open(path, "r", encoding="utf-8", errors="replace") as f:
                docs.append(encode(f.read()))
    elif os.path.isfile(source) and source.endswith(".jsonl"):
        docs = _jsonl(source, encode)
    elif os.path.isfile(source) and source.endswith(".txt"):
        with open(source, "r", encoding="utf-8", errors="replace") as f:
            docs = [encode(f.read())]
    else:
        raise DocumentError(f"{source}: not a directory of .txt files, a .txt or a .jsonl file")
    for doc in docs:
        bad = [i for i in doc if i >= vocab_size]
        if bad:
            raise DocumentError(f"{source}: token id {bad[0]} is outside the model's vocabulary "
                                f"({vocab_size})")
    docs = [d for d in docs if len(d) >= min_tokens]
    if not docs:
        raise DocumentError(f"{source}: no document of at least {min_tokens} tokens")
    return docs


def draw_window(docs: Sequence[List[int]], tokens: int, rng: random.Random) -> List[int]:
    """A window of about `tokens` tokens from a random document, preferring
    documents that long (the memory only learns from folds it sees)."""
    long_enough = [d for d in docs if len(d) >= tokens]
    doc = rng.choice(long_enough) if long_enough else max(docs, key=len)
    start = rng.randrange(len(doc) - tokens + 1) if len(doc) > tokens else 0
    return doc[start:start + tokens]

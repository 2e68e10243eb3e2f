"""Training text for continual training: the user's own documents.

A source is a directory of .txt files (one document per file, searched
recursively, sorted by path) or a .jsonl file (one JSON object per line with
a "text" string, or pre-tokenised "ids"). Documents are tokenised once with
the checkpoint's tokenizer: SentencePiece (tokenizer.model), or Hugging
Face's tokenizer.json through the `tokenizers` package when it is installed,
else through this project's own `infini tokenize`, whose ids equal Hugging
Face's (tests/tools/infini_tokenize_test.cc).

Training samples are windows of a document: a window of n segments is drawn
from a document at least that long (shorter documents are used whole,
padded), so every sample folds n-1 segments into memory before its last.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

Encode = Callable[[str], List[int]]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_INFINI = os.path.join(REPO_ROOT, "build", "bin", "infini")


class DocumentError(ValueError):
    """Unreadable training text; the message names the file and line."""


class Encoder:
    """The checkpoint's tokenizer: text -> ids without special tokens, a piece's
    id, and many texts at once (one process for them all through the CLI).
    `batched`: encode_many costs about one call, so encoding texts ahead of
    need is cheap (false for the CLI on a tokenizer it cannot batch)."""

    def __init__(self, encode: Encode, piece_id: Callable[[str], Optional[int]],
                 encode_many: Optional[Callable[[Sequence[str]], List[List[int]]]] = None,
                 batched: bool = True):
        self.encode, self.piece_id, self.batched = encode, piece_id, batched
        self.encode_many = encode_many or (lambda texts: [encode(t) for t in texts])

    def __call__(self, text: str) -> List[int]:
        return self.encode(text)


def encode_all(encode: Encode, texts: Sequence[str]) -> List[List[int]]:
    """encode over texts, in one go where `encode` is an Encoder."""
    many = getattr(encode, "encode_many", None)
    return many(texts) if many is not None else [encode(t) for t in texts]


def find_infini(explicit: Optional[str] = None) -> str:
    """The infini binary: `explicit` (continual.py's --infini), else $INFINI_BIN,
    else build/bin/infini under the repository root."""
    for origin, path in (("--infini", explicit), ("INFINI_BIN", os.environ.get("INFINI_BIN"))):
        if path:
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise DocumentError(f"{origin} {path}: not an executable infini binary")
            return path
    if os.path.isfile(DEFAULT_INFINI) and os.access(DEFAULT_INFINI, os.X_OK):
        return DEFAULT_INFINI
    raise DocumentError(f"no infini binary to tokenise with: {DEFAULT_INFINI} is not built; pass "
                        "--infini BIN or set INFINI_BIN (or install the `tokenizers` package)")


def _batch_separator(tokenizer_file: str) -> Optional[Tuple[str, int]]:
    """(content, id) of a special token that cuts a text into parts encoded
    exactly as alone, or None. Hugging Face splits the text on added tokens
    before normalizing and pre-tokenizing each part, so for a byte-level BPE
    without a prefix space (SmolLM2, Qwen, Llama 3) encode(a + sep + b) is
    encode(a) + [sep] + encode(b). A Metaspace tokenizer (its "▁" prepended
    to the first part only) or a prefix space is not cut this way."""
    if not tokenizer_file.endswith(".json"):
        return None
    try:
        with open(tokenizer_file, "r", encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError):
        return None  # `infini tokenize` says what is wrong with it
    parts = json.dumps([spec.get("normalizer"), spec.get("pre_tokenizer")])
    if '"ByteLevel"' not in parts or "Metaspace" in parts or "Prepend" in parts or \
            '"add_prefix_space": true' in parts:
        return None
    for token in spec.get("added_tokens") or []:
        if token.get("special") and not (token.get("lstrip") or token.get("rstrip")
                                         or token.get("single_word") or token.get("normalized")):
            return token["content"], int(token["id"])
    return None


class CliEncoder:
    """A tokenizer file encoded by `infini tokenize`. Each call is a process
    that loads the tokenizer (0.8 s for Qwen3's 11 MB tokenizer.json), and
    the CLI reads one file per call, so: short texts (the synthetic task's
    filler sentences, markers and answers, encoded over and over) are
    memoized, whole documents are not (memory stays the ids'); and
    encode_many joins many texts with a special token that cuts them apart
    exactly (_batch_separator), one process for them all."""

    MEMO_CHARS = 1024
    MEMO_ENTRIES = 1 << 16
    BATCH_CHARS = 64 << 20

    def __init__(self, tokenizer_file: str, binary: str):
        self.tokenizer_file, self.binary = tokenizer_file, binary
        self.spawns = 0
        self._memo: Dict[str, List[int]] = {}
        self.separator = _batch_separator(tokenizer_file)

    def _remember(self, text: str, ids: List[int]) -> None:
        if len(text) <= self.MEMO_CHARS:
            if len(self._memo) >= self.MEMO_ENTRIES:
                self._memo.clear()
            self._memo[text] = ids

    def encode_many(self, texts: Sequence[str]) -> List[List[int]]:
        if self.separator is None:
            return [self.encode(t) for t in texts]
        sep, sep_id = self.separator
        found: Dict[str, List[int]] = {}
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        alone = [t for t in todo if sep in t]  # its own special token would cut it
        todo = [t for t in todo if sep not in t]
        while todo:
            batch, size = [], 0
            while todo and (not batch or size + len(todo[0]) <= self.BATCH_CHARS):
                batch.append(todo.pop(0))
                size += len(batch[-1])
            ids = self._run(sep.join(batch))
            parts: List[List[int]] = [[]]
            for i in ids:
                if i == sep_id:
                    parts.append([])
                else:
                    parts[-1].append(i)
            if len(parts) != len(batch):
                raise DocumentError(f"{self.tokenizer_file}: {len(batch)} texts joined by {sep} came "
                                    f"back as {len(parts)}")
            for text, part in zip(batch, parts):
                found[text] = part
                self._remember(text, part)
        for text in alone:
            found[text] = self.encode(text)
        return [list(found[t]) if t in found else list(self._memo[t]) for t in texts]

    def encode(self, text: str) -> List[int]:
        ids = self._memo.get(text)
        if ids is None:
            ids = self._run(text)
            self._remember(text, ids)
        return list(ids)  # callers may extend what they get

    def piece_id(self, piece: str) -> Optional[int]:
        # --special parse: an added token's string is its one id, as in
        # Hugging Face's encode(text, add_special_tokens=False).
        ids = self.encode(piece)
        return ids[0] if len(ids) == 1 else None

    def _run(self, text: str) -> List[int]:
        with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
            f.write(text.encode("utf-8", errors="surrogatepass"))
            f.flush()
            self.spawns += 1
            done = subprocess.run([self.binary, "tokenize", "--tokenizer", self.tokenizer_file,
                                   "--in", f.name, "--special", "parse"],
                                  capture_output=True, text=True)
        if done.returncode != 0:
            raise DocumentError(f"{self.tokenizer_file}: `{self.binary} tokenize` failed "
                                f"(exit {done.returncode}): {done.stderr.strip()}")
        return [int(t) for t in done.stdout.split()]


def load_encoder(model_dir: str, infini_bin: Optional[str] = None) -> Encoder:
    """The checkpoint's tokenizer; `infini_bin` is the binary that encodes a
    tokenizer.json when the `tokenizers` package is missing (find_infini)."""
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
            cli = CliEncoder(hf_path, find_infini(infini_bin))
            return Encoder(cli.encode, cli.piece_id, cli.encode_many, cli.separator is not None)
        tok = Tokenizer.from_file(hf_path)
        return Encoder(lambda text: tok.encode(text, add_special_tokens=False).ids, tok.token_to_id)
    raise DocumentError(f"{model_dir}: no tokenizer.model or tokenizer.json")


def _jsonl(path: str) -> List[Union[str, List[int]]]:
    """Each line's text, or its ids."""
    docs: List[Union[str, List[int]]] = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DocumentError(f"{path}:{number}: invalid JSON: {e}") from None
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                docs.append(record["text"])
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
        texts = []
        for path in paths:
            with open(path, "r", encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
        docs = encode_all(encode, texts)
    elif os.path.isfile(source) and source.endswith(".jsonl"):
        records = _jsonl(source)
        texts = [r for r in records if isinstance(r, str)]
        encoded = iter(encode_all(encode, texts))
        docs = [next(encoded) if isinstance(r, str) else r for r in records]
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

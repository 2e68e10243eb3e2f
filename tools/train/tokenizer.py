"""Trains the demo model's SentencePiece tokenizer (BPE, 2,176 pieces).

Numbers are written in groups of up to three digits, as the Llama 3 and GPT-4
tokenizers do: every 3-digit and 2-digit string is a user-defined piece, and
SentencePiece matches those longest first from the left, so a 5-digit key is
two tokens ("71432" -> "714" "32") and a 4-digit door code two ("447" "1").
With single digits the model recalled a key's first digit from memory at
every length but returned the other four as an unordered bag (model card,
run 10); with groups, the first group is that same recall and the second is
the one group of the other kind in the bag. Other digits stay single pieces
(split_digits). The prompt template's markers are user-defined pieces too,
and byte fallback lets the server read any UTF-8 text. The corpus is
generated task text plus the training prose.
"""

from __future__ import annotations

import os
import random
from typing import Sequence

import sentencepiece as spm

import tasks


def corpus_lines(prose: Sequence[str], seed: int, count: int = 60000):
    rng = random.Random(seed)
    yield tasks.INSTRUCTION
    for _ in range(count):
        r = rng.random()
        if r < 0.35:
            yield rng.choice(tasks.REPEAT_FILLER)
        elif r < 0.65:
            yield rng.choice(prose)
        elif r < 0.75:
            key = rng.randint(10000, 99999)
            yield f"The pass key is {key}. Remember it. {key} is the pass key."
            yield tasks.QUESTION_TEMPLATE.replace("{question}", "What is the pass key?") + f" {key}{tasks.END}"
        elif r < 0.87:
            colour = rng.choice(tasks.COLOURS)
            code = rng.randint(1000, 9999)
            yield f"The code of the {colour} door is {code}."
            yield tasks.QUESTION_TEMPLATE.replace(
                "{question}", f"What is the code of the {colour} door?") + f" {code}{tasks.END}"
        else:
            name, city = rng.choice(tasks.NAMES), rng.choice(tasks.CITIES)
            yield f"Key fact: {name} lives in {city}."
            yield f"{tasks.SUMMARY_PROMPT} {name} lives in {city}.{tasks.END}"


DIGIT_GROUPS = [f"{i:03d}" for i in range(1000)] + [f"{i:02d}" for i in range(100)]


def train_tokenizer(out_dir: str, prose: Sequence[str], seed: int, vocab_size: int = 2176) -> str:
    """vocab_size counts the 1,100 digit groups, so about 800 pieces are learnt
    merges, as many as the 1,024-piece tokenizer without groups had."""
    os.makedirs(out_dir, exist_ok=True)
    corpus = os.path.join(out_dir, "tokenizer-corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(tasks.DOCUMENT_PREFIX + tasks.INSTRUCTION + "\n")
        for line in corpus_lines(prose, seed):
            f.write(line + "\n")
    prefix = os.path.join(out_dir, "tokenizer")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        character_coverage=1.0, split_digits=True, byte_fallback=True,
        user_defined_symbols=tasks.SPECIAL_PIECES + DIGIT_GROUPS, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        input_sentence_size=0, shuffle_input_sentence=False, num_threads=2,
        minloglevel=2)
    return prefix + ".model"

#!/usr/bin/env python3
"""Writes smollm2_style/tokenizer.json (+ tokenizer_config.json): a small byte-level
BPE tokenizer in SmolLM2's layout (pre_tokenizer Sequence[Digits(individual_digits),
ByteLevel(add_prefix_space=false, use_regex=true)], decoder ByteLevel), with merges
learned from a few sentences. Test data only; run again to regenerate (deterministic)."""
import collections
import json
import os
import re

CORPUS = """The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.
A tokenizer turns text into pieces; the model reads the pieces and writes the answer.
In the beginning there was the word, and then there were many words in the text.
def encode(text): return [piece for piece in text.split()]  # code with tokens
She said: "it's the one they'll want, isn't it?" and we're sure you've seen it.
Numbers like 12345 and 3.14159 appear in the text, as do dates such as 2024-05-01.
"""
NUM_MERGES = 300


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def main():
    byte_char = bytes_to_unicode()
    words = re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", CORPUS)
    counts = collections.Counter("".join(byte_char[b] for b in w.encode()) for w in words)
    splits = {w: list(w) for w in counts}
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {}
    for s in specials:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[byte_char[b]] = len(vocab)
    merges = []
    for _ in range(NUM_MERGES):
        pairs = collections.Counter()
        for w, count in counts.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(f"{best[0]} {best[1]}")
        vocab.setdefault(best[0] + best[1], len(vocab))
        for w, s in splits.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            splits[w] = out
    think_id = len(vocab)
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in specials]
    added.append({"id": think_id, "content": "<think>", "single_word": False, "lstrip": False,
                  "rstrip": False, "normalized": False, "special": False})
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": merges},
    }
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
              "tokenizer_class": "GPT2Tokenizer", "model_max_length": 8192}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2_style")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

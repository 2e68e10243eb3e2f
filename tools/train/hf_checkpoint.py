"""Hugging Face-layout checkpoints in and out of the training model.

Reads what `infini convert` writes (and any Llama-family directory the
reference model can represent): config.json, then either
model.safetensors.index.json and the shards it names, or model.safetensors;
tensors in F32, BF16 or F16. Writes a trained model back in the same layout:
the source's config.json keys kept, the weights in the source's dtype, one
model.safetensors up to `shard_bytes` and numbered shards with an index
above that, and the tokenizer and prompt files copied from the source.

Every family the engine loads trains: Llama (Llama 3.x's rope_scaling
"llama3" included), SmolLM2, Qwen2 (q/k/v biases) and Qwen3 (per-head q/k
norms). What the reference model cannot represent (another rope_scaling
type, an unknown architecture) is refused with the key that says so:
training it as something else would silently change the model.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from infini_reference import (InfiniConfig, InfiniForCausalLM, read_safetensors,
                              write_safetensors)

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
# Files that travel with the weights: tokenizers, chat and prompt templates,
# generation defaults and the held-out prose `infini eval --filler prose` reads.
COMPANION_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                   "generation_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "prompt_template.json", "eval-prose.txt")
_DTYPE_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be trained; the message names the file and key."""


def read_config(directory: str) -> dict:
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory}: no config.json (not a checkpoint directory)")
    with open(path, "r", encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: must be a JSON object")
    return config


def weight_files(directory: str) -> Dict[str, str]:
    """Tensor name -> file name inside `directory` (the index, or the single file)."""
    index = os.path.join(directory, INDEX)
    if os.path.isfile(index):
        with open(index, "r", encoding="utf-8") as f:
            try:
                weight_map = json.load(f).get("weight_map")
            except json.JSONDecodeError as e:
                raise CheckpointError(f"{index}: invalid JSON: {e}") from None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index}: no \"weight_map\" object")
        for name, shard in weight_map.items():
            if not isinstance(shard, str) or "/" in shard or shard.startswith("."):
                raise CheckpointError(f"{index}: tensor {name} maps to {shard!r}, not a file here")
        return dict(weight_map)
    if os.path.isfile(os.path.join(directory, SINGLE)):
        return {}  # resolved by read_tensors: everything in the single file
    raise CheckpointError(f"{directory}: neither {INDEX} nor {SINGLE}")


def read_tensors(directory: str) -> Dict[str, Tensor]:
    weight_map = weight_files(directory)
    if not weight_map:
        return read_safetensors(os.path.join(directory, SINGLE))
    tensors: Dict[str, Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        path = os.path.join(directory, shard)
        if not os.path.isfile(path):
            raise CheckpointError(f"{directory}/{INDEX}: shard {shard} does not exist")
        content = read_safetensors(path)
        for name, tensor in content.items():
            if weight_map.get(name) == shard:  # the index decides which copy counts
                tensors[name] = tensor
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise CheckpointError(f"{directory}/{INDEX}: {missing[0]} is not in {weight_map[missing[0]]}"
                              f" ({len(missing)} missing)")
    return tensors


def model_config(raw: dict, origin: str) -> InfiniConfig:
    """InfiniConfig of a converted checkpoint's config.json; refuses what the
    training model would get wrong."""
    if "segment_size" not in raw:
        raise CheckpointError(f"{origin}: no \"segment_size\": a plain checkpoint; run `infini convert` "
                              "first")
    try:
        return InfiniConfig.from_dict(raw)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{origin}: {e}") from None


def weight_dtype(tensors: Dict[str, Tensor]) -> torch.dtype:
    """The dtype most of the weights are stored in (gates may differ)."""
    counts: Dict[torch.dtype, int] = {}
    for name, t in tensors.items():
        if not name.endswith("memory_gate"):
            counts[t.dtype] = counts.get(t.dtype, 0) + t.numel()
    return max(counts, key=counts.get) if counts else torch.float32


def load_model(directory: str, dtype: torch.dtype = torch.float32,
               gate_logit: Optional[float] = None) -> Tuple[InfiniForCausalLM, dict, torch.dtype]:
    """(model in `dtype`, the raw config.json, the dtype the weights were stored in)."""
    raw = read_config(directory)
    config = model_config(raw, os.path.join(directory, "config.json"))
    tensors = read_tensors(directory)
    stored = weight_dtype(tensors)
    biases = {name.split(".")[-2] for name in tensors if name.endswith(".bias")}
    model = InfiniForCausalLM(config, biases)
    for i in range(config.num_hidden_layers):
        name = f"model.layers.{i}.self_attn.memory_gate"
        if name not in tensors:
            if gate_logit is None:
                raise CheckpointError(f"{directory}: no {name}; convert the checkpoint with "
                                      "`infini convert` first")
            tensors[name] = torch.full((config.num_attention_heads,), float(gate_logit))
    if config.tie_word_embeddings:
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise CheckpointError(f"{directory}: missing tensors {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if tuple(tensors[name].shape) != tuple(param.shape):
                raise CheckpointError(f"{directory}: {name} has shape {list(tensors[name].shape)}, "
                                      f"config.json says {list(param.shape)}")
            param.copy_(tensors[name].to(param.dtype))
    return model.to(dtype), raw, stored


def _shards(tensors: Dict[str, Tensor], itemsize: int, shard_bytes: int) -> List[Dict[str, Tensor]]:
    shards: List[Dict[str, Tensor]] = [{}]
    size = 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * itemsize
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensors[name]
        size += nbytes
    return shards


def save_model(out: str, model: InfiniForCausalLM, raw_config: dict, source_dir: str,
               dtype: torch.dtype, shard_bytes: int = 4 << 30, extra: Optional[dict] = None) -> None:
    """Writes config.json (the source's keys, segment_size and memory_update
    from the model), the weights in `dtype` and the companion files. A model
    that fits one shard is one model.safetensors (gates in `dtype` too: bf16
    rounds a logit near -4 by at most 1/64, which the engine and every
    Hugging Face loader read today); larger ones are numbered shards plus
    memory_gates.safetensors (F32) and the index, as `infini convert` writes."""
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):  # a previous export's shards must not linger
        if name.endswith(".safetensors") or name == INDEX:
            os.remove(os.path.join(out, name))
    config = dict(raw_config)
    config["segment_size"] = model.config.segment_size
    config["memory_update"] = model.config.memory_update
    config.update(extra or {})
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    tensors = {k: v.detach().cpu() for k, v in model.checkpoint_tensors().items()}
    gates = {k: v for k, v in tensors.items() if k.endswith("memory_gate")}
    weights = {k: v for k, v in tensors.items() if k not in gates}
    itemsize = torch.tensor([], dtype=dtype).element_size()
    shards = _shards(weights, itemsize, shard_bytes)
    if len(shards) == 1:
        write_safetensors(os.path.join(out, SINGLE), tensors, dtype)
    else:
        weight_map = {}
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        for shard_name, shard in zip(names, shards):
            write_safetensors(os.path.join(out, shard_name), shard, dtype)
            weight_map.update({k: shard_name for k in shard})
        write_safetensors(os.path.join(out, "memory_gates.safetensors"), gates, torch.float32)
        weight_map.update({k: "memory_gates.safetensors" for k in gates})
        total = sum(t.numel() for t in weights.values()) * itemsize + sum(
            t.numel() * 4 for t in gates.values())
        with open(os.path.join(out, INDEX), "w", encoding="utf-8") as f:
            json.dump({"metadata": {"total_size": total},
                       "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
            f.write("\n")
    for name in COMPANION_FILES:
        src = os.path.join(source_dir, name)
        if os.path.isfile(src) and os.path.abspath(src) != os.path.abspath(os.path.join(out, name)):
            shutil.copyfile(src, os.path.join(out, name))

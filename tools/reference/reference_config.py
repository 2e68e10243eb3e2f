"""config.json of the PyTorch reference: the architectures the engine implements and\ntheir rules (split from infini_reference.py, which re-exports every name)."""

from __future__ import annotations

import dataclasses
import json
import math
import mmap
import os
import struct
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
INFINI_ARCHITECTURE = "InfiniLlamaForCausalLM"  # the project's own format (engine's to_json)
MODEL_TYPES = {INFINI_ARCHITECTURE: "llama", "LlamaForCausalLM": "llama",
               "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}
ARCHITECTURES = tuple(MODEL_TYPES)
DEFAULT_SEGMENT_SIZE = 2048  # the paper's; for checkpoints without "segment_size"


# ----------------------------------------------------------------------------
# config.json


@dataclasses.dataclass
class InfiniConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    tie_word_embeddings: bool
    segment_size: int
    memory_update: str  # "linear" or "delta"
    # Hugging Face Llama-family variants (design page, "Other Llama-family
    # architectures"). Defaults keep the project's original Llama layout.
    architecture: str = "LlamaForCausalLM"
    rope_scaling: Optional[dict] = None  # {"rope_type": "llama3", "factor", ...} or None
    attention_bias: bool = False  # Llama / Qwen3: q, k, v, o biases
    mlp_bias: bool = False        # Llama: gate, up, down biases

    @property
    def heads_per_kv(self) -> int:
        return self.num_attention_heads // self.num_key_value_heads

    @property
    def q_size(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_key_value_heads * self.head_dim

    def memory_floats(self) -> int:
        """Floats of compressive memory (M and z) for a whole session."""
        d = self.head_dim
        return self.num_hidden_layers * self.num_key_value_heads * d * (d + 1)

    @property
    def qk_norm(self) -> bool:
        """Qwen3: per-head RMSNorm of q and k after the projection."""
        return self.architecture == "Qwen3ForCausalLM"

    def config_biases(self) -> Optional[frozenset]:
        """The linears with a bias as config.json fixes them; None for the
        project's own format, whose biases are whatever the file holds."""
        if self.architecture == INFINI_ARCHITECTURE:
            return None
        if self.architecture == "Qwen2ForCausalLM":
            return frozenset({"q_proj", "k_proj", "v_proj"})
        out = set()
        if self.attention_bias:
            out |= {"q_proj", "k_proj", "v_proj", "o_proj"}
        if self.mlp_bias:
            out |= {"gate_proj", "up_proj", "down_proj"}
        return frozenset(out)

    def validate(self) -> None:
        def positive(name):
            if getattr(self, name) <= 0:
                raise ValueError(f"config: {name} must be positive, got {getattr(self, name)}")

        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "head_dim", "segment_size"):
            positive(name)
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ValueError("config: num_attention_heads must be a multiple of num_key_value_heads")
        if self.head_dim % 2 != 0:
            raise ValueError("config: head_dim must be even (RoPE pairs i and i + d/2)")
        if self.memory_update not in ("linear", "delta"):
            raise ValueError(f"config: memory_update must be 'linear' or 'delta', got {self.memory_update!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"config: architectures [{self.architecture!r}] is not implemented")
        if self.rope_scaling is not None:
            kind = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            if kind != "llama3":
                raise ValueError(f"config: rope_scaling of type {kind!r} is not implemented")

    @classmethod
    def from_dict(cls, d: dict) -> "InfiniConfig":
        """config.json -> config. Hugging Face checkpoints without
        "segment_size" get DEFAULT_SEGMENT_SIZE, as in the engine."""
        architectures = d.get("architectures")
        if architectures is None:
            architecture = {"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
                            "llama": "LlamaForCausalLM"}.get(d.get("model_type"), INFINI_ARCHITECTURE)
        else:
            if len(architectures) != 1:
                raise ValueError(f"config: architectures must name one architecture, got {architectures}")
            architecture = architectures[0]
        segment_size = d.get("segment_size")
        if segment_size is None:
            if architecture == INFINI_ARCHITECTURE:
                raise ValueError("config: segment_size is missing")
            segment_size = DEFAULT_SEGMENT_SIZE
        if d.get("use_sliding_window"):
            raise ValueError("config: use_sliding_window true is not implemented")
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"config: hidden_act {d['hidden_act']!r} is not implemented")
        heads = int(d["num_attention_heads"])
        head_dim = d.get("head_dim")
        if head_dim is None and architecture == "Qwen3ForCausalLM":
            head_dim = 128  # Transformers' Qwen3Config default
        if head_dim is None:
            if int(d["hidden_size"]) % heads != 0:
                raise ValueError("config: hidden_size not divisible by num_attention_heads and no head_dim")
            head_dim = int(d["hidden_size"]) // heads
        kv_heads = d.get("num_key_value_heads")
        if kv_heads is None and architecture in ("Qwen2ForCausalLM", "Qwen3ForCausalLM"):
            raise ValueError("config: num_key_value_heads is missing (Transformers would assume 32)")
        config = cls(
            vocab_size=int(d["vocab_size"]),
            hidden_size=int(d["hidden_size"]),
            intermediate_size=int(d["intermediate_size"]),
            num_hidden_layers=int(d["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=heads if kv_heads is None else int(kv_heads),
            head_dim=int(head_dim),
            rms_norm_eps=float(d.get("rms_norm_eps", 1e-6)),
            rope_theta=float(d.get("rope_theta", 10000.0)),
            tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
            segment_size=int(segment_size),
            memory_update=str(d.get("memory_update", "linear")),
            architecture=architecture,
            rope_scaling=d.get("rope_scaling"),
            attention_bias=bool(d.get("attention_bias", False)),
            mlp_bias=bool(d.get("mlp_bias", False)),
        )
        if config.rope_scaling is not None and config.rope_scaling.get(
                "rope_type", config.rope_scaling.get("type")) == "default":
            config.rope_scaling = None
        config.validate()
        return config

    def to_dict(self) -> dict:
        """The config.json contents (Llama keys plus segment_size, memory_update)."""
        out = {
            "architectures": [self.architecture],
            "model_type": MODEL_TYPES[self.architecture],
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "segment_size": self.segment_size,
            "memory_update": self.memory_update,
        }
        if self.rope_scaling is not None:
            out["rope_scaling"] = dict(self.rope_scaling)
        if self.architecture in ("LlamaForCausalLM", "Qwen3ForCausalLM") and self.attention_bias:
            out["attention_bias"] = True
        if self.architecture == "LlamaForCausalLM" and self.mlp_bias:
            out["mlp_bias"] = True
        return out


def load_config(directory: str) -> InfiniConfig:
    with open(os.path.join(directory, "config.json"), "r", encoding="utf-8") as f:
        return InfiniConfig.from_dict(json.load(f))


def write_config(directory: str, config: InfiniConfig) -> None:
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config.to_dict(), f, indent=2)
        f.write("\n")



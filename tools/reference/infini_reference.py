"""Plain PyTorch reference of the Infini-attention Llama model.

This module is the executable form of the design page infini-attention.md:
the golden vectors in tests/data/golden/ come from it, and the training recipe
imports it. It favours being easy to check against the design page over speed.

Layout of the model (parameter names are the Hugging Face Llama names, so
`model.state_dict()` maps 1:1 onto `model.safetensors`):

    model.embed_tokens.weight
    model.layers.{i}.input_layernorm.weight
    model.layers.{i}.self_attn.{q,k,v,o}_proj.weight  (+ .bias when present)
    model.layers.{i}.self_attn.memory_gate            [H]
    model.layers.{i}.post_attention_layernorm.weight
    model.layers.{i}.mlp.{gate,up,down}_proj.weight   (+ .bias when present)
    model.norm.weight
    lm_head.weight                                    (absent when tied)

The forward pass takes token ids [B, T] and an `InfiniState` and returns
(logits [B, T, vocab], new state). The state is never modified in place, so a
state can be reused (forked) and gradients flow through the memory across
segments. Feeding a stream in any chunking gives the same logits and memory.

Needs only torch (and numpy, which Debian's torch depends on): safetensors
files are read and written here with struct + json.
"""

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
import torch.nn.functional as F
from torch import Tensor, nn

# config.json and safetensors live in their own modules; their names are
# re-exported here because the recipe, the tests and the tools import them
# from this module.
from reference_config import *  # noqa: F401,F403
from reference_config import (ARCHITECTURES, DEFAULT_SEGMENT_SIZE, INFINI_ARCHITECTURE,
                              LINEAR_NAMES, MODEL_TYPES)  # noqa: F401
from reference_safetensors import *  # noqa: F401,F403

# ----------------------------------------------------------------------------
# Building blocks


def sigma(x: Tensor) -> Tensor:
    """The memory feature map: ELU(x) + 1 (positive everywhere)."""
    return F.elu(x) + 1.0


def safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, and 0 where the denominator is 0.

    The denominator is 0 only while nothing has been written to memory (z = 0,
    hence M = 0 too). Dividing by 1 there instead keeps gradients finite.
    """
    empty = denominator == 0
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, torch.zeros_like(numerator), numerator / safe)


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_inv_freq(config: "InfiniConfig") -> Tensor:
    """The head_dim/2 inverse frequencies in float64: theta^(-2i/d), adjusted
    as Hugging Face's _compute_llama3_parameters does for rope_scaling llama3."""
    d = config.head_dim
    inv_freq = config.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    scaling = config.rope_scaling
    if scaling is None:
        return inv_freq
    factor = float(scaling["factor"])
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_context = float(scaling["original_max_position_embeddings"])
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def apply_rope(x: Tensor, positions: Tensor, inv_freq: Tensor) -> Tensor:
    """HF Llama rotary encoding of x [..., n, d] at `positions` [n].

    Angles are computed in float64 whatever x's dtype, then cast.
    """
    angles = positions.to(torch.float64)[:, None] * inv_freq.to(torch.float64)[None, :]  # [n, d/2]
    angles = torch.cat((angles, angles), dim=-1)  # pairs (i, i + d/2)
    cos = angles.cos().to(x.dtype)
    sin = angles.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # fp32 or higher: float64 stays float64, bf16/f16 go through float32.
        compute = torch.promote_types(x.dtype, torch.float32)
        xc = x.to(compute)
        normed = xc * torch.rsqrt(xc.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * self.weight.to(compute)).to(x.dtype)


class MLP(nn.Module):
    def __init__(self, config: InfiniConfig, biases: Iterable[str]):
        super().__init__()
        h, i = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(h, i, bias="gate_proj" in biases)
        self.up_proj = nn.Linear(h, i, bias="up_proj" in biases)
        self.down_proj = nn.Linear(i, h, bias="down_proj" in biases)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# ----------------------------------------------------------------------------
# Session state


@dataclasses.dataclass
class LayerState:
    memory: Tensor  # M  [B, Hkv, d, d]; M[b, g, i, j]: i = key feature, j = value feature
    norm: Tensor    # z  [B, Hkv, d]
    keys: Tensor    # keys of the current partial segment, before RoPE [B, Hkv, offset, d]
    values: Tensor  # values of the current partial segment [B, Hkv, offset, d]


@dataclasses.dataclass
class InfiniState:
    layers: List[LayerState]
    offset: int = 0    # tokens already in the current segment, 0 .. S-1
    position: int = 0  # tokens read so far

    def clone(self) -> "InfiniState":
        """A fork: the copy can be continued without touching this state."""
        layers = [LayerState(*(t.clone() for t in dataclasses.astuple(s))) for s in self.layers]
        return InfiniState(layers, self.offset, self.position)

    def detach(self) -> "InfiniState":
        """Cuts the autograd history (truncated backpropagation through time)."""
        layers = [LayerState(*(t.detach() for t in dataclasses.astuple(s))) for s in self.layers]
        return InfiniState(layers, self.offset, self.position)

    def memory_numel(self) -> int:
        """Floats of M and z, per batch element: independent of the length read."""
        return sum((s.memory[0].numel() + s.norm[0].numel()) for s in self.layers)

    def window_tokens(self) -> int:
        return self.offset


# ----------------------------------------------------------------------------
# Infini-attention


class InfiniAttention(nn.Module):
    def __init__(self, config: InfiniConfig, biases: Iterable[str]):
        super().__init__()
        self.config = config
        h, d = config.hidden_size, config.head_dim
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = d
        self.q_proj = nn.Linear(h, config.q_size, bias="q_proj" in biases)
        self.k_proj = nn.Linear(h, config.kv_size, bias="k_proj" in biases)
        self.v_proj = nn.Linear(h, config.kv_size, bias="v_proj" in biases)
        self.o_proj = nn.Linear(config.q_size, h, bias="o_proj" in biases)
        if config.qk_norm:  # Qwen3: one [d] weight each, shared by the heads
            self.q_norm = RMSNorm(d, config.rms_norm_eps)
            self.k_norm = RMSNorm(d, config.rms_norm_eps)
        self.memory_gate = nn.Parameter(torch.zeros(self.num_heads))  # beta_h, one per query head
        # Memory off (a plain checkpoint without gates): A = A_dot, nothing folded.
        self.memory_enabled = True

    def empty_state(self, batch: int, dtype: torch.dtype, device) -> LayerState:
        g, d = self.num_kv_heads, self.head_dim
        memory_dtype = torch.promote_types(dtype, torch.float32)  # M, z are fp32 or higher
        return LayerState(
            memory=torch.zeros(batch, g, d, d, dtype=memory_dtype, device=device),
            norm=torch.zeros(batch, g, d, dtype=memory_dtype, device=device),
            keys=torch.zeros(batch, g, 0, d, dtype=dtype, device=device),
            values=torch.zeros(batch, g, 0, d, dtype=dtype, device=device),
        )

    def _per_query_head(self, t: Tensor) -> Tensor:
        """[B, Hkv, ...] -> [B, H, ...]: query head h reads kv head h // (H / Hkv)."""
        return t.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)

    def _local_attention(self, q: Tensor, keys: Tensor, values: Tensor, offset: int) -> Tensor:
        """Causal dot-product attention inside the segment, RoPE on in-segment offsets.

        q [B, H, n, d] are the queries at offsets offset .. offset+n-1; keys and
        values [B, Hkv, offset+n, d] are the segment's tokens up to the last query.
        """
        n, total = q.shape[2], keys.shape[2]
        inv_freq = rope_inv_freq(self.config)  # float64 whatever the module's dtype
        q_pos = torch.arange(offset, offset + n, device=q.device)
        k_pos = torch.arange(0, total, device=q.device)
        q_rot = apply_rope(q, q_pos, inv_freq)
        k_rot = self._per_query_head(apply_rope(keys, k_pos, inv_freq))
        v = self._per_query_head(values)
        scores = q_rot @ k_rot.transpose(-1, -2) / math.sqrt(self.head_dim)  # [B, H, n, total]
        future = k_pos[None, :] > q_pos[:, None]
        scores = scores.masked_fill(future, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v

    def _memory_retrieval(self, q: Tensor, memory: Tensor, norm: Tensor) -> Tensor:
        """A_mem = sigma(q) M / (sigma(q) z), q without RoPE; 0 while z = 0."""
        sq = sigma(q.to(memory.dtype))
        numerator = sq @ self._per_query_head(memory)                      # [B, H, n, d]
        denominator = sq @ self._per_query_head(norm).unsqueeze(-1)        # [B, H, n, 1]
        return safe_divide(numerator, denominator).to(q.dtype)

    def _memory_update(self, memory: Tensor, norm: Tensor, keys: Tensor,
                       values: Tensor) -> Tuple[Tensor, Tensor]:
        """Writes one complete segment (keys, values [B, Hkv, S, d], no RoPE)."""
        sk = sigma(keys.to(memory.dtype))
        v = values.to(memory.dtype)
        if self.config.memory_update == "delta":
            # What memory already returns for each key, with M, z before the update.
            retrieved = safe_divide(sk @ memory, sk @ norm.unsqueeze(-1))
            v = v - retrieved
        memory = memory + sk.transpose(-1, -2) @ v
        norm = norm + sk.sum(dim=-2)
        return memory, norm

    def forward(self, x: Tensor, state: LayerState, offset: int) -> Tuple[Tensor, LayerState]:
        """x [B, T, hidden] normalised input; `offset` tokens of the current segment
        are already in `state`. Returns the attention output and the new state."""
        b, t, _ = x.shape
        S = self.config.segment_size
        d = self.head_dim
        q = self.q_proj(x).view(b, t, self.num_heads, d).transpose(1, 2)      # [B, H, T, d]
        k = self.k_proj(x).view(b, t, self.num_kv_heads, d).transpose(1, 2)   # [B, Hkv, T, d]
        v = self.v_proj(x).view(b, t, self.num_kv_heads, d).transpose(1, 2)
        if self.config.qk_norm:  # before RoPE, the memory and the window
            q, k = self.q_norm(q), self.k_norm(k)
        gate = torch.sigmoid(self.memory_gate).view(1, self.num_heads, 1, 1).to(x.dtype)

        memory, norm, seg_keys, seg_values = state.memory, state.norm, state.keys, state.values
        outputs = []
        start = 0
        while start < t:
            # The next piece stays inside one segment.
            n = min(S - offset, t - start)
            q_piece = q[:, :, start:start + n]
            seg_keys = torch.cat((seg_keys, k[:, :, start:start + n]), dim=2)
            seg_values = torch.cat((seg_values, v[:, :, start:start + n]), dim=2)

            a_dot = self._local_attention(q_piece, seg_keys, seg_values, offset)
            if self.memory_enabled:
                a_mem = self._memory_retrieval(q_piece, memory, norm)  # earlier segments only
                outputs.append(gate * a_mem + (1 - gate) * a_dot)
            else:
                outputs.append(a_dot)

            offset += n
            start += n
            if offset == S:  # segment complete: write it, start a new window
                if self.memory_enabled:
                    memory, norm = self._memory_update(memory, norm, seg_keys, seg_values)
                seg_keys = seg_keys[:, :, :0]
                seg_values = seg_values[:, :, :0]
                offset = 0

        attended = torch.cat(outputs, dim=2).transpose(1, 2).reshape(b, t, self.num_heads * d)
        return self.o_proj(attended), LayerState(memory, norm, seg_keys, seg_values)


class DecoderLayer(nn.Module):
    def __init__(self, config: InfiniConfig, biases: Iterable[str]):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = InfiniAttention(config, biases)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config, biases)

    def forward(self, x: Tensor, state: LayerState, offset: int) -> Tuple[Tensor, LayerState]:
        attended, state = self.self_attn(self.input_layernorm(x), state, offset)
        h = x + attended
        return h + self.mlp(self.post_attention_layernorm(h)), state


class InfiniModel(nn.Module):
    """The `model.` part: embeddings, layers, final norm."""

    def __init__(self, config: InfiniConfig, biases: Iterable[str]):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, biases) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class InfiniForCausalLM(nn.Module):
    def __init__(self, config: InfiniConfig, biases: Iterable[str] = (), memory: bool = True):
        """`biases`: short names of the linears that carry a bias, e.g.
        {"q_proj", "k_proj", "v_proj"} for Qwen2; "lm_head" allowed too.
        `memory=False`: memory off, local attention only (a plain checkpoint
        loaded without a gate value, as the engine runs it)."""
        super().__init__()
        biases = frozenset(biases)
        unknown = biases - set(LINEAR_NAMES) - {"lm_head"}
        if unknown:
            raise ValueError(f"unknown linear names for biases: {sorted(unknown)}")
        self.config = config
        self.biases = biases
        self.model = InfiniModel(config, biases)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias="lm_head" in biases)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.memory = memory
        for layer in self.model.layers:
            layer.self_attn.memory_enabled = memory

    def new_state(self, batch: int = 1) -> InfiniState:
        p = self.model.embed_tokens.weight
        return InfiniState([layer.self_attn.empty_state(batch, p.dtype, p.device)
                            for layer in self.model.layers])

    def forward(self, input_ids: Tensor, state: Optional[InfiniState] = None
                ) -> Tuple[Tensor, InfiniState]:
        """input_ids [B, T] (or [T]) -> logits [B, T, vocab] (or [T, vocab]), new state.

        All batch elements share the stream position. `state` is not modified.
        """
        squeeze = input_ids.dim() == 1
        if squeeze:
            input_ids = input_ids.unsqueeze(0)
        if state is None:
            state = self.new_state(input_ids.shape[0])
        x = self.model.embed_tokens(input_ids)
        new_layers = []
        for layer, layer_state in zip(self.model.layers, state.layers):
            x, layer_state = layer(x, layer_state, state.offset)
            new_layers.append(layer_state)
        logits = self.lm_head(self.model.norm(x))
        t = input_ids.shape[1]
        new_state = InfiniState(new_layers, (state.offset + t) % self.config.segment_size,
                                state.position + t)
        return (logits.squeeze(0) if squeeze else logits), new_state

    def checkpoint_tensors(self) -> Dict[str, Tensor]:
        """state_dict without lm_head.weight when tied, and without the memory
        gates with memory off: what model.safetensors holds."""
        tensors = dict(self.state_dict())
        if self.config.tie_word_embeddings:
            tensors.pop("lm_head.weight", None)
        if not self.memory:
            tensors = {k: v for k, v in tensors.items() if not k.endswith(".memory_gate")}
        return tensors


# ----------------------------------------------------------------------------
# Checkpoints


INDEX_FILE = "model.safetensors.index.json"


class _skip_init:
    """Builds modules without their random initialisation (loading overwrites
    every parameter; a 0.5B-parameter model otherwise spends most of its
    load time drawing numbers that are thrown away)."""

    def __enter__(self):
        self.saved = (nn.Linear.reset_parameters, nn.Embedding.reset_parameters)
        nn.Linear.reset_parameters = lambda module: None
        nn.Embedding.reset_parameters = lambda module: None

    def __exit__(self, *exc):
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = self.saved


def read_checkpoint_tensors(directory: str) -> Dict[str, Tensor]:
    """Every tensor of model.safetensors, or of the shards the index names."""
    single = os.path.join(directory, "model.safetensors")
    index = os.path.join(directory, INDEX_FILE)
    if os.path.isfile(single) and os.path.isfile(index):
        raise ValueError(f"{directory}: both model.safetensors and {INDEX_FILE}")
    if os.path.isfile(single):
        return read_safetensors(single)
    with open(index, "r", encoding="utf-8") as f:
        weight_map = json.load(f)["weight_map"]
    tensors: Dict[str, Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        part = read_safetensors(os.path.join(directory, shard))
        listed = {name for name, file in weight_map.items() if file == shard}
        if set(part) != listed:
            raise ValueError(f"{directory}/{shard}: tensors differ from the index")
        tensors.update(part)
    return tensors


def load_checkpoint(directory: str, dtype: torch.dtype = torch.float64,
                    gate_logit: Optional[float] = None) -> InfiniForCausalLM:
    """Loads config.json + the weights (single file or shards), cast to `dtype`.

    A plain checkpoint has no memory_gate tensors: it loads with memory off
    (local attention only, as the engine runs it by default), or with every
    head given `gate_logit` (untrained memory) when that is passed.
    """
    config = load_config(directory)
    tensors = read_checkpoint_tensors(directory)
    # Some Transformers versions saved the rotary buffers; they are recomputed.
    tensors = {k: v for k, v in tensors.items() if not k.endswith(".rotary_emb.inv_freq")}
    biases = config.config_biases()
    if biases is None:
        biases = {name.split(".")[-2] for name in tensors if name.endswith(".bias")}
    gates = [f"model.layers.{i}.self_attn.memory_gate" for i in range(config.num_hidden_layers)]
    has_gates = all(name in tensors for name in gates)
    with _skip_init():  # every parameter is overwritten below
        model = InfiniForCausalLM(config, biases, memory=has_gates or gate_logit is not None).to(dtype)
    for name in gates:
        if name not in tensors:
            tensors[name] = torch.full((config.num_attention_heads,),
                                       float(gate_logit if gate_logit is not None else 0.0))
    if config.tie_word_embeddings:
        if "lm_head.weight" in tensors and not torch.equal(tensors["lm_head.weight"],
                                                           tensors["model.embed_tokens.weight"]):
            raise ValueError(f"{directory}: lm_head.weight differs from the embeddings but "
                             "tie_word_embeddings is true")
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    expected = set(model.state_dict())
    missing, unexpected = expected - set(tensors), set(tensors) - expected
    if missing or unexpected:
        raise ValueError(f"{directory}: missing tensors {sorted(missing)}, unexpected {sorted(unexpected)}")
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if tuple(tensors[name].shape) != tuple(param.shape):
                raise ValueError(f"{directory}: {name} has shape {list(tensors[name].shape)}, "
                                 f"config says {list(param.shape)}")
            param.copy_(tensors[name])  # converted element by element, no float64 temporary
            tensors[name] = None  # let the file's copy go as the model fills
    return model


def save_checkpoint(directory: str, model: InfiniForCausalLM, config: Optional[InfiniConfig] = None,
                    weight_dtype: torch.dtype = torch.float32) -> None:
    """Writes config.json and model.safetensors (weights in `weight_dtype`)."""
    config = config or model.config
    os.makedirs(directory, exist_ok=True)
    write_config(directory, config)
    write_safetensors(os.path.join(directory, "model.safetensors"), model.checkpoint_tensors(),
                      weight_dtype)


def random_model(config: InfiniConfig, seed: int, init_std: float = 0.1, embed_std: float = 1.0,
                 weight_dtype: torch.dtype = torch.float32, biases: Optional[Iterable[str]] = None,
                 gate_std: float = 1.0, norm_std: float = 0.1,
                 dtype: torch.dtype = torch.float64, memory: bool = True) -> InfiniForCausalLM:
    """Random weights, reproducible from `seed`.

    Embeddings normal(0, embed_std); linear weights and biases normal(0, init_std);
    norm weights 1 + normal(0, norm_std); memory_gate normal(0, gate_std) so the
    gate differs per head. Every value is rounded to `weight_dtype`, so the model
    equals what save_checkpoint(..., weight_dtype) writes; returned in `dtype`.
    """
    if biases is None:  # what config.json implies; none for the project's own format
        biases = config.config_biases() or ()
    model = InfiniForCausalLM(config, biases, memory=memory).to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():  # tied lm_head appears once
            values = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if (name.endswith("layernorm.weight") or name == "model.norm.weight"
                    or name.endswith("_norm.weight")):
                values = 1.0 + norm_std * values
            elif name.endswith("memory_gate"):
                values = gate_std * values
            elif name == "model.embed_tokens.weight":
                values = embed_std * values
            else:
                values = init_std * values
            param.copy_(values.to(weight_dtype).to(torch.float64))
    return model.to(dtype)


def memory_tensor(state: InfiniState, batch_index: int = 0) -> Tensor:
    """Flat memory of one stream: per layer M [Hkv, d, d] then z [Hkv, d]."""
    parts = []
    for layer in state.layers:
        parts.append(layer.memory[batch_index].reshape(-1))
        parts.append(layer.norm[batch_index].reshape(-1))
    return torch.cat(parts)

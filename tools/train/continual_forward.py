"""The training forward pass of continual training: fast_forward.py's
layer-by-layer order, with the compressive memory handed in and out.

fast_forward.forward always starts a document from empty memory and cuts no
gradient, which is what the demo recipe needs. Continual training of a
converted checkpoint also needs:

- the memory carried from one chunk of a document to the next, so a long
  document can be trained in chunks of segments with the gradient cut
  between them (truncated backpropagation through time): `memory` in and out;
- the memory's products in fp32 even under bf16 autocast (public attempts
  found the memory's sums are what bf16 spoils first): `memory_fp32`;
- per-layer activation checkpointing for models whose activations do not
  fit (a 1B model on documents of 16 segments of 2,048 tokens).

The maths is the design page's (infini-attention.md) and fast_forward's; with
memory=None and memory_fp32=False the operations are fast_forward's own, and
test_continual_forward.py checks the logits and memory against the reference
in float64, chunked and whole.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from infini_reference import InfiniForCausalLM, rope_inv_freq, sigma

# Memory of one layer: [B, G, d, d+1], M in columns 0..d-1 and z in column d.
Memory = Tensor


# RoPE by in-segment offset, with the reference's frequencies (plain, or
# Llama 3.x's rope_scaling "llama3").
def _rope_tables(cfg, dtype, device) -> Tuple[Tensor, Tensor]:
    S, inv_freq = cfg.segment_size, rope_inv_freq(cfg)
    angles = torch.arange(S, dtype=torch.float64)[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().to(dtype).to(device), angles.sin().to(dtype).to(device)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _memory_ops(sk: Tensor, v: Tensor, sq: Tensor, memory: Memory, delta: bool, rep: int,
                fp32: bool) -> Tuple[Tensor, Memory]:
    """Scan over the segments of sk, v [B, G, n, S, d]; read for sq [B, H, n, S, d].

    Returns A_mem [B, H, n, S, d] (before each segment's own write) and the
    memory after the last segment. z is 0 only while nothing has been
    written, and then M is 0 too: the clamped division gives 0 there.
    """
    d = sk.shape[-1]
    total = memory.dtype  # fp32 (fp64 in the float64 tests)
    work = torch.promote_types(sk.dtype, torch.float32) if fp32 else sk.dtype
    sk, v, sq = sk.to(work), v.to(work), sq.to(work)
    ones = torch.ones(*v.shape[:2], v.shape[3], 1, dtype=work, device=v.device)
    before = []
    for k_s, v_s in zip(sk.unbind(dim=2), v.unbind(dim=2)):
        before.append(memory)
        if delta:
            read = (k_s @ memory.to(work)).to(total)                        # [B, G, S, d+1]
            v_s = (v_s.to(total) - read[..., :d] / read[..., d:].clamp_min(1e-30)).to(work)
        memory = memory + (k_s.transpose(-1, -2) @ torch.cat((v_s, ones), dim=-1)).to(total)
    stacked = torch.stack(before, dim=2)                                    # [B, G, n, d, d+1]
    if rep > 1:
        stacked = stacked.repeat_interleave(rep, dim=1)
    read = (sq @ stacked.to(work)).to(total)                                # [B, H, n, S, d+1]
    return read[..., :d] / read[..., d:].clamp_min(1e-30), memory


def _layer(layer, x: Tensor, memory: Memory, cfg, cos: Tensor, sin: Tensor, causal: Tensor,
           gate_override: Optional[float], memory_fp32: bool) -> Tuple[Tensor, Memory]:
    B, T, _ = x.shape
    S, d = cfg.segment_size, cfg.head_dim
    n = T // S
    H, G = cfg.num_attention_heads, cfg.num_key_value_heads
    rep = H // G
    attn = layer.self_attn
    h = layer.input_layernorm(x)
    q = attn.q_proj(h).view(B, n, S, H, d).permute(0, 3, 1, 2, 4)   # [B, H, n, S, d]
    k = attn.k_proj(h).view(B, n, S, G, d).permute(0, 3, 1, 2, 4)   # [B, G, n, S, d]
    v = attn.v_proj(h).view(B, n, S, G, d).permute(0, 3, 1, 2, 4)
    if cfg.qk_norm:  # Qwen3: before RoPE, the memory and the window, as the reference
        q, k = attn.q_norm(q), attn.k_norm(k)

    q_rot, k_rot, v_h = _rotate(q, cos, sin), _rotate(k, cos, sin), v
    if rep > 1:
        k_rot, v_h = k_rot.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    compute = torch.promote_types(x.dtype, torch.float32)
    scores = (q_rot @ k_rot.transpose(-1, -2)) / math.sqrt(d)
    scores = scores.to(compute).masked_fill(causal, float("-inf"))
    a_dot = torch.softmax(scores, dim=-1).to(v.dtype) @ v_h

    sk = sigma(k.to(compute)).to(k.dtype)
    sq = sigma(q.to(compute)).to(q.dtype)
    device_type = x.device.type
    with torch.autocast(device_type=device_type, enabled=not memory_fp32):
        a_mem, memory = _memory_ops(sk, v, sq, memory, cfg.memory_update == "delta", rep,
                                    memory_fp32)
    a_mem = a_mem.to(a_dot.dtype)
    gate = torch.sigmoid(attn.memory_gate).view(1, H, 1, 1, 1).to(a_dot.dtype)
    if gate_override is not None:
        gate = torch.full_like(gate, gate_override)
    mixed = gate * a_mem + (1 - gate) * a_dot
    x = x + attn.o_proj(mixed.permute(0, 2, 3, 1, 4).reshape(B, T, H * d))
    return x + layer.mlp(layer.post_attention_layernorm(x)), memory


def empty_memory(model: InfiniForCausalLM, batch: int, device) -> List[Memory]:
    cfg = model.config
    d = cfg.head_dim
    dtype = torch.promote_types(model.model.embed_tokens.weight.dtype, torch.float32)
    return [torch.zeros(batch, cfg.num_key_value_heads, d, d + 1, dtype=dtype, device=device)
            for _ in range(cfg.num_hidden_layers)]


def forward(model: InfiniForCausalLM, ids: Tensor, memory: Optional[List[Memory]] = None,
            gate_override: Optional[float] = None, memory_fp32: bool = True,
            grad_checkpoint: bool = False) -> Tuple[Tensor, List[Memory]]:
    """ids [B, T], T a multiple of segment_size, continuing from `memory`
    (None: an empty memory) -> logits [B, T, vocab] and the memory after."""
    cfg = model.config
    B, T = ids.shape
    S = cfg.segment_size
    if T % S != 0:
        raise ValueError(f"length {T} is not a multiple of the segment size {S}")
    x = model.model.embed_tokens(ids)
    if memory is None:
        memory = empty_memory(model, B, ids.device)
    cos, sin = _rope_tables(cfg, x.dtype, x.device)
    causal = torch.ones(S, S, dtype=torch.bool, device=x.device).triu(1)
    after = []
    for layer, m in zip(model.model.layers, memory):
        if grad_checkpoint and torch.is_grad_enabled():
            x, m = checkpoint(_layer, layer, x, m, cfg, cos, sin, causal, gate_override,
                              memory_fp32, use_reentrant=False)
        else:
            x, m = _layer(layer, x, m, cfg, cos, sin, causal, gate_override, memory_fp32)
        after.append(m)
    return model.lm_head(model.model.norm(x)), after

"""The reference model's forward pass, reordered for training speed.

`infini_reference.InfiniForCausalLM.forward` walks segment by segment and,
inside each, layer by layer. Within a layer only the compressive memory
carries anything from one segment to the next, so the same maths can run
layer by layer instead: the projections, the local attention and the MLP of
every segment at once (large matrix products), and only the memory update as
a loop over segments. The parameters are the reference module's own, and
`check_fast_forward.py` proves the logits and final memory equal the
reference's (float64), so the trained weights mean the same thing in the
reference, here and in the engine.

Documents of a batch start together at position 0 and are padded at the end
to a whole number of segments (padding only follows the real tokens, so it
never influences them).
"""

from __future__ import annotations

import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import Tensor

from infini_reference import InfiniForCausalLM, sigma


def _rope_tables(S: int, d: int, theta: float, dtype, device) -> Tuple[Tensor, Tensor]:
    inv_freq = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.arange(S, dtype=torch.float64)[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().to(dtype).to(device), angles.sin().to(dtype).to(device)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def memory_scan(sk: Tensor, v: Tensor, delta: bool, memory_dtype) -> Tuple[Tensor, Tensor]:
    """The memory recurrence over segments, with z kept as column d of an
    augmented memory [M | z] (d x (d+1)): one product then gives both the
    numerator sigma(k) M and the denominator sigma(k) z, and one product adds
    sigma(k)^T [v | 1] to both.

    sk = sigma(k), v: [B, G, n, S, d]. Returns the augmented memory before
    each segment [B, G, n, d, d+1] and after the last [B, G, d, d+1].
    Division is plain: z is 0 only before the first segment, where M is 0 and
    nothing is read (safe_divide's 0), and sigma > 0 makes it positive after.
    """
    B, G, n, S, d = sk.shape
    ones = torch.ones(B, G, S, 1, dtype=v.dtype, device=v.device)
    memory = torch.zeros(B, G, d, d + 1, dtype=memory_dtype, device=sk.device)
    before = []
    # unbind, not indexing: the backward of sk[:, :, s] would write a full-size
    # zero gradient per segment (quadratic in the number of segments).
    for s, (k_s, v_s) in enumerate(zip(sk.unbind(dim=2), v.unbind(dim=2))):
        before.append(memory)
        if delta and s > 0:
            read = (k_s @ memory.to(k_s.dtype)).to(memory_dtype)         # [B, G, S, d+1]
            v_s = (v_s.to(memory_dtype) - read[..., :d] / read[..., d:]).to(k_s.dtype)
        memory = memory + (k_s.transpose(-1, -2) @ torch.cat((v_s, ones), dim=-1)).to(memory_dtype)
    return torch.stack(before, dim=2), memory


def memory_read(sq: Tensor, before: Tensor, memory_dtype) -> Tensor:
    """A_mem = sigma(q) M / sigma(q) z per segment; 0 in the first segment."""
    d = sq.shape[-1]
    read = (sq[:, :, 1:] @ before[:, :, 1:].to(sq.dtype)).to(memory_dtype)  # [B, H, n-1, S, d+1]
    first = torch.zeros_like(sq[:, :, :1], dtype=memory_dtype)
    return torch.cat((first, read[..., :d] / read[..., d:]), dim=2)


def forward(model: InfiniForCausalLM, ids: Tensor, gate_override: float = None,
            return_memory: bool = False, checkpoint_layers: bool = False):
    """ids [B, T], T a multiple of segment_size -> logits [B, T, vocab]
    (and, with return_memory, per layer the final (M, z)).

    checkpoint_layers: keep only each layer's input for the backward pass and
    recompute the rest (one more forward, a third more time): the local
    attention's scores alone are 4 x T x S floats per layer, 1 GiB per layer
    for a 64K-token document in segments of 256."""
    cfg = model.config
    B, T = ids.shape
    S, d = cfg.segment_size, cfg.head_dim
    if T % S != 0:
        raise ValueError(f"length {T} is not a multiple of the segment size {S}")
    x = model.model.embed_tokens(ids)
    compute = torch.promote_types(x.dtype, torch.float32)
    cos, sin = _rope_tables(S, d, cfg.rope_theta, x.dtype, x.device)
    causal = torch.ones(S, S, dtype=torch.bool, device=x.device).triu(1)
    finals = []
    for layer in model.model.layers:
        if checkpoint_layers and torch.is_grad_enabled():
            x, last = torch.utils.checkpoint.checkpoint(
                _layer, layer, cfg, x, cos, sin, causal, compute, gate_override)
        else:
            x, last = _layer(layer, cfg, x, cos, sin, causal, compute, gate_override)
        finals.append((last[..., :d], last[..., d]))
    logits = model.lm_head(model.model.norm(x))
    return (logits, finals) if return_memory else logits


def _layer(layer, cfg, x: Tensor, cos: Tensor, sin: Tensor, causal: Tensor, compute,
           gate_override: float = None) -> Tuple[Tensor, Tensor]:
    """One decoder layer over the whole document -> (x, final augmented memory [M | z])."""
    B, T = x.shape[0], x.shape[1]
    S, d = cfg.segment_size, cfg.head_dim
    n = T // S
    H, G = cfg.num_attention_heads, cfg.num_key_value_heads
    memory_dtype = compute
    attn = layer.self_attn
    h = layer.input_layernorm(x)
    q = attn.q_proj(h).view(B, n, S, H, d).permute(0, 3, 1, 2, 4)   # [B, H, n, S, d]
    k = attn.k_proj(h).view(B, n, S, G, d).permute(0, 3, 1, 2, 4)   # [B, G, n, S, d]
    v = attn.v_proj(h).view(B, n, S, G, d).permute(0, 3, 1, 2, 4)
    rep = H // G

    # Local causal attention inside every segment at once, RoPE by in-segment offset.
    q_rot = _rotate(q, cos, sin)
    k_rot, v_h = _rotate(k, cos, sin), v
    if rep > 1:
        k_rot, v_h = k_rot.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = (q_rot @ k_rot.transpose(-1, -2)) / math.sqrt(d)        # [B, H, n, S, S]
    scores = scores.to(compute).masked_fill(causal, float("-inf"))
    a_dot = torch.softmax(scores, dim=-1).to(v.dtype) @ v_h

    # Memory: the recurrence over segments, then retrieval for all of them.
    sk = sigma(k.to(compute)).to(k.dtype)
    before, last = memory_scan(sk, v, cfg.memory_update == "delta", memory_dtype)
    sq = sigma(q.to(compute)).to(q.dtype)
    if rep > 1:
        before = before.repeat_interleave(rep, dim=1)
    a_mem = memory_read(sq, before, memory_dtype).to(a_dot.dtype)

    gate_logit = attn.memory_gate
    gate = torch.sigmoid(gate_logit).view(1, H, 1, 1, 1).to(a_dot.dtype)
    if gate_override is not None:
        gate = torch.full_like(gate, gate_override)
    mixed = gate * a_mem + (1 - gate) * a_dot                           # [B, H, n, S, d]
    attended = mixed.permute(0, 2, 3, 1, 4).reshape(B, T, H * d)
    x = x + attn.o_proj(attended)
    x = x + layer.mlp(layer.post_attention_layernorm(x))
    return x, last

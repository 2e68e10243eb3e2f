"""Self-check of the reference; exits non-zero on the first failure.

    /usr/bin/python3 tools/reference/check_reference.py

Checks, on random models in float64:
  - the module against a literal token-by-token, head-by-head transcription of
    docs infini-attention.md (written separately below, sharing only weights);
  - chunked feeding (1, 3, 7, all) equals whole feeding, logits and memory;
  - the memory state does not grow with the length read;
  - delta and linear updates differ;
  - a batch equals its rows fed one by one; a forked state leaves the original alone;
  - gradients reach every parameter through the memory;
  - safetensors and checkpoint round trips (F32, BF16, F16, tied, biases, no gate);
  - the golden vectors in tests/data/golden still match the reference.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infini_reference as ref  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOLERANCE = 1e-10  # relative, float64

failures = []


def check(condition: bool, what: str) -> None:
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def make_config(**overrides) -> ref.InfiniConfig:
    base = dict(vocab_size=89, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                num_attention_heads=6, num_key_value_heads=2, head_dim=10, rms_norm_eps=1e-6,
                rope_theta=10000.0, tie_word_embeddings=False, segment_size=5, memory_update="delta")
    base.update(overrides)
    return ref.InfiniConfig.from_dict(base)


# ----------------------------------------------------------------------------
# A literal transcription of the design page, one token and one head at a time.


def naive_forward(model: ref.InfiniForCausalLM, ids: list):
    c = model.config
    sd = {k: v.to(torch.float64) for k, v in model.state_dict().items()}
    H, G, d, S = c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.segment_size

    def linear(name, x):
        y = sd[name + ".weight"] @ x
        return y + sd[name + ".bias"] if name + ".bias" in sd else y

    def rms(name, x):
        return x / math.sqrt(float((x * x).mean()) + c.rms_norm_eps) * sd[name]

    def inv_freq(i):
        f = c.rope_theta ** (-2.0 * i / d)
        if c.rope_scaling is None:
            return f
        # Llama 3 (HF _compute_llama3_parameters), scalar by scalar.
        r = c.rope_scaling
        old = r["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        if wavelen < old / r["high_freq_factor"]:
            return f
        if wavelen > old / r["low_freq_factor"]:
            return f / r["factor"]
        smooth = (old / wavelen - r["low_freq_factor"]) / (r["high_freq_factor"] - r["low_freq_factor"])
        return (1 - smooth) * f / r["factor"] + smooth * f

    def rope(x, pos):
        out = x.clone()
        for i in range(d // 2):
            angle = pos * inv_freq(i)
            a, b = x[i], x[i + d // 2]
            out[i] = a * math.cos(angle) - b * math.sin(angle)
            out[i + d // 2] = b * math.cos(angle) + a * math.sin(angle)
        return out

    def sig(x):
        return torch.where(x > 0, x + 1, torch.exp(x))  # ELU(x) + 1

    xs = [sd["model.embed_tokens.weight"][i].clone() for i in ids]
    memories = []
    for layer in range(c.num_hidden_layers):
        p = f"model.layers.{layer}."
        M = [torch.zeros(d, d, dtype=torch.float64) for _ in range(G)]
        z = [torch.zeros(d, dtype=torch.float64) for _ in range(G)]
        qs, ks, vs = [], [], []
        outs = []
        for t, x in enumerate(xs):
            n = rms(p + "input_layernorm.weight", x)
            q_heads = linear(p + "self_attn.q_proj", n).view(H, d)
            k_heads = linear(p + "self_attn.k_proj", n).view(G, d)
            if c.qk_norm:  # Qwen3: each head on its own, before everything else
                q_heads = torch.stack([rms(p + "self_attn.q_norm.weight", h) for h in q_heads])
                k_heads = torch.stack([rms(p + "self_attn.k_norm.weight", h) for h in k_heads])
            qs.append(q_heads)
            ks.append(k_heads)
            vs.append(linear(p + "self_attn.v_proj", n).view(G, d))
            k_seg, j = (t // S) * S, t % S
            heads = []
            for h in range(H):
                g = h // (H // G)
                q = qs[t][h]
                # 1. local attention, RoPE at offsets in the segment
                qr = rope(q, j)
                scores = torch.stack([qr @ rope(ks[u][g], u - k_seg) / math.sqrt(d)
                                      for u in range(k_seg, t + 1)])
                weights = torch.softmax(scores, dim=0)
                a_dot = sum(weights[u - k_seg] * vs[u][g] for u in range(k_seg, t + 1))
                # 2. memory retrieval, no RoPE
                den = sig(q) @ z[g]
                a_mem = (sig(q) @ M[g]) / den if den != 0 else torch.zeros(d, dtype=torch.float64)
                # 3. gate
                beta = torch.sigmoid(sd[p + "self_attn.memory_gate"][h])
                heads.append(beta * a_mem + (1 - beta) * a_dot)
            h_out = x + linear(p + "self_attn.o_proj", torch.cat(heads))
            m = rms(p + "post_attention_layernorm.weight", h_out)
            mlp = linear(p + "mlp.down_proj",
                         F.silu(linear(p + "mlp.gate_proj", m)) * linear(p + "mlp.up_proj", m))
            outs.append(h_out + mlp)
            if j == S - 1:  # segment complete: update with M, z from before
                for g in range(G):
                    M_before, z_before = M[g].clone(), z[g].clone()
                    for u in range(k_seg, t + 1):
                        sk = sig(ks[u][g])
                        v = vs[u][g]
                        if c.memory_update == "delta":
                            den = sk @ z_before
                            if den != 0:
                                v = v - (sk @ M_before) / den
                        M[g] = M[g] + torch.outer(sk, v)
                        z[g] = z[g] + sk
        xs = outs
        memories.append((M, z))
    head = sd["model.embed_tokens.weight"] if c.tie_word_embeddings else sd["lm_head.weight"]
    logits = torch.stack([head @ rms("model.norm.weight", x) for x in xs])
    if "lm_head.bias" in sd:
        logits = logits + sd["lm_head.bias"]
    flat = torch.cat([torch.cat([torch.cat([m.reshape(-1) for m in M]), torch.cat(z)])
                      for M, z in memories])
    return logits, flat


def feed_in_chunks(model, ids: torch.Tensor, size: int):
    state = model.new_state(ids.shape[0])
    pieces = []
    for start in range(0, ids.shape[1], size):
        logits, state = model(ids[:, start:start + size], state)
        pieces.append(logits)
    return torch.cat(pieces, dim=1), state


# ----------------------------------------------------------------------------


FAMILY_OVERRIDES = {
    "qwen2": dict(architectures=["Qwen2ForCausalLM"], rope_theta=1e6),
    "qwen3": dict(architectures=["Qwen3ForCausalLM"], rope_theta=1e6, head_dim=12),
    "llama3": dict(architectures=["LlamaForCausalLM"], segment_size=9, rope_theta=10000.0,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}


def check_families_against_naive():
    """Qwen2 biases, Qwen3 q/k norms, Llama 3 rope scaling: module == transcription."""
    for family, overrides in FAMILY_OVERRIDES.items():
        config = make_config(**overrides)
        model = ref.random_model(config, seed=11, init_std=0.15, weight_dtype=torch.float64)
        names = set(model.state_dict())
        if family == "qwen2":
            check("model.layers.0.self_attn.q_proj.bias" in names
                  and "model.layers.0.self_attn.o_proj.bias" not in names, "qwen2: q/k/v biases, no o bias")
        if family == "qwen3":
            check("model.layers.1.self_attn.k_norm.weight" in names, "qwen3: q/k norm weights")
        ids = torch.randint(0, config.vocab_size, (23,), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            logits, state = model(ids)
        naive_logits, naive_memory = naive_forward(model, ids.tolist())
        check(rel_diff(logits, naive_logits) < TOLERANCE and
              rel_diff(ref.memory_tensor(state), naive_memory) < TOLERANCE,
              f"{family}: module == literal transcription ({rel_diff(logits, naive_logits):.2g})")
        if family == "llama3":
            # The scaling must matter at these offsets, or the check proves nothing.
            plain = make_config(**{k: v for k, v in overrides.items() if k != "rope_scaling"})
            other = ref.InfiniForCausalLM(plain, model.biases).to(torch.float64)
            other.load_state_dict(model.state_dict())
            with torch.no_grad():
                plain_logits, _ = other(ids)
            check(float((plain_logits - logits).abs().max()) > 1e-2, "llama3: scaling changes the logits")


def check_against_naive():
    for update in ("linear", "delta"):
        for overrides in (dict(), dict(num_key_value_heads=4, tie_word_embeddings=True, head_dim=None,
                                       hidden_size=48, num_attention_heads=4)):
            config = make_config(memory_update=update, **overrides)
            model = ref.random_model(config, seed=7, init_std=0.15, biases=("q_proj", "k_proj", "v_proj"),
                                     weight_dtype=torch.float64)
            ids = torch.randint(0, config.vocab_size, (23,), generator=torch.Generator().manual_seed(3))
            with torch.no_grad():
                logits, state = model(ids)
            naive_logits, naive_memory = naive_forward(model, ids.tolist())
            what = f"{update}, H={config.num_attention_heads} Hkv={config.num_key_value_heads} d={config.head_dim}"
            check(rel_diff(logits, naive_logits) < TOLERANCE,
                  f"module == literal transcription, logits ({what}): {rel_diff(logits, naive_logits):.2g}")
            check(rel_diff(ref.memory_tensor(state), naive_memory) < TOLERANCE,
                  f"module == literal transcription, memory ({what})")


def check_chunking():
    for update in ("linear", "delta"):
        config = make_config(memory_update=update)
        model = ref.random_model(config, seed=11, init_std=0.15, weight_dtype=torch.float64)
        ids = torch.randint(0, config.vocab_size, (2, 37), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            whole, whole_state = model(ids)
            for size in (1, 3, 7, 37):
                logits, state = feed_in_chunks(model, ids, size)
                ok = (rel_diff(logits, whole) < TOLERANCE
                      and all(rel_diff(ref.memory_tensor(state, b), ref.memory_tensor(whole_state, b)) < TOLERANCE
                              for b in range(2))
                      and state.offset == whole_state.offset == 37 % config.segment_size
                      and all(torch.equal(a.keys, b.keys) for a, b in zip(state.layers, whole_state.layers)))
                check(ok, f"{update}: chunks of {size} == whole (logits, memory, partial segment)")


def check_bounded_state():
    config = make_config()
    model = ref.random_model(config, seed=13, weight_dtype=torch.float64)
    sizes = set()
    with torch.no_grad():
        for length in (3, 5, 17, 120):
            ids = torch.randint(0, config.vocab_size, (1, length), generator=torch.Generator().manual_seed(length))
            _, state = model(ids)
            sizes.add(state.memory_numel())
            check(all(s.keys.shape[2] < config.segment_size for s in state.layers),
                  f"window after {length} tokens holds {state.layers[0].keys.shape[2]} < S tokens")
    check(sizes == {config.memory_floats()},
          f"memory floats independent of length: {sorted(sizes)} == L*Hkv*d*(d+1) = {config.memory_floats()}")


def check_delta_differs():
    linear_config = make_config(memory_update="linear")
    model = ref.random_model(linear_config, seed=17, init_std=0.15, weight_dtype=torch.float64)
    delta_model = ref.InfiniForCausalLM(dataclasses.replace(linear_config, memory_update="delta")).double()
    delta_model.load_state_dict(model.state_dict())
    ids = torch.randint(0, linear_config.vocab_size, (1, 30), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, sa = model(ids)
        b, sb = delta_model(ids)
    S = linear_config.segment_size
    check(torch.equal(a[:, :2 * S], b[:, :2 * S]),
          "delta == linear for the first two segments (first write has z = 0, so same M)")
    diff = float((a - b).abs().max())
    check(diff > 0.05, f"delta != linear afterwards: max logit difference {diff:.3g}")
    check(rel_diff(ref.memory_tensor(sa), ref.memory_tensor(sb)) > 1e-3, "delta memory != linear memory")


def check_batch_and_fork():
    config = make_config()
    model = ref.random_model(config, seed=19, weight_dtype=torch.float64)
    ids = torch.randint(0, config.vocab_size, (3, 19), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        batched, batch_state = model(ids)
        ok = True
        for b in range(3):
            single, single_state = model(ids[b])
            ok &= rel_diff(batched[b], single) < TOLERANCE
            ok &= rel_diff(ref.memory_tensor(batch_state, b), ref.memory_tensor(single_state)) < TOLERANCE
        check(ok, "batch of 3 == rows fed one by one")

        doc, state = model(ids[:1, :12])
        before = ref.memory_tensor(state).clone()
        fork = state.clone()
        _, _ = model(ids[:1, 12:], fork)
        check(torch.equal(before, ref.memory_tensor(state)) and state.offset == 12 % config.segment_size,
              "continuing a fork leaves the document state unchanged")


def check_autograd():
    config = make_config()
    model = ref.random_model(config, seed=23, init_std=0.1, weight_dtype=torch.float32, dtype=torch.float32)
    ids = torch.randint(0, config.vocab_size, (2, 17), generator=torch.Generator().manual_seed(4))
    logits, _ = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), ids[:, 1:].reshape(-1))
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    check(all(g is not None and torch.isfinite(g).all() for g in grads.values()),
          "every parameter gets a finite gradient")
    check(all(float(grads[f"model.layers.{i}.self_attn.memory_gate"].abs().min()) > 0
              for i in range(config.num_hidden_layers)), "every memory gate gets a nonzero gradient")
    # Tokens 0..4 appear only in the first segment; the last position is in the
    # fourth, so their embeddings reach its logits only through the memory.
    S = config.segment_size
    ids = torch.cat((torch.arange(S), torch.randint(S, config.vocab_size, (3 * S + 1,),
                                                     generator=torch.Generator().manual_seed(6))))
    model.zero_grad()
    logits, _ = model(ids)
    logits[-1].sum().backward()
    first = model.model.embed_tokens.weight.grad[:S]
    check(bool((first.abs().sum(-1) > 0).all()), "gradient flows through the memory to first-segment tokens")


def check_files():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.safetensors")
        values = {"a": torch.randn(3, 5, dtype=torch.float64), "b.c": torch.randn(7, dtype=torch.float64)}
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            ref.write_safetensors(path, values, dtype)
            back = ref.read_safetensors(path)
            check(all(back[k].dtype == dtype and torch.equal(back[k], v.to(dtype)) for k, v in values.items()),
                  f"safetensors round trip {dtype}")
            with open(path, "rb") as f:
                header_len = int.from_bytes(f.read(8), "little")
            check(header_len % 8 == 0, "header padded to 8 bytes")
        check(torch.equal(ref.read_safetensors(path)["a"].view(torch.int16)[0, 0],
                          torch.tensor(np.frombuffer(values["a"][0, 0].to(torch.float16).numpy().tobytes(),
                                                     "<i2")[0])), "f16 bits little-endian")

        for tied, biases, dtype in ((True, (), torch.bfloat16), (False, ("q_proj", "k_proj", "v_proj"), torch.float16)):
            config = make_config(tie_word_embeddings=tied)
            model = ref.random_model(config, seed=29, biases=biases, weight_dtype=dtype)
            ref.save_checkpoint(tmp, model, config, dtype)
            names = set(ref.read_safetensors(os.path.join(tmp, "model.safetensors")))
            check(("lm_head.weight" in names) != tied, f"lm_head.weight stored iff untied (tied={tied})")
            loaded = ref.load_checkpoint(tmp, torch.float32)
            check(all(torch.equal(loaded.state_dict()[k], v.float()) for k, v in model.state_dict().items()),
                  f"checkpoint round trip {dtype}, tied={tied}, biases={list(biases)}")
            check((loaded.lm_head.weight is loaded.model.embed_tokens.weight) == tied,
                  "tie survives loading and dtype conversion")

        # A plain Llama checkpoint: no memory_gate tensors.
        tensors = ref.read_safetensors(os.path.join(tmp, "model.safetensors"))
        for name in [n for n in tensors if n.endswith("memory_gate")]:
            del tensors[name]
        ref.write_safetensors(os.path.join(tmp, "model.safetensors"), tensors, torch.float32)
        off = ref.load_checkpoint(tmp)
        check(not off.memory and not off.model.layers[0].self_attn.memory_enabled,
              "without memory_gate and gate_logit: memory off")
        ids = torch.randint(0, off.config.vocab_size, (12,), generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            _, off_state = off(ids)
        check(float(ref.memory_tensor(off_state).abs().max()) == 0.0, "memory off: M and z stay 0")
        plain = ref.load_checkpoint(tmp, gate_logit=-2.0)
        check(bool((plain.model.layers[0].self_attn.memory_gate == -2.0).all()), "gate_logit fills memory_gate")


def check_golden():
    golden = os.path.join(REPO_ROOT, "tests", "data", "golden")
    if not os.path.isdir(golden):
        print("skip  no golden vectors yet")
        return
    for case in sorted(os.listdir(golden)):
        case_dir = os.path.join(golden, case)
        model = ref.load_checkpoint(case_dir)
        with open(os.path.join(case_dir, "ids.txt")) as f:
            ids = torch.tensor([int(t) for t in f.read().split()])
        with torch.no_grad():
            logits, state = model(ids)
        stored_logits = torch.from_numpy(np.fromfile(os.path.join(case_dir, "logits.f32"), "<f4").astype("f8"))
        stored_memory = torch.from_numpy(np.fromfile(os.path.join(case_dir, "memory.f32"), "<f4").astype("f8"))
        ok = (stored_logits.numel() == logits.numel()
              and rel_diff(stored_logits.view_as(logits), logits) < 1e-6
              and stored_memory.numel() == model.config.memory_floats()
              and rel_diff(stored_memory, ref.memory_tensor(state)) < 1e-6)
        check(ok, f"golden {case} matches the reference")


def main() -> int:
    torch.set_num_threads(1)
    check_against_naive()
    check_families_against_naive()
    check_chunking()
    check_bounded_state()
    check_delta_differs()
    check_batch_and_fork()
    check_autograd()
    check_files()
    check_golden()
    if failures:
        print(f"\n{len(failures)} check(s) failed")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes the golden vectors in tests/data/golden/<case>/ from the reference.

    /usr/bin/python3 tools/reference/make_golden.py [--out tests/data/golden]

Each case directory holds config.json, model.safetensors (weights in the
case's dtype), ids.txt, logits.f32, memory.f32 and case.json; see README.md.
Everything is seeded and written deterministically: running the script twice
gives byte-identical files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infini_reference as ref  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STREAM_TOLERANCE = 1e-10  # whole vs token-by-token, relative to the largest value, float64


@dataclasses.dataclass
class Case:
    name: str
    config: dict
    tokens: int
    weight_dtype: torch.dtype
    covers: list
    seed: int
    init_std: float = 0.15
    embed_std: float = 1.0
    biases: Optional[tuple] = None  # None: what config.json implies (none for the own format)
    memory: bool = True  # False: no memory_gate tensors, so the engine runs memory off


CASES = [
    Case(
        name="linear_mha_tied_f32",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-6,
                    rope_theta=10000.0, tie_word_embeddings=True, segment_size=6,
                    memory_update="linear"),
        tokens=23, weight_dtype=torch.float32, seed=1001,
        covers=["linear memory update", "multi-head attention (kv heads = heads)",
                "tied embeddings (no lm_head.weight)", "F32 weights",
                "3 full segments + partial segment of 5"]),
    Case(
        name="delta_gqa_untied_f32",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=113, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                    rope_theta=10000.0, tie_word_embeddings=False, segment_size=8,
                    memory_update="delta"),
        tokens=30, weight_dtype=torch.float32, seed=2002, init_std=0.15,
        covers=["delta memory update", "grouped-query attention (4 heads, 2 kv heads)",
                "untied lm_head.weight", "F32 weights", "3 full segments + partial segment of 6"]),
    Case(
        name="delta_gqa_bf16",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                    rope_theta=500000.0, tie_word_embeddings=True, segment_size=5,
                    memory_update="delta"),
        tokens=27, weight_dtype=torch.bfloat16, seed=3003, init_std=0.12,
        covers=["delta memory update", "grouped-query attention (4 heads, 2 kv heads)",
                "BF16 weights (logits from the bf16 values upcast)", "rope_theta 500000",
                "5 full segments + partial segment of 2"]),
    Case(
        name="linear_headdim_bias_f16",
        config=dict(architectures=["Qwen2ForCausalLM"], vocab_size=131, hidden_size=48,
                    intermediate_size=96, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
                    rope_theta=1000000.0, tie_word_embeddings=False, segment_size=7,
                    memory_update="linear"),
        tokens=33, weight_dtype=torch.float16, seed=4004, init_std=0.15,
        biases=("q_proj", "k_proj", "v_proj"),
        covers=["linear memory update", "head_dim 16 != hidden/heads (q size 64 != hidden 48)",
                "q/k/v biases (Qwen2 style)", "grouped-query attention (4 heads, 2 kv heads)",
                "F16 weights (logits from the f16 values upcast)", "untied lm_head.weight",
                "4 full segments + partial segment of 5"]),
    Case(
        name="delta_mha_long_f32",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=103, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                    num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-6,
                    rope_theta=10000.0, tie_word_embeddings=True, segment_size=4,
                    memory_update="delta"),
        tokens=30, weight_dtype=torch.float32, seed=5005, init_std=0.2,
        covers=["delta memory update over many segments", "3 layers", "segment size 4",
                "7 full segments + partial segment of 2", "multi-head attention", "F32 weights"]),
    # Hugging Face families, each with its real config's features at a small size.
    Case(
        name="qwen2_bias_tied_bf16",
        config=dict(architectures=["Qwen2ForCausalLM"], vocab_size=151, hidden_size=64,
                    intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    tie_word_embeddings=True, segment_size=6, memory_update="delta"),
        tokens=28, weight_dtype=torch.bfloat16, seed=6006, init_std=0.12,
        covers=["Qwen2ForCausalLM (Qwen2.5-0.5B's features)", "q/k/v biases from the architecture",
                "rope_theta 1e6", "tied embeddings", "grouped-query attention (4 heads, 2 kv heads)",
                "BF16 weights", "delta memory update", "4 full segments + partial segment of 4"]),
    Case(
        name="qwen3_qknorm_f32",
        config=dict(architectures=["Qwen3ForCausalLM"], vocab_size=127, hidden_size=48,
                    intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    tie_word_embeddings=True, segment_size=7, memory_update="linear"),
        tokens=30, weight_dtype=torch.float32, seed=7007, init_std=0.15,
        covers=["Qwen3ForCausalLM (Qwen3-0.6B's features)", "per-head q/k RMSNorm before RoPE and memory",
                "head_dim 16 != hidden/heads (q size 64 != hidden 48)", "rope_theta 1e6",
                "tied embeddings", "linear memory update", "4 full segments + partial segment of 2"]),
    Case(
        name="llama32_rope_scaling_f32",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=109, hidden_size=64,
                    intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500000.0,
                    rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                  "original_max_position_embeddings": 64, "rope_type": "llama3"},
                    tie_word_embeddings=True, segment_size=9, memory_update="delta"),
        tokens=31, weight_dtype=torch.float32, seed=8008, init_std=0.15,
        covers=["LlamaForCausalLM with rope_scaling llama3 (Llama 3.2's factors; original context "
                "64 so that the 9 offsets of a segment reach all three bands)",
                "grouped-query attention (4 heads, 2 kv heads)", "rope_theta 5e5", "tied embeddings",
                "delta memory update", "3 full segments + partial segment of 4"]),
    Case(
        name="smollm2_plain_f32",
        config=dict(architectures=["LlamaForCausalLM"], vocab_size=97, hidden_size=48,
                    intermediate_size=96, num_hidden_layers=3, num_attention_heads=6,
                    num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=100000.0,
                    tie_word_embeddings=True, segment_size=5, memory_update="linear"),
        tokens=23, weight_dtype=torch.float32, seed=9009, init_std=0.15, memory=False,
        covers=["a plain Hugging Face checkpoint (SmolLM2's features): no memory_gate, so memory "
                "off: local attention in each segment only, M and z stay 0",
                "grouped-query attention with 3 query heads per kv head", "rope_theta 1e5",
                "tied embeddings", "4 full segments + partial segment of 3"]),
]

DTYPE_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def run_whole_and_by_token(model: ref.InfiniForCausalLM, ids: torch.Tensor):
    """Logits [T, V] and final state, both ways; asserts they agree."""
    with torch.no_grad():
        logits, state = model(ids)
        by_token_state = model.new_state()
        by_token = []
        for t in range(ids.shape[0]):
            step, by_token_state = model(ids[t:t + 1], by_token_state)
            by_token.append(step)
        by_token = torch.cat(by_token)
    logit_diff = relative_difference(by_token, logits)
    memory_diff = relative_difference(ref.memory_tensor(by_token_state), ref.memory_tensor(state))
    if logit_diff > STREAM_TOLERANCE or memory_diff > STREAM_TOLERANCE:
        raise AssertionError(f"whole vs token-by-token differ: logits {logit_diff:.3g}, "
                             f"memory {memory_diff:.3g}")
    return logits, state, max(logit_diff, memory_diff)


def write_f32(path: str, values: torch.Tensor) -> None:
    with open(path, "wb") as f:
        f.write(values.detach().to(torch.float32).contiguous().reshape(-1).numpy().astype("<f4").tobytes())


def make_case(case: Case, out_dir: str) -> dict:
    config = ref.InfiniConfig.from_dict(case.config)
    case_dir = os.path.join(out_dir, case.name)
    os.makedirs(case_dir, exist_ok=True)

    model = ref.random_model(config, seed=case.seed, init_std=case.init_std, embed_std=case.embed_std,
                             weight_dtype=case.weight_dtype, biases=case.biases, memory=case.memory)
    ref.save_checkpoint(case_dir, model, config, case.weight_dtype)
    ids = torch.randint(0, config.vocab_size, (case.tokens,),
                        generator=torch.Generator().manual_seed(case.seed + 1))

    # The logits come from the checkpoint as stored, upcast to float64.
    loaded = ref.load_checkpoint(case_dir, torch.float64)
    for name, tensor in model.state_dict().items():
        if case.memory or not name.endswith("memory_gate"):  # memory off: no gates on disk
            assert torch.equal(tensor, loaded.state_dict()[name]), f"{name} changed on disk"
    assert loaded.memory == case.memory
    logits, state, stream_diff = run_whole_and_by_token(loaded, ids)

    # The other memory update (memory on, for a memory-off case; plain RoPE,
    # for a scaled one) must change the logits clearly, or the case would not
    # tell the two apart.
    if case.memory:
        other = dataclasses.replace(config, memory_update="linear" if config.memory_update == "delta" else "delta")
        other_name = f"{other.memory_update}_update"
    else:
        other, other_name = config, "memory_on"
    distinctions = [(other, other_name)]
    if config.rope_scaling is not None:
        distinctions.append((dataclasses.replace(config, rope_scaling=None), "plain_rope"))
    other_diff = 0.0
    for variant, variant_name in distinctions:
        memory_on = case.memory or variant_name == "memory_on"
        variant_model = ref.InfiniForCausalLM(variant, loaded.biases, memory=memory_on).to(torch.float64)
        state_dict = dict(loaded.state_dict())
        if variant_name == "memory_on":  # gates of 0 (an even mix) show the memory would matter
            for name in variant_model.state_dict():
                if name.endswith("memory_gate"):
                    state_dict[name] = torch.zeros(config.num_attention_heads, dtype=torch.float64)
        variant_model.load_state_dict(state_dict)
        with torch.no_grad():
            variant_logits, _ = variant_model(ids)
        diff = float((variant_logits - logits).abs().max())
        assert diff > 0.05, f"{case.name}: {variant_name} barely changes the logits ({diff})"
        if variant_name == other_name:
            other_diff = diff

    memory = ref.memory_tensor(state)
    assert memory.numel() == config.memory_floats()
    with open(os.path.join(case_dir, "ids.txt"), "w", encoding="utf-8") as f:
        f.write(" ".join(str(int(i)) for i in ids) + "\n")
    write_f32(os.path.join(case_dir, "logits.f32"), logits)
    write_f32(os.path.join(case_dir, "memory.f32"), memory)

    S = config.segment_size
    description = {
        "name": case.name,
        "T": case.tokens,
        "vocab_size": config.vocab_size,
        "segment_size": S,
        "full_segments": case.tokens // S,
        "partial_segment_tokens": case.tokens % S,
        "memory_update": config.memory_update,
        "weight_dtype": DTYPE_NAMES[case.weight_dtype],
        "architecture": config.architecture,
        "biases": sorted(loaded.biases),
        "memory": case.memory,
        "covers": case.covers,
        "seed": case.seed,
        "init_std": case.init_std,
        "embed_std": case.embed_std,
        "files": {
            "ids.txt": f"{case.tokens} token ids, whitespace-separated",
            "logits.f32": f"float32 LE [{case.tokens} x {config.vocab_size}], logits at every position",
            "memory.f32": (f"float32 LE, per layer (x{config.num_hidden_layers}) M "
                           f"[{config.num_key_value_heads} x {config.head_dim} x {config.head_dim}] "
                           f"then z [{config.num_key_value_heads} x {config.head_dim}] after all tokens; "
                           f"{config.memory_floats()} floats"),
        },
        "reference": "tools/reference/infini_reference.py in float64 from the stored weights",
        "stats": {
            "logits_max_abs": round(float(logits.abs().max()), 4),
            "logits_std": round(float(logits.std()), 4),
            "memory_max_abs": round(float(memory.abs().max()), 4),
            "whole_vs_token_by_token_rel_diff_max": float(f"{stream_diff:.1e}"),
            f"logits_max_abs_diff_with_{other_name}": round(other_diff, 4),
        },
    }
    with open(os.path.join(case_dir, "case.json"), "w", encoding="utf-8") as f:
        json.dump(description, f, indent=2)
        f.write("\n")
    return description


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "golden"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # same summation order on every run
    for case in CASES:
        d = make_case(case, args.out)
        print(f"{d['name']}: T={d['T']} vocab={d['vocab_size']} S={d['segment_size']} "
              f"{d['memory_update']} {d['weight_dtype']} | {d['stats']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

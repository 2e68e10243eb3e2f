"""The training forward (fast_forward.py) equals the reference forward.

Float64, random weights, MHA and GQA, linear and delta: logits at every
position and the final memory M, z of every layer. Run by CTest
(train.fast_forward); exits 1 on a mismatch.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))

import fast_forward  # noqa: E402
from infini_reference import InfiniConfig, random_model  # noqa: E402


def check(update: str, heads: int, kv_heads: int) -> float:
    config = InfiniConfig(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                          num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=8,
                          rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
                          segment_size=8, memory_update=update)
    model = random_model(config, seed=3, init_std=0.2)
    ids = torch.randint(0, config.vocab_size, (2, 5 * config.segment_size),
                        generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected, state = model(ids)
        got, finals = fast_forward.forward(model, ids, return_memory=True)
    scale = expected.abs().max().item()
    error = (got - expected).abs().max().item() / scale
    for (memory, norm), layer in zip(finals, state.layers):
        error = max(error, (memory - layer.memory).abs().max().item() / layer.memory.abs().max().item())
        error = max(error, (norm - layer.norm).abs().max().item() / layer.norm.abs().max().item())
    return error


def check_layer_checkpointing() -> float:
    """Recomputing layers in the backward pass (checkpoint_layers, used for
    long documents) gives the same gradients as keeping their activations."""
    config = InfiniConfig(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, head_dim=8,
                          rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
                          segment_size=8, memory_update="delta")
    model = random_model(config, seed=3, init_std=0.2)
    ids = torch.randint(0, config.vocab_size, (2, 5 * config.segment_size),
                        generator=torch.Generator().manual_seed(7))
    grads = []
    for checkpointed in (False, True):
        model.zero_grad()
        fast_forward.forward(model, ids, checkpoint_layers=checkpointed).square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    return ((grads[1] - grads[0]).abs().max() / grads[0].abs().max()).item()


def main() -> int:
    worst = 0.0
    for update in ("linear", "delta"):
        for heads, kv_heads in ((4, 4), (4, 2)):
            error = check(update, heads, kv_heads)
            print(f"{update:6s} heads {heads}/{kv_heads}: max relative error {error:.2e}")
            worst = max(worst, error)
    error = check_layer_checkpointing()
    print(f"layer checkpointing: max relative gradient error {error:.2e}")
    worst = max(worst, error)
    if worst > 1e-10:
        print(f"FAIL: the training forward differs from the reference ({worst:.2e} > 1e-10)")
        return 1
    print("ok: the training forward equals the reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())

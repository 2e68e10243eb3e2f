"""Pretrains a tiny plain Llama (no compressive memory) on short documents:
the stand-in for a downloaded Llama-family checkpoint in the miniature
"bring your own model" pipeline (scripts/byo-model-demo).

    /usr/bin/python3 tools/train/pretrain_plain.py --out DIR --work DIR [--minutes M]
        [--context 128] [--hidden 128 --layers 3 --heads 4] [--device cpu|cuda]

The model is the reference model with the memory switched off (gate 0) and
one segment as its whole context, so it is exactly a Llama with a context of
--context tokens. Documents fit that context: passkey documents of the
demo tasks (docs/demo-tasks.md: instruction, filler, key anywhere, question,
answer) and plain prose from prose.py, next-token loss on everything plus
the answer. The tokenizer is the demo model's (models/demo/tokenizer.model),
so `infini eval` can test the converted model with its passkey task.

Writes DIR as a plain Hugging Face Llama checkpoint: config.json without
segment_size, memory_update or max-context tricks (max_position_embeddings is
the context), model.safetensors without memory_gate, tokenizer.model,
prompt_template.json and eval-prose.txt. Checkpoints to WORK/plain.pt and
resumes from it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import continual_forward  # noqa: E402
import prose  # noqa: E402
import tasks  # noqa: E402
from infini_reference import InfiniConfig, InfiniForCausalLM, write_safetensors  # noqa: E402

import sentencepiece as spm  # noqa: E402

DEMO = os.path.join(ROOT, "models", "demo")


def init_weights(model: InfiniForCausalLM, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    layers = model.config.num_hidden_layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("memory_gate"):
                p.zero_()  # unused: the gate is overridden to 0 and not exported
            elif name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.fill_(1.0)
            else:
                std = 0.02 / ((2 * layers) ** 0.5 if name.endswith(("o_proj.weight", "down_proj.weight"))
                              else 1.0)
                p.copy_(torch.randn(p.shape, generator=g) * std)


def make_sample(maker: tasks.TaskMaker, sp, prose_lines, context: int, rng: random.Random):
    """(ids, answer_start or None): a passkey document that fits the context, or prose."""
    if rng.random() < 0.2:
        ids = []
        i = rng.randrange(len(prose_lines))
        while len(ids) < context:
            ids += sp.encode(prose_lines[i % len(prose_lines)])
            i += 1
        return ids[:context], None
    filler = "prose" if rng.random() < 0.2 else "repeat"
    for _ in range(20):
        s = maker.make("passkey", filler, rng.randint(40, context - 20), rng)
        if len(s.ids) <= context:
            return s.ids, s.answer_start
    raise RuntimeError(f"no passkey document fits a context of {context} tokens")


def batch_tensors(samples, context: int, device: str):
    ids = torch.zeros(len(samples), context, dtype=torch.long)
    lm = torch.zeros(len(samples), context, dtype=torch.bool)
    answer = torch.zeros(len(samples), context, dtype=torch.bool)
    for b, (s, start) in enumerate(samples):
        ids[b, :len(s)] = torch.tensor(s)
        lm[b, :len(s) - 1] = True
        if start is not None:
            answer[b, start - 1:len(s) - 1] = True
    return ids.to(device), torch.roll(ids, -1, 1).to(device), lm.to(device), answer.to(device)


def export(out: str, model: InfiniForCausalLM, context: int, tokenizer_model: str) -> None:
    os.makedirs(out, exist_ok=True)
    cfg = model.config
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
              "intermediate_size": cfg.intermediate_size, "num_hidden_layers": cfg.num_hidden_layers,
              "num_attention_heads": cfg.num_attention_heads,
              "num_key_value_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
              "rms_norm_eps": cfg.rms_norm_eps, "rope_theta": cfg.rope_theta,
              "tie_word_embeddings": cfg.tie_word_embeddings, "max_position_embeddings": context,
              "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    tensors = {k: v for k, v in model.checkpoint_tensors().items() if not k.endswith("memory_gate")}
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, torch.float32)
    shutil.copyfile(tokenizer_model, os.path.join(out, "tokenizer.model"))
    with open(os.path.join(out, "prompt_template.json"), "w") as f:
        json.dump(tasks.PROMPT_TEMPLATE, f, indent=2)
        f.write("\n")
    shutil.copyfile(os.path.join(DEMO, "eval-prose.txt"), os.path.join(out, "eval-prose.txt"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--minutes", type=float, default=5.0, help="training time (this invocation)")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: --minutes only)")
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tokenizer", default=os.path.join(DEMO, "tokenizer.model"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    log = open(os.path.join(args.work, "pretrain.log"), "a")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    prose_lines = prose.load_sentences(*prose.TRAIN_SOURCES)
    maker = tasks.TaskMaker(lambda s: sp.encode(s), sp.piece_to_id(tasks.END), prose_lines,
                            sp.piece_to_id("\u2581"))
    head_dim = args.hidden // args.heads
    config = InfiniConfig(vocab_size=sp.get_piece_size(), hidden_size=args.hidden,
                          intermediate_size=3 * args.hidden, num_hidden_layers=args.layers,
                          num_attention_heads=args.heads, num_key_value_heads=args.heads,
                          head_dim=head_dim, rms_norm_eps=1e-6, rope_theta=10000.0,
                          tie_word_embeddings=True, segment_size=args.context, memory_update="delta")
    model = InfiniForCausalLM(config).float()
    init_weights(model, args.seed)
    model.to(args.device)
    params = [p for n, p in model.named_parameters() if not n.endswith("memory_gate")]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    state_path = os.path.join(args.work, "plain.pt")
    step, trained = 0, 0.0
    if os.path.exists(state_path):
        saved = torch.load(state_path, map_location=args.device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, trained = saved["step"], saved["elapsed"]
        say(f"resumed at step {step} ({trained / 60:.1f} min trained)")
    say(f"plain Llama: {sum(p.numel() for p in params) / 1e6:.2f}M parameters, {args.layers} layers, "
        f"hidden {args.hidden}, context {args.context}, on {args.device} ({args.threads} threads)")
    start, first_step = time.time(), step
    while True:
        rng = random.Random(args.seed * 1_000_003 + step)
        samples = [make_sample(maker, sp, prose_lines, args.context, rng) for _ in range(args.batch)]
        ids, targets, lm_mask, answer_mask = batch_tensors(samples, args.context, args.device)
        with torch.autocast(device_type=args.device, dtype=torch.bfloat16):
            logits, _ = continual_forward.forward(model, ids, gate_override=0.0, memory_fp32=False)
        logp = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
        lm = (logp * lm_mask).sum() / lm_mask.sum()
        answer = (logp * answer_mask).sum() / answer_mask.sum().clamp(min=1)
        loss = lm + 2.0 * answer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        warm = min(1.0, (step + 1) / 30)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * warm
        optimizer.step()
        step += 1
        elapsed = time.time() - start
        done = elapsed > args.minutes * 60 or (args.steps and step >= args.steps)
        if step % 10 == 0 or step == 1 or done:
            exact = ((logits.argmax(-1) == targets) | ~answer_mask).all(dim=1)
            has_answer = answer_mask.any(dim=1)
            acc = (exact & has_answer).sum().item() / max(1, has_answer.sum().item())
            say(f"step {step} lm {lm.item():.3f} answer {answer.item():.3f} exact {acc:.2f} "
                f"{(step - first_step) * args.batch * args.context / max(elapsed, 1e-9):.0f} tok/s, "
                f"{(trained + elapsed) / 60:.1f} min")
        if done:
            break
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed": trained + time.time() - start}, state_path)
    export(args.out, model.cpu(), args.context, args.tokenizer)
    say(f"wrote plain checkpoint {args.out} (step {step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Trains the demo Infini-Transformer (models/demo/) on CPU or CUDA.

    /usr/bin/python3 tools/train/train.py --work build/train --out models/demo [--steps N]
        [--minutes M] [--seed S] [--device cpu|cuda] [--recipe gen1|gen2] [--resume]
        [--init-from CONVERTED_DIR]

--init-from starts stage one from a converted plain checkpoint (`infini
convert`) instead of random weights: continual training with this recipe's
curriculum and losses (docs/continual-training.md, run 8).

--recipe gen1 (the default) is the shipped model's recipe; gen2 is issue
#17's (RECIPES in recipes.py: segments of 256, heads of 64, documents to 512 folds,
all three tasks in both stages). Steps over CHECKPOINT_TOKENS tokens
recompute each layer in the backward pass to bound memory.

The model is the reference model (tools/reference/infini_reference.py); the
forward pass used for training is fast_forward.py, proven equal to the
reference. Memory is carried across every segment of a document and the
gradient flows through it (documents are at most 256 segments; no
truncation is needed at that length).

Documents come from tasks.py (docs/demo-tasks.md). The curriculum follows
../shared/design/training-notes.md: short documents and keys near the
question first, then documents up to 256 segments (16K tokens) and keys at
any depth. With --focus-from S --focus-steps N a second stage (FocusStage)
takes over at step S of that schedule for N steps: passkey documents, and a
loss term on the answer's pieces after the first (`train.sh` does this).

The run checkpoints to WORK/checkpoint.pt every few minutes and resumes
from it; data for step k is drawn from a generator seeded with (seed, k), so
a resumed run sees the same data as an uninterrupted one. With --minutes the
run stops (checkpointed) after that long; run it again to continue. When the
last step is done it writes the model directory OUT.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import signal
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import fast_forward  # noqa: E402
import prose  # noqa: E402
import tasks  # noqa: E402
import tokenizer as tokenizer_recipe  # noqa: E402
from recipes import RECIPES, Recipe  # noqa: E402
from infini_reference import (InfiniConfig, InfiniForCausalLM, load_checkpoint,  # noqa: E402
                              save_checkpoint)

import sentencepiece as spm  # noqa: E402

SEGMENT = 64
# Steps with more tokens than this recompute each layer in the backward pass
# instead of keeping its activations (gen2's 64K-128K-token documents would
# need 6-12 GB here otherwise); gen1's steps are all below it.
CHECKPOINT_TOKENS = 32768


def model_config(vocab: int, recipe: Optional[Recipe] = None) -> InfiniConfig:
    r = recipe or RECIPES["gen1"]
    return InfiniConfig(vocab_size=vocab, hidden_size=192, intermediate_size=512,
                        num_hidden_layers=3, num_attention_heads=r.heads, num_key_value_heads=r.heads,
                        head_dim=r.head_dim, rms_norm_eps=1e-6, rope_theta=10000.0,
                        tie_word_embeddings=True, segment_size=r.segment, memory_update="delta")


def init_weights(model: InfiniForCausalLM, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    layers = model.config.num_hidden_layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("memory_gate"):
                p.zero_()  # sigmoid 0.5: memory and local attention mixed evenly
            elif name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                std = 0.02
                if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    std /= math.sqrt(2 * layers)
                p.copy_(torch.randn(p.shape, generator=g) * std)


class Schedule:
    """Curriculum and learning rate as functions of progress p in [0, 1]."""

    def __init__(self, steps: int, lr: float, recipe: Optional[Recipe] = None):
        self.steps, self.lr = steps, lr
        self.recipe = recipe or RECIPES["gen1"]

    def progress(self, step: int) -> float:
        return step / max(1, self.steps)

    def max_length(self, p: float) -> int:
        for until, longest in self.recipe.length_stages:
            if p < until:
                return longest
        return self.recipe.length_stages[-1][1]

    def single_task(self, p: float) -> bool:
        """Passkey with repeated filler only, until retrieval through memory is
        learnt at 4K tokens (training-notes experiment 2 trained on nothing else)."""
        return p < self.recipe.passkey_only_until

    def local_share(self, p: float) -> float:
        """Share of keys right before the question (mostly inside its segment)."""
        return 0.5 - 0.4 * min(1.0, p / 0.3)

    def depth_spread(self, p: float) -> float:
        """Other keys start near the end and spread to any depth by 35%."""
        return 0.1 + 0.9 * min(1.0, p / 0.35)

    def answer_weight(self, p: float) -> float:
        return 1.0 if p < 0.05 else 2.0

    def learning_rate(self, step: int) -> float:
        warmup = 50
        if step < warmup:
            return self.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, self.steps - warmup)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def warm_start(model: InfiniForCausalLM, directory: str) -> None:
    """Copies a trained model's weights into `model`: every shape must match
    (the segment size may differ; it is not a weight)."""
    source = load_checkpoint(directory, dtype=torch.float32)
    mine, theirs = model.config.to_dict(), source.config.to_dict()
    for key in set(mine) | set(theirs):
        if key != "segment_size" and mine.get(key) != theirs.get(key):
            raise SystemExit(f"warm start from {directory}: config {key} is {theirs.get(key)!r} there, "
                             f"{mine.get(key)!r} in this recipe")
    with torch.no_grad():
        model.load_state_dict(source.state_dict())


def draw_batch(maker: tasks.TaskMaker, schedule: Schedule, step: int, seed: int,
               tokens_per_step: int):
    recipe = schedule.recipe
    segment = recipe.segment
    rng = random.Random(seed * 1_000_003 + step)
    p = schedule.progress(step)
    allowed = [n for n in recipe.lengths if n <= schedule.max_length(p)]
    weights = [2.0 if n == allowed[-1] else 1.0 for n in allowed]  # the longest twice
    segments = rng.choices(allowed, weights)[0]
    # The document ends anywhere in its last segment: with a fixed end the
    # question sat at one offset and a key "right before it" was always in its
    # own segment, so nothing near the question ever had to come from memory.
    target = (segments - 1) * segment + rng.randint(8, segment)
    batch = max(1, tokens_per_step // (segments * segment))
    samples = []
    for _ in range(batch):
        r = rng.random()
        for task, filler, share in recipe.task_mix:
            r -= share
            if r < 0:
                break
        if schedule.single_task(p):
            task, filler = "passkey", "repeat"
        if rng.random() < schedule.local_share(p):
            depth = 1.0
        else:
            depth = 1.0 - rng.random() * schedule.depth_spread(p)
        samples.append(maker.make(task, filler, target, rng, depth=depth))
    return samples, segments


class FocusStage:
    """Stage two: takes over from stage one's schedule at step `first_step` and
    trains the answer's pieces after the first. Stage one teaches the first
    piece of a key through memory at every length; with numbers in digit
    groups the second piece ("32" of "714 32") is the one group of its kind in
    the key, but stage one left it at a constant guess even for keys next to
    the question (model card, run 12): it gets a loss term of its own here, on
    passkey documents of every training length."""

    MIX = [("passkey", "repeat", 0.85), ("passkey", "prose", 0.15)]
    LENGTHS = [2, 4, 8, 16, 32, 64, 128, 256]
    LENGTH_WEIGHTS = [1, 1, 1, 1, 1, 1, 0.5, 0.5]  # long documents cost more per token
    LATER_WEIGHT = 4.0    # the later pieces' term, against the answer's 2
    LOCAL_SHARE = 0.3     # keys right before the question: the copy is learnt there first

    def __init__(self, first_step: int, steps: int, lr: float, recipe: Optional[Recipe] = None):
        self.first_step, self.steps, self.lr = first_step, steps, lr
        self.recipe = recipe or RECIPES["gen1"]
        if recipe is not None:  # gen1 keeps the class attributes above
            self.MIX = list(recipe.focus_mix)
            self.LENGTHS = list(recipe.focus_lengths)
            self.LENGTH_WEIGHTS = list(recipe.focus_length_weights)

    def learning_rate(self, step: int) -> float:
        k = step - self.first_step
        ramp = min(1.0, (k + 1) / 30)
        return self.lr * ramp * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, k / self.steps))))

    def draw_batch(self, maker: tasks.TaskMaker, step: int, seed: int, tokens_per_step: int):
        rng = random.Random(seed * 1_000_003 + step)
        segment = self.recipe.segment
        segments = rng.choices(self.LENGTHS, self.LENGTH_WEIGHTS)[0]
        target = (segments - 1) * segment + rng.randint(8, segment)
        samples = []
        for _ in range(max(1, tokens_per_step // (segments * segment))):
            r = rng.random()
            for task, filler, share in self.MIX:
                r -= share
                if r < 0:
                    break
            depth = 1.0 if rng.random() < self.LOCAL_SHARE else rng.random()
            samples.append(maker.make(task, filler, target, rng, depth=depth))
        return samples, segments


def collate(samples: List[tasks.Sample], device: str, segment: int = SEGMENT):
    longest = max(len(s.ids) for s in samples)
    T = -(-longest // segment) * segment
    ids = torch.zeros(len(samples), T, dtype=torch.long)
    lm_mask = torch.zeros(len(samples), T, dtype=torch.bool)      # position t predicts ids[t+1]
    answer_mask = torch.zeros(len(samples), T, dtype=torch.bool)
    key_mask = torch.zeros(len(samples), T, dtype=torch.bool)
    for b, s in enumerate(samples):
        ids[b, :len(s.ids)] = torch.tensor(s.ids)
        lm_mask[b, :len(s.ids) - 1] = True
        answer_mask[b, s.answer_start - 1:len(s.ids) - 1] = True
        key_mask[b, s.answer_start - 1] = True
    targets = torch.roll(ids, -1, dims=1)
    return (ids.to(device), targets.to(device), lm_mask.to(device), answer_mask.to(device),
            key_mask.to(device))


def document_weights(samples: List[tasks.Sample], recipe: Recipe, device: str):
    """Per-document answer weights from the recipe's task weights (None for gen1)."""
    if recipe.task_weights is None:
        return None
    weights = dict(recipe.task_weights)
    return torch.tensor([weights.get(s.task, 1.0) for s in samples], device=device)


def losses(model, ids, targets, lm_mask, answer_mask, key_mask, device, later_weight: float = 0.0,
           end_id: int = -1, doc_weights=None):
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        logits = fast_forward.forward(model, ids, checkpoint_layers=ids.numel() > CHECKPOINT_TOKENS)
    logp = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
    lm = (logp * lm_mask).sum() / lm_mask.sum()
    # Per document, then averaged: a summary's long answer must not outweigh a key's digits.
    per_doc = (logp * answer_mask).sum(dim=1) / answer_mask.sum(dim=1)
    if doc_weights is not None:
        # gen2: every term per document, weighted by its task, so a batch of
        # summaries (20 answer tokens each) weighs what its documents weigh.
        later_mask = answer_mask & ~key_mask & (targets != end_id)
        first = (logp * key_mask).sum(dim=1)
        later = (logp * later_mask).sum(dim=1) / later_mask.sum(dim=1).clamp(min=1)
        total = doc_weights.sum()
        term = (doc_weights * (per_doc + first + later_weight * later)).sum() / total
        predicted = logits.argmax(-1)
        correct = ((predicted == targets) | ~answer_mask).all(dim=1)
        return lm, term, correct
    answer = per_doc.mean()
    # The answer's first token is the one only retrieval can give (the rest can
    # be copied once it is found): it gets a term of its own.
    key = (logp * key_mask).sum() / key_mask.sum()
    if later_weight:
        later_mask = answer_mask & ~key_mask & (targets != end_id)
        key = key + later_weight * (logp * later_mask).sum() / later_mask.sum().clamp(min=1)
    predicted = logits.argmax(-1)
    correct = ((predicted == targets) | ~answer_mask).all(dim=1)  # teacher-forced = greedy exact
    return lm, answer + key, correct


def evaluate(model, maker, device, seed: int, lengths=(2048, 8192, 32768), trials=12,
             task="passkey", filler="repeat", segment: int = SEGMENT) -> Dict[int, float]:
    """Exact-match accuracy by length, depths spread evenly (as `infini eval`)."""
    model.eval()
    out = {}
    with torch.no_grad():
        for length in lengths:
            rng = random.Random(seed + length)
            hits = 0
            for start in range(0, trials, 4):
                samples = [maker.make(task, filler, length - 24, rng, depth=(i + 0.5) / trials, items=4
                                      if task == "needle" else 3 if task == "summary" else None)
                           for i in range(start, min(trials, start + 4))]
                _, _, correct = losses(model, *collate(samples, device, segment), device)
                hits += int(correct.sum())
            out[length] = hits / trials
    model.train()
    return out


def save_training_checkpoint(path, model, optimizer, step, elapsed, recipe: str = "gen1"):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed": elapsed, "recipe": recipe}, tmp)
    os.replace(tmp, path)


def export(out: str, model: InfiniForCausalLM, tokenizer_model: str, eval_prose: List[str],
           report: dict) -> None:
    os.makedirs(out, exist_ok=True)
    save_checkpoint(out, model.float(), weight_dtype=torch.float32)
    with open(tokenizer_model, "rb") as src, open(os.path.join(out, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(out, "prompt_template.json"), "w") as f:
        json.dump(tasks.PROMPT_TEMPLATE, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "eval-prose.txt"), "w") as f:
        f.write("\n".join(eval_prose) + "\n")
    with open(os.path.join(out, "training-report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, "model.safetensors.sha256"), "w") as f:
        f.write(f"{digest}  model.safetensors\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="checkpoints, tokenizer, logs")
    ap.add_argument("--out", required=True, help="the model directory written at the end")
    ap.add_argument("--steps", type=int, default=1200, help="stage one's schedule is laid out for this many")
    ap.add_argument("--focus-from", type=int, default=0,
                    help="stage two (FocusStage) takes over at this step of stage one (0: no stage two)")
    ap.add_argument("--focus-steps", type=int, default=0)
    ap.add_argument("--focus-lr", type=float, default=1e-3)
    ap.add_argument("--tokens-per-step", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=0, help="stop (checkpointed) after this long")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-trials", type=int, default=12,
                    help="documents per length in the teacher-forced checks (during and after the run)")
    ap.add_argument("--export-now", action="store_true",
                    help="export the last checkpoint as it is (a run stopped before its last step)")
    ap.add_argument("--checkpoint-minutes", type=float, default=4.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="gen1",
                    help="gen1: the shipped model; gen2: issue #17 (segments of 256, wider heads, all tasks)")
    ap.add_argument("--tokenizer", default="",
                    help="use this SentencePiece model (e.g. models/demo/tokenizer.model) instead of "
                         "training one; copied to WORK/tokenizer.model")
    ap.add_argument("--init-from", default="",
                    help="continual training: start stage one from this model directory's weights "
                         "and shape (a converted plain checkpoint, `infini convert`) instead of "
                         "random ones; its segment size must be the recipe's and its vocabulary "
                         "the tokenizer's")
    ap.add_argument("--resume", action="store_true",
                    help="require WORK/checkpoint.pt and continue from it (without it a checkpoint "
                         "is still picked up when present)")
    args = ap.parse_args()
    recipe = RECIPES[args.recipe]

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    log = open(os.path.join(args.work, "train.log"), "a")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    train_prose = prose.load_sentences(*prose.TRAIN_SOURCES)
    eval_prose = prose.load_sentences(prose.EVAL_SOURCE)
    tokenizer_model = os.path.join(args.work, "tokenizer.model")
    if not os.path.exists(tokenizer_model):
        if args.tokenizer:
            with open(args.tokenizer, "rb") as src, open(tokenizer_model, "wb") as dst:
                dst.write(src.read())
        else:
            tokenizer_model = tokenizer_recipe.train_tokenizer(args.work, train_prose, args.seed)
    sp = spm.SentencePieceProcessor(model_file=tokenizer_model)
    space = sp.piece_to_id("\u2581")
    maker = tasks.TaskMaker(lambda s: sp.encode(s), sp.piece_to_id(tasks.END), train_prose, space)
    eval_maker = tasks.TaskMaker(lambda s: sp.encode(s), sp.piece_to_id(tasks.END), eval_prose, space)

    if args.init_from:
        # The recipe unchanged (curriculum, losses, gate rate) on a pretrained
        # model with memory added: what continual.py does for any checkpoint,
        # with the schedule that taught the demo model retrieval from scratch.
        model = load_checkpoint(args.init_from, dtype=torch.float32)
        config = model.config
        if config.segment_size != recipe.segment:
            raise SystemExit(f"--init-from {args.init_from}: segment_size {config.segment_size}, but "
                             f"--recipe {recipe.name} trains segments of {recipe.segment}")
        if config.vocab_size < sp.get_piece_size():
            raise SystemExit(f"--init-from {args.init_from}: vocabulary {config.vocab_size} is smaller "
                             f"than the tokenizer's {sp.get_piece_size()} pieces")
        if not config.memory_update:
            raise SystemExit(f"--init-from {args.init_from}: no memory (convert it first: infini convert)")
    else:
        config = model_config(sp.get_piece_size(), recipe)
        model = InfiniForCausalLM(config).float()
        init_weights(model, args.seed)
    model.to(args.device)
    gates = [p for n, p in model.named_parameters() if n.endswith("memory_gate")]
    others = [p for n, p in model.named_parameters() if not n.endswith("memory_gate")]
    optimizer = torch.optim.AdamW([{"params": others, "lr_scale": 1.0},
                                   {"params": gates, "lr_scale": 10.0, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    if recipe.warm_start:
        warm_start(model, recipe.warm_start)
        if not args.focus_steps:
            raise SystemExit(f"--recipe {recipe.name} is stage two only: give --focus-steps")
    schedule = Schedule(args.steps, args.lr, recipe)
    focus = (FocusStage(args.focus_from, args.focus_steps, args.focus_lr,
                        recipe if recipe.name != "gen1" else None)
             if args.focus_from or recipe.warm_start else None)
    segment = recipe.segment
    last_step = args.focus_from + args.focus_steps if focus else args.steps
    end_id = sp.piece_to_id(tasks.END)

    checkpoint = os.path.join(args.work, "checkpoint.pt")
    step, elapsed_before = 0, 0.0
    if args.resume and not os.path.exists(checkpoint):
        raise SystemExit(f"--resume: no checkpoint at {checkpoint}")
    if os.path.exists(checkpoint):
        saved = torch.load(checkpoint, map_location=args.device)
        if saved.get("recipe", "gen1") != recipe.name:
            raise SystemExit(f"{checkpoint} was trained with --recipe {saved.get('recipe', 'gen1')}, "
                             f"not {recipe.name}: use another --work")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, elapsed_before = saved["step"], saved["elapsed"]
        say(f"resumed from {checkpoint} at step {step} ({elapsed_before / 60:.1f} min trained)")
    if args.export_now:
        if step == 0:
            raise SystemExit(f"--export-now: no checkpoint in {args.work}")
        last_step = step
    params = sum(p.numel() for p in model.parameters())
    say(f"model: {params / 1e6:.2f}M parameters, {config.num_hidden_layers} layers, segment "
        f"{segment}, head_dim {config.head_dim} x {config.num_attention_heads} heads, recipe "
        f"{recipe.name}, vocab {config.vocab_size}; {last_step} steps of ~{args.tokens_per_step} "
        f"tokens on {args.device} ({args.threads} threads)")

    # A session that ends sends SIGTERM first: checkpoint after the current step.
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))

    def checkpoint_now(at: float) -> None:
        save_training_checkpoint(checkpoint, model, optimizer, step, elapsed_before + at - start,
                                 recipe.name)

    start = time.time()
    last_checkpoint = start
    tokens_seen = 0
    while step < last_step:
        p = schedule.progress(step)
        in_focus = focus is not None and step >= focus.first_step
        if in_focus:
            samples, segments = focus.draw_batch(maker, step, args.seed, args.tokens_per_step)
        else:
            samples, segments = draw_batch(maker, schedule, step, args.seed, args.tokens_per_step)
        batch = collate(samples, args.device, segment)
        ids = batch[0]
        lm, answer, correct = losses(model, *batch, args.device,
                                     later_weight=focus.LATER_WEIGHT if in_focus else recipe.stage_one_later_weight,
                                     end_id=end_id,
                                     doc_weights=document_weights(samples, recipe, args.device))
        loss = lm + (2.0 if in_focus else schedule.answer_weight(p)) * answer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = focus.learning_rate(step) if in_focus else schedule.learning_rate(step)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        optimizer.step()
        step += 1
        tokens_seen += ids.numel()
        now = time.time()
        if step % 10 == 0 or step == 1:
            gate = torch.sigmoid(torch.cat([g.detach().float() for g in gates]))
            tasks_in = "/".join(sorted({s.task[0] for s in samples}))
            say(f"step {step}/{last_step} len {segments * segment} x{len(samples)} {tasks_in} lm {lm.item():.3f} "
                f"answer {answer.item():.3f} exact {correct.float().mean().item():.2f} lr {lr:.2e} "
                f"gates {gate.min().item():.2f}-{gate.max().item():.2f} "
                f"{tokens_seen / (now - start):.0f} tok/s, {(elapsed_before + now - start) / 60:.1f} min")
        if step % args.eval_every == 0 or step == last_step:
            acc = evaluate(model, maker, args.device, seed=12345, lengths=recipe.eval_lengths,
                           trials=args.eval_trials, segment=segment)
            say("eval passkey repeat: " + ", ".join(f"{k // 1024}K {v:.2f}" for k, v in acc.items()))
            if recipe.name != "gen1":  # gen1's log stays as the shipped run wrote it
                for task in ("needle", "summary"):
                    acc = evaluate(model, maker, args.device, seed=12345, lengths=recipe.eval_lengths[:1],
                                   trials=max(1, args.eval_trials * 2 // 3), task=task, segment=segment)
                    say(f"eval {task} repeat: " + ", ".join(f"{k // 1024}K {v:.2f}" for k, v in acc.items()))
        now = time.time()
        if now - last_checkpoint > args.checkpoint_minutes * 60:
            checkpoint_now(now)
            last_checkpoint = now
        if stop_requested and step < last_step:
            checkpoint_now(now)
            say(f"SIGTERM: checkpointed at step {step}; run again to resume")
            return 3
        if args.minutes and now - start > args.minutes * 60 and step < last_step:
            checkpoint_now(now)
            say(f"stopping after {args.minutes} min at step {step}; run again to resume")
            return 3
    elapsed = elapsed_before + time.time() - start
    save_training_checkpoint(checkpoint, model, optimizer, step, elapsed, recipe.name)

    report = {"steps": last_step, "focus_from": args.focus_from, "focus_steps": args.focus_steps, "tokens_per_step": args.tokens_per_step, "seed": args.seed,
              "device": args.device, "train_minutes": round(elapsed / 60, 1), "recipe": recipe.name,
              "segment_size": segment,
              "longest_training_document_tokens": max(recipe.lengths + (recipe.focus_lengths if focus else ()))
              * segment, "parameters": params}
    for task, filler in (("passkey", "repeat"), ("passkey", "prose"), ("needle", "repeat"),
                         ("summary", "repeat")):
        m = eval_maker if filler == "prose" else maker
        acc = evaluate(model, m, args.device, seed=777, lengths=(2048, 16384), task=task, filler=filler,
                       trials=args.eval_trials, segment=segment)
        report[f"{task}_{filler}_teacher_forced"] = {str(k): v for k, v in acc.items()}
        say(f"final {task} {filler}: " + ", ".join(f"{k // 1024}K {v:.2f}" for k, v in acc.items()))
    export(args.out, model.cpu(), tokenizer_model, eval_prose, report)
    say(f"wrote {args.out} after {elapsed / 60:.1f} min of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())

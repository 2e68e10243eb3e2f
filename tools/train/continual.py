"""Continual training of a converted checkpoint (`infini convert`) with its
compressive memory: the Infini-attention paper's recipe for its 1B and 8B
models, and the only way to a real long-document model without published
Infini weights. docs/continual-training.md has the why and the GPU command.

    /usr/bin/python3 tools/train/continual.py --model CONVERTED --out DIR --work DIR
        [--text DIR_OR_JSONL] [--synthetic-share F] [--minutes M | --steps N]
        [--lengths 2,4,8,16] [--tokens-per-step T] [--lr 1e-4] [--gate-lr 1e-2]
        [--bptt K] [--grad-checkpoint] [--device cuda|cpu] [--infini BIN]

- Documents are cut into segments of the checkpoint's segment_size and
  read segment by segment, the memory (M, z) carried across all of them and
  the gradient flowing through it; --bptt K cuts the gradient (not the
  memory) every K segments, for documents whose whole graph does not fit.
- Gates get their own learning rate (--gate-lr) and no weight decay: at the
  base rate they barely move (Hugging Face's nanotron experiment). M and z
  are summed and read in fp32 (--memory-bf16 trades that for speed on CPUs
  whose fp32 products are slow); everything else runs under bf16 autocast.
- Data: the user's text (--text: a directory of .txt files, one document per
  file, or a .jsonl file of {"text": ...}), windows of 2..max segments; and/or
  the synthetic passkey task of docs/demo-tasks.md (--synthetic-share), with
  a curriculum from keys near the question to keys at any depth.
  Text is tokenised with the checkpoint's tokenizer; a tokenizer.json
  without the `tokenizers` package goes through `infini tokenize` (--infini
  BIN, else $INFINI_BIN, else build/bin/infini).
- How far retrieval generalises tracks the number of memory folds seen in
  training (training-notes.md): train on documents with as many segments as
  you can afford (--lengths).
- Checkpoints to WORK/continual.pt every --checkpoint-minutes and resumes
  from it; the schedule is a function of progress (trained time over
  --minutes, or step over --steps), data of (seed, step). Logs to
  WORK/continual.log. Whenever it stops it writes OUT in the checkpoint's
  layout (hf_checkpoint.save_model) with continual-report.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import continual_forward  # noqa: E402
import documents  # noqa: E402
import hf_checkpoint  # noqa: E402
import prose  # noqa: E402
import tasks  # noqa: E402


class Sample:
    """Token ids and, for a task document, where its answer starts."""

    def __init__(self, ids: List[int], answer_start: Optional[int] = None):
        self.ids, self.answer_start = ids, answer_start


class PasskeyTasks(tasks.TaskMaker):
    """The synthetic task with the checkpoint's own tokens for the <end>
    marker: one piece in the demo tokenizer; in a Hub model's (byte-level BPE)
    just text, several tokens ("<", "end", ">"), all of which follow the
    answer, so the model learns to write the whole stop string that
    `infini eval` stops on."""

    def __init__(self, encoder: documents.Encoder, prose_sentences: List[str]):
        space_id = encoder.piece_id("\u2581")
        space_id = -1 if space_id is None else space_id
        end_id = encoder.piece_id(tasks.END)
        if end_id is not None:
            self.end_ids = [end_id]
        else:
            self.end_ids = encoder.encode(tasks.END)
            # A SentencePiece-style tokenizer starts a text with a lone "▁";
            # after the answer there is none (as for the answer itself).
            if len(self.end_ids) > 1 and self.end_ids[0] == space_id:
                self.end_ids = self.end_ids[1:]
        super().__init__(encoder.encode, self.end_ids[-1], prose_sentences, space_id)
        # The filler's token counts in one go: through `infini tokenize`, one
        # process instead of one per sentence of the first long document
        # (where it cannot batch, the prose is counted as it is drawn).
        fillers = list(dict.fromkeys(list(tasks.REPEAT_FILLER) + [tasks.DOCUMENT_PREFIX + tasks.INSTRUCTION]
                                     + (list(prose_sentences) if encoder.batched else [])))
        for sentence, ids in zip(fillers, encoder.encode_many(fillers)):
            self._count[sentence] = len(ids)

    def make(self, *args, **kwargs) -> tasks.Sample:
        sample = super().make(*args, **kwargs)
        if len(self.end_ids) > 1:
            sample.ids = sample.ids[:-1] + self.end_ids
        return sample


class Curriculum:
    """Document lengths and key depths as functions of progress p in [0, 1]."""

    def __init__(self, lengths: List[int]):
        self.lengths = sorted(lengths)

    def allowed(self, p: float) -> List[int]:
        # Short documents first: a key one or two folds back is the first
        # thing retrieval through memory can learn.
        cap = self.lengths[-1] if p >= 0.3 else max(self.lengths[0], self.lengths[-1] // (4 if p < 0.1 else 2))
        return [n for n in self.lengths if n <= cap] or self.lengths[:1]

    @staticmethod
    def depth(p: float, rng: random.Random) -> float:
        # train.py's schedule, which taught the demo model retrieval from
        # scratch: half the keys next to the question at first (the copy is
        # learnt there, then reached for through memory), 10% from 30% on;
        # the others start just before the question and spread to any depth
        # by 35%. (Fixed 15% and a 30% start spread learnt nothing through
        # memory in 2,000 steps: docs/continual-training.md.)
        if rng.random() < 0.5 - 0.4 * min(1.0, p / 0.3):
            return 1.0
        spread = 0.1 + 0.9 * min(1.0, p / 0.35)
        return 1.0 - rng.random() * spread


def draw_batch(args, step: int, p: float, curriculum: Curriculum, maker, text_docs, segment: int):
    rng = random.Random(args.seed * 1_000_003 + step)
    allowed = curriculum.allowed(p)
    segments = rng.choices(allowed, [2.0 if n == allowed[-1] else 1.0 for n in allowed])[0]
    batch = max(1, args.tokens_per_step // (segments * segment))
    samples = []
    for _ in range(batch):
        if text_docs is None or (maker is not None and rng.random() < args.synthetic_share):
            # The document ends anywhere in its last segment, so the question
            # sits at any offset (train.py learnt this the hard way).
            target = (segments - 1) * segment + rng.randint(segment // 8 + 1, segment) - 16
            s = maker.make("passkey", "prose" if rng.random() < 0.2 else "repeat", max(16, target),
                           rng, depth=Curriculum.depth(p, rng))
            samples.append(Sample(s.ids, s.answer_start))
        else:
            samples.append(Sample(documents.draw_window(text_docs, segments * segment, rng)))
    return samples, segments


def collate(samples: List[Sample], segment: int, device: str):
    longest = max(len(s.ids) for s in samples)
    T = -(-longest // segment) * segment
    B = len(samples)
    ids = torch.zeros(B, T, dtype=torch.long)
    lm = torch.zeros(B, T, dtype=torch.bool)       # position t predicts ids[t+1]
    answer = torch.zeros(B, T, dtype=torch.bool)
    key = torch.zeros(B, T, dtype=torch.bool)
    for b, s in enumerate(samples):
        ids[b, :len(s.ids)] = torch.tensor(s.ids)
        lm[b, :len(s.ids) - 1] = True
        if s.answer_start is not None:
            answer[b, s.answer_start - 1:len(s.ids) - 1] = True
            key[b, s.answer_start - 1] = True
    targets = torch.roll(ids, -1, dims=1)
    return [t.to(device) for t in (ids, targets, lm, answer, key)]


def train_step(model, batch, args, answer_weight: float):
    """Forward and backward over the document in chunks of --bptt segments
    (all at once without it), the memory carried from chunk to chunk.
    Returns (lm loss, answer loss, per-document teacher-forced exact, and
    whether the answer's first token, the one only retrieval can give, is
    right)."""
    ids, targets, lm_mask, answer_mask, key_mask = batch
    S = model.config.segment_size
    # Without gradients the chunks change nothing: one pass.
    chunk = (args.bptt if args.bptt and torch.is_grad_enabled() else ids.shape[1] // S) * S
    lm_count = lm_mask.sum().clamp(min=1)
    docs_with_answer = answer_mask.any(dim=1)
    answer_count = answer_mask.sum(dim=1).clamp(min=1)
    key_count = key_mask.sum().clamp(min=1)
    memory = None
    lm_total, answer_total = 0.0, 0.0
    correct = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    first = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    for start in range(0, ids.shape[1], chunk):
        part = slice(start, start + chunk)
        with torch.autocast(device_type=args.device, dtype=torch.bfloat16):
            logits, memory = continual_forward.forward(model, ids[:, part], memory,
                                                       memory_fp32=not args.memory_bf16,
                                                       grad_checkpoint=args.grad_checkpoint)
        logp = F.cross_entropy(logits.float().transpose(1, 2), targets[:, part], reduction="none")
        lm = (logp * lm_mask[:, part]).sum() / lm_count
        # Per document, then averaged over the documents that have an answer;
        # the answer's first token (the one only retrieval can give) again.
        answer = ((logp * answer_mask[:, part]).sum(dim=1) / answer_count).sum() / docs_with_answer.sum().clamp(min=1)
        answer = answer + (logp * key_mask[:, part]).sum() / key_count
        loss = lm + answer_weight * answer
        if loss.requires_grad:
            loss.backward()
        lm_total += lm.item()
        answer_total += answer.item()
        hit = logits.argmax(-1) == targets[:, part]
        correct &= (hit | ~answer_mask[:, part]).all(dim=1)
        first &= (hit | ~key_mask[:, part]).all(dim=1)
        memory = [m.detach() for m in memory]  # truncated BPTT: the gradient stops here
    return lm_total, answer_total, correct[docs_with_answer], first[docs_with_answer]


def evaluate(model, maker, args, segment: int, lengths=(1024, 2048, 4096)) -> Dict[int, str]:
    """Teacher-forced exact match on passkey documents, depths spread evenly
    (so some keys share the question's segment at short lengths), and the
    share whose first answer token is right: "exact/first"."""
    model.eval()
    out = {}
    with torch.no_grad():
        for length in lengths:
            rng = random.Random(4242 + length)
            hits, firsts = 0, 0
            trials = args.eval_trials
            for i in range(trials):
                s = maker.make("passkey", "repeat", length - 24, rng, depth=0.9 * (i + 0.5) / trials)
                batch = collate([Sample(s.ids, s.answer_start)], segment, args.device)
                _, _, correct, first = train_step(model, batch, args, 0.0)
                hits += int(correct.sum())
                firsts += int(first.sum())
            out[length] = f"{hits / trials:.2f}/{firsts / trials:.2f}"
    model.train()
    return out


def progress(args, step: int, trained: float) -> float:
    if args.minutes:
        return min(1.0, trained / (args.minutes * 60))
    return min(1.0, step / max(1, args.steps))


def learning_rate_scale(p: float, step: int) -> float:
    warm = min(1.0, (step + 1) / 20)
    return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a converted checkpoint (infini convert)")
    ap.add_argument("--out", required=True, help="where the trained checkpoint is written")
    ap.add_argument("--work", required=True, help="training checkpoint and log")
    ap.add_argument("--text", help="a directory of .txt documents or a .jsonl file")
    ap.add_argument("--synthetic-share", type=float, default=None,
                    help="share of synthetic passkey documents (default 1 without --text, else 0)")
    ap.add_argument("--minutes", type=float, default=0, help="training budget, in total over resumes")
    ap.add_argument("--steps", type=int, default=0, help="training budget in steps (when no --minutes)")
    ap.add_argument("--lengths", default="2,4,8,16", help="document lengths in segments")
    ap.add_argument("--tokens-per-step", type=int, default=16384)
    ap.add_argument("--lr", type=float, default=1e-4, help="base learning rate (a pretrained model)")
    ap.add_argument("--gate-lr", type=float, default=1e-2, help="the gates' own rate, no weight decay")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--answer-weight", type=float, default=2.0)
    ap.add_argument("--bptt", type=int, default=0, help="cut the gradient every K segments (0: never)")
    ap.add_argument("--memory-bf16", action="store_true", help="memory products in bf16 (faster on CPU)")
    ap.add_argument("--grad-checkpoint", action="store_true", help="recompute activations per layer")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-lengths", default="1024,2048,4096")
    ap.add_argument("--eval-trials", type=int, default=8)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--train-only", default="",
                    help="comma-separated name fragments (e.g. q_proj,k_proj,v_proj): only the weights "
                         "whose names contain one are trained, and the gates when --gate-lr > 0; "
                         "the rest stays the pretrained model's")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--infini", help="the infini binary that tokenises a tokenizer.json when the "
                    "`tokenizers` package is missing (default: $INFINI_BIN, else build/bin/infini)")
    args = ap.parse_args()
    if not args.minutes and not args.steps:
        ap.error("give a budget: --minutes or --steps")
    if args.bptt < 0:
        ap.error("--bptt must be >= 0")
    lengths = [int(x) for x in args.lengths.split(",") if x.strip()]
    if not lengths or min(lengths) < 1:
        ap.error("--lengths: positive segment counts, e.g. 2,4,8,16")
    if args.synthetic_share is None:
        args.synthetic_share = 0.0 if args.text else 1.0
    if not 0.0 <= args.synthetic_share <= 1.0:
        ap.error("--synthetic-share must be in [0, 1]")
    if not args.text and args.synthetic_share == 0.0:
        ap.error("no data: give --text or a --synthetic-share above 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    log = open(os.path.join(args.work, "continual.log"), "a")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    try:
        model, raw_config, stored_dtype = hf_checkpoint.load_model(args.model, torch.float32)
        encoder = documents.load_encoder(args.model, args.infini)
        text_docs = (documents.read_documents(args.text, encoder, model.config.vocab_size)
                     if args.text else None)
    except (hf_checkpoint.CheckpointError, documents.DocumentError) as e:
        print(f"continual.py: {e}", file=sys.stderr)
        return 2
    segment = model.config.segment_size
    model.to(args.device)
    maker = None
    if args.synthetic_share > 0 or args.eval_every:
        try:
            maker = PasskeyTasks(encoder, prose.load_sentences(*prose.TRAIN_SOURCES))
        except documents.DocumentError as e:
            print(f"continual.py: {e}", file=sys.stderr)
            return 2

    only = [f for f in args.train_only.split(",") if f]
    names = [n for n, _ in model.named_parameters()]
    for fragment in only:
        if not any(fragment in n for n in names):
            print(f"continual.py: --train-only {fragment!r} matches no weight of {args.model} "
                  f"(names look like {names[1]!r})", file=sys.stderr)
            return 2
    if only:
        for n, p in model.named_parameters():
            p.requires_grad_(n.endswith("memory_gate") or any(f in n for f in only))
    if args.gate_lr <= 0:
        for n, p in model.named_parameters():
            if n.endswith("memory_gate"):
                p.requires_grad_(False)
    gates = [p for n, p in model.named_parameters() if n.endswith("memory_gate")]
    decayed = [p for n, p in model.named_parameters()
               if not n.endswith("memory_gate") and p.dim() >= 2 and p.requires_grad]
    plain = [p for n, p in model.named_parameters()
             if not n.endswith("memory_gate") and p.dim() < 2 and p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": decayed, "base_lr": args.lr, "weight_decay": args.weight_decay},
        {"params": plain, "base_lr": args.lr, "weight_decay": 0.0},
        {"params": gates, "base_lr": args.gate_lr, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    state_path = os.path.join(args.work, "continual.pt")
    step, trained = 0, 0.0
    if os.path.exists(state_path):
        saved = torch.load(state_path, map_location=args.device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, trained = saved["step"], saved["elapsed"]
        say(f"resumed from {state_path} at step {step} ({trained / 60:.1f} min trained)")
    curriculum = Curriculum(lengths)
    eval_lengths = [int(x) for x in args.eval_lengths.split(",") if x.strip()]
    say(f"continual training of {args.model}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M "
        f"parameters, segment {segment}, {model.config.memory_update} memory, documents of {lengths} "
        f"segments, {'user text' if text_docs else 'synthetic passkey'}"
        f"{' + synthetic %.0f%%' % (100 * args.synthetic_share) if text_docs and args.synthetic_share else ''}"
        f", lr {args.lr:g}, gate lr {args.gate_lr:g}, bptt {args.bptt or 'off'}, memory "
        f"{'bf16' if args.memory_bf16 else 'fp32'}, on {args.device} ({args.threads} threads)")
    if maker is not None and args.eval_every and step == 0:
        say("eval before training (teacher-forced exact/first token): " + ", ".join(
            f"{k} {v}" for k, v in evaluate(model, maker, args, segment, eval_lengths).items()))

    def save_state() -> None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "elapsed": trained + time.time() - start}, state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)

    start = time.time()
    last_save = start
    tokens = 0
    while True:
        p = progress(args, step, trained + time.time() - start)
        if p >= 1.0:
            break
        samples, segments = draw_batch(args, step, p, curriculum, maker, text_docs, segment)
        batch = collate(samples, segment, args.device)
        optimizer.zero_grad(set_to_none=True)
        lm, answer, correct, first = train_step(model, batch, args, args.answer_weight)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scale = learning_rate_scale(p, step)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * scale
        optimizer.step()
        step += 1
        tokens += batch[0].numel()
        now = time.time()
        if step % 10 == 0 or step == 1:
            g = torch.sigmoid(torch.cat([x.detach().float() for x in gates]))
            exact = (f"{correct.float().mean().item():.2f} first {first.float().mean().item():.2f}"
                     if correct.numel() else "-")
            say(f"step {step} p {p:.2f} len {segments * segment} x{len(samples)} lm {lm:.3f} "
                f"answer {answer:.3f} exact {exact} gates {g.min().item():.3f}-{g.max().item():.3f} "
                f"(mean {g.mean().item():.3f}) {tokens / (now - start):.0f} tok/s, "
                f"{(trained + now - start) / 60:.1f} min")
        if maker is not None and args.eval_every and step % args.eval_every == 0:
            say("eval (teacher-forced exact/first token): " + ", ".join(
                f"{k} {v}" for k, v in evaluate(model, maker, args, segment, eval_lengths).items()))
        if now - last_save > args.checkpoint_minutes * 60:
            save_state()
            last_save = now
        if args.steps and step >= args.steps:
            break
    save_state()
    elapsed = trained + time.time() - start
    report = {"source": os.path.abspath(args.model), "steps": step, "train_minutes": round(elapsed / 60, 2),
              "device": args.device, "lr": args.lr, "gate_lr": args.gate_lr, "lengths": lengths,
              "tokens_per_step": args.tokens_per_step, "bptt": args.bptt,
              "memory": "bf16" if args.memory_bf16 else "fp32",
              "gates": [round(float(torch.sigmoid(x).mean()), 4) for x in gates]}
    if maker is not None and args.eval_every:
        report["teacher_forced_exact_first"] = {str(k): v for k, v in
                                                evaluate(model, maker, args, segment, eval_lengths).items()}
        say(f"final eval (teacher-forced exact/first token): {report['teacher_forced_exact_first']}")
    hf_checkpoint.save_model(args.out, model.cpu(), raw_config, args.model, stored_dtype)
    with open(os.path.join(args.out, "continual-report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    say(f"wrote {args.out} after {elapsed / 60:.1f} min of continual training ({step} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What differs between the demo model's training runs (train.py --recipe):
the shipped model's (gen1), the second generation's (gen2, issue #17) and
its variants. Everything not named in a Recipe is train.py's, shared by all.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

LENGTHS = [2, 4, 8, 16, 32, 64, 128, 256]  # document lengths in segments
# Mostly passkey: with 45% of other tasks a 30-minute CPU run learnt local
# copying but no retrieval through memory (see the model card).
TASK_MIX = [("passkey", "repeat", 0.70), ("passkey", "prose", 0.15), ("needle", "repeat", 0.10),
            ("summary", "repeat", 0.05)]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What differs between the shipped model's run (gen1) and the second
    generation (gen2, issue #17). Everything not named here is shared."""
    name: str
    segment: int                      # tokens per segment (one memory fold each)
    heads: int
    head_dim: int
    lengths: Tuple[int, ...]          # stage one's document lengths, in segments
    length_stages: Tuple[Tuple[float, int], ...]  # (progress below which, longest allowed)
    passkey_only_until: float         # progress: passkey with repeated filler only before it
    task_mix: Tuple[Tuple[str, str, float], ...]
    focus_mix: Tuple[Tuple[str, str, float], ...]
    focus_lengths: Tuple[int, ...]
    focus_length_weights: Tuple[float, ...]
    # Answer-loss weight per task (None: gen1's batch-wide terms, unchanged).
    task_weights: Optional[Tuple[Tuple[str, float], ...]]
    eval_lengths: Tuple[int, ...]     # teacher-forced checks during training, tokens
    # Weight of the term on the answer's pieces after the first in stage one
    # (stage two has FocusStage.LATER_WEIGHT). gen1 had none, and its second
    # digit group collapsed to a constant guess until stage two (run 12).
    stage_one_later_weight: float = 0.0
    # A model directory whose weights start the run (same shape, any segment
    # size); the run is then stage two (FocusStage) only, from step 0.
    warm_start: Optional[str] = None


RECIPES = {
    # The shipped model (models/demo, model card run 12).
    "gen1": Recipe(
        name="gen1", segment=64, heads=4, head_dim=48, lengths=tuple(LENGTHS),
        length_stages=((0.05, 8), (0.15, 32), (0.45, 64), (0.65, 128), (1.01, 256)),
        passkey_only_until=0.45, task_mix=tuple(TASK_MIX),
        focus_mix=(("passkey", "repeat", 0.85), ("passkey", "prose", 0.15)),
        focus_lengths=(2, 4, 8, 16, 32, 64, 128, 256),
        focus_length_weights=(1, 1, 1, 1, 1, 1, 0.5, 0.5), task_weights=None,
        eval_lengths=(2048, 8192, 32768)),
    # Issue #17. Reach is bounded by memory folds, not tokens: segments of
    # 256 make 1M tokens 4,096 folds (gen1: 16,384), and documents of up to
    # 512 folds (128K tokens) give the ~8x margin gen1 had past its longest
    # document (256 folds reached ~4,096). Wider heads (64: memory holds
    # 4 x 64^2 associations per layer against 4 x 48^2). Needles and
    # summaries get a share of both stages and per-document answer weights,
    # so a summary's 20 tokens neither drown a key's two nor vanish.
    "gen2": Recipe(
        name="gen2", segment=256, heads=4, head_dim=64,
        lengths=(2, 4, 8, 16, 32, 64, 128, 256),
        length_stages=((0.05, 8), (0.15, 32), (0.35, 64), (0.55, 128), (1.01, 256)),
        passkey_only_until=0.35,
        task_mix=(("passkey", "repeat", 0.45), ("passkey", "prose", 0.15), ("needle", "repeat", 0.25),
                  ("summary", "repeat", 0.15)),
        focus_mix=(("passkey", "repeat", 0.35), ("passkey", "prose", 0.20), ("needle", "repeat", 0.25),
                   ("needle", "prose", 0.05), ("summary", "repeat", 0.15)),
        focus_lengths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
        focus_length_weights=(1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25),
        task_weights=(("passkey", 1.0), ("needle", 1.5), ("summary", 1.5)),
        eval_lengths=(4096, 32768), stage_one_later_weight=2.0),
    # Issue #17, the cheaper road: the shipped model already retrieves keys
    # through memory at every length it was trained on, so start from its
    # weights (its shape: heads of 48) instead of from scratch, widen the
    # segment to 128 (1M tokens = 8,192 folds; the state stays 0.7 MiB
    # where 256 would make it 1.3 MiB) and train gen2's stage two: all three
    # tasks, documents to 512 folds (64K tokens).
    "gen2-warm": Recipe(
        name="gen2-warm", segment=128, heads=4, head_dim=48,
        lengths=(2, 4, 8, 16, 32, 64, 128, 256),
        length_stages=((1.01, 256),), passkey_only_until=0.0,
        task_mix=(("passkey", "repeat", 1.0),),
        focus_mix=(("passkey", "repeat", 0.35), ("passkey", "prose", 0.20), ("needle", "repeat", 0.25),
                   ("needle", "prose", 0.05), ("summary", "repeat", 0.15)),
        focus_lengths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
        focus_length_weights=(1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25),
        task_weights=(("passkey", 1.0), ("needle", 1.5), ("summary", 1.5)),
        eval_lengths=(4096, 32768), warm_start=os.path.join(ROOT, "models", "demo")),
}

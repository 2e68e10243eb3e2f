"""English prose sentences from documentation a Debian package installs.

The GNU Coding Standards (package `gnu-standards`) give the training filler;
the GNU Maintainer Information from the same package is held out for the
evaluation (models/demo/eval-prose.txt). Both are plain-text manuals: we keep
sentences of ordinary prose and drop headings, menus, code and tables.
"""

from __future__ import annotations

import gzip
import re
from typing import List

DOC_DIR = "/usr/share/doc/gnu-standards"
TRAIN_SOURCES = [f"{DOC_DIR}/standards.text.gz", "/usr/share/common-licenses/GPL-3",
                 "/usr/share/common-licenses/GPL-2", "/usr/share/common-licenses/Apache-2.0"]
EVAL_SOURCE = f"{DOC_DIR}/maintain.text.gz"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ALLOWED = re.compile(r"^[A-Za-z0-9 ,.;:!?'()\-]+$")


def _paragraphs(text: str) -> List[str]:
    paragraphs, current = [], []
    for line in text.splitlines():
        stripped = line.strip()
        # Code, examples and menus are indented by 5+ spaces or start with '*'.
        if not stripped or line.startswith("     ") or stripped.startswith(("*", "=", "-", "'")):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def sentences_from_text(text: str) -> List[str]:
    out = []
    for paragraph in _paragraphs(text):
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = " ".join(sentence.split())
            if not (30 <= len(sentence) <= 240) or not sentence.endswith("."):
                continue
            if len(sentence.split()) < 6 or not _ALLOWED.match(sentence):
                continue
            # Our task sentences must not occur in the filler.
            lowered = sentence.lower()
            if "pass key" in lowered or "door" in lowered or "key fact" in lowered:
                continue
            out.append(sentence)
    return out


def load_sentences(*paths: str) -> List[str]:
    sentences = []
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            sentences += sentences_from_text(f.read())
    if len(sentences) < 200:
        raise RuntimeError(f"{paths}: only {len(sentences)} prose sentences; is gnu-standards installed?")
    return sentences

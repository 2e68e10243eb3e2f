"""Training documents in the format of docs/demo-tasks.md (the contract with
`infini eval`): passkey (repeated or prose filler), key-value needles and
key-fact summaries, reproducible from a seeded random.Random.

A sample is the text the server would see (document, prompt, answer) and
the token ids the model is trained on, built exactly as the server builds
them: encode(prefix + document) + encode(prompt), then the answer's ids
(encode(answer) without a leading lone "▁") and <end>.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Callable, Dict, List, Optional, Sequence

INSTRUCTION = ("There is an important info hidden inside a lot of irrelevant text. "
               "Find it and memorize them. I will quiz you about the important information there.")
REPEAT_FILLER = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                 "There and back again."]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "brown", "pink"]
NAMES = ["Anna", "Omar", "Lena", "Ivan", "Maria", "Kenji", "Sara", "Pablo", "Nina", "Tom", "Eva",
         "Ali", "Rosa", "Yuki", "Paul", "Mira"]
CITIES = ["Paris", "Rome", "Oslo", "Cairo", "Lima", "Tokyo", "Delhi", "Quito", "Seoul", "Dakar",
          "Hanoi", "Riga", "Bern", "Perth", "Sofia", "Lagos"]

DOCUMENT_PREFIX = "<doc>"
QUESTION_TEMPLATE = "<question> {question} <answer>"
SUMMARY_PROMPT = "<summary>"
END = "<end>"
SPECIAL_PIECES = ["<doc>", "<question>", "<answer>", "<summary>", "<end>"]
PROMPT_TEMPLATE = {"document_prefix": DOCUMENT_PREFIX, "question": QUESTION_TEMPLATE,
                   "summary": SUMMARY_PROMPT, "stop": [END]}


@dataclasses.dataclass
class Sample:
    task: str
    document: str
    prompt: str
    answer: str
    ids: List[int]          # document, prompt, answer, <end>
    answer_start: int       # index in ids of the first answer token
    doc_tokens: int


class Filler:
    """Endless filler sentences: the paper's five, or prose lines from a random start."""

    def __init__(self, kind: str, prose: Sequence[str], rng: random.Random):
        self.sentences = REPEAT_FILLER if kind == "repeat" else prose
        self.next = 0 if kind == "repeat" else rng.randrange(len(prose))

    def take(self) -> str:
        s = self.sentences[self.next]
        self.next = (self.next + 1) % len(self.sentences)
        return s


class TaskMaker:
    def __init__(self, encode: Callable[[str], List[int]], end_id: int, prose: Sequence[str],
                 space_id: int = -1):
        self.encode = encode
        self.end_id = end_id
        self.space_id = space_id
        self.prose = prose
        self._count: Dict[str, int] = {}

    def tokens_of(self, sentence: str) -> int:
        n = self._count.get(sentence)
        if n is None:
            n = len(self.encode(sentence))
            self._count[sentence] = n
        return n

    def _filler(self, kind: str, budget: int, rng: random.Random) -> List[str]:
        filler = Filler(kind, self.prose, rng)
        out, used = [], 0
        while used < budget:
            s = filler.take()
            out.append(s)
            used += self.tokens_of(s)
        return out

    @staticmethod
    def _insert(filler: List[str], placed: List[tuple]) -> List[str]:
        """placed: (depth, sentence); inserted before filler[round(depth * F)]."""
        slots: Dict[int, List[str]] = {}
        for depth, sentence in sorted(placed, key=lambda p: p[0]):
            slots.setdefault(round(depth * len(filler)), []).append(sentence)
        out = []
        for i in range(len(filler) + 1):
            out.extend(slots.get(i, []))
            if i < len(filler):
                out.append(filler[i])
        return out

    def make(self, task: str, filler_kind: str, target_tokens: int, rng: random.Random,
             depth: Optional[float] = None, items: Optional[int] = None) -> Sample:
        """A document of about target_tokens tokens; `depth` of the asked sentence
        (None: uniform in [0, 1])."""
        if depth is None:
            depth = rng.random()
        if task == "passkey":
            key = rng.randint(10000, 99999)
            placed = [(depth, f"The pass key is {key}. Remember it. {key} is the pass key.")]
            question, answer = "What is the pass key?", str(key)
        elif task == "needle":
            n = items if items is not None else rng.randint(2, 6)
            colours = rng.sample(COLOURS, n)
            codes = [rng.randint(1000, 9999) for _ in colours]
            asked = rng.randrange(n)
            placed = [(depth if i == asked else rng.random(), f"The code of the {c} door is {code}.")
                      for i, (c, code) in enumerate(zip(colours, codes))]
            question, answer = f"What is the code of the {colours[asked]} door?", str(codes[asked])
        elif task == "summary":
            n = items if items is not None else rng.randint(2, 4)
            names = rng.sample(NAMES, n)
            cities = [rng.choice(CITIES) for _ in names]
            depths = [depth] + [depth + (1.0 - depth) * rng.random() for _ in range(n - 1)]
            facts = [f"{name} lives in {city}." for name, city in zip(names, cities)]
            placed = [(d, f"Key fact: {f}") for d, f in zip(depths, facts)]
            # Document order: by depth, ties in list order (sorted() is stable).
            order = sorted(range(n), key=lambda i: depths[i])
            question, answer = None, " ".join(facts[i] for i in order)
        else:
            raise ValueError(f"unknown task {task!r}")

        fixed = (self.tokens_of(DOCUMENT_PREFIX + INSTRUCTION)
                 + sum(self.tokens_of(s) for _, s in placed))
        filler = self._filler(filler_kind, max(0, target_tokens - fixed), rng)
        document = INSTRUCTION + " " + " ".join(self._insert(filler, placed))
        prompt = (QUESTION_TEMPLATE.replace("{question}", question) if question is not None
                  else SUMMARY_PROMPT)
        doc_ids = self.encode(DOCUMENT_PREFIX + document)
        prompt_ids = self.encode(prompt)
        answer_ids = self.encode(answer)
        # The answer follows <answer> directly: a lone "▁" first would make the
        # model find the key from a token shared by every number and marker
        # (a run trained that way copied every digit but the first).
        if len(answer_ids) > 1 and answer_ids[0] == self.space_id:
            answer_ids = answer_ids[1:]
        answer_ids = answer_ids + [self.end_id]
        ids = doc_ids + prompt_ids + answer_ids
        start = len(doc_ids) + len(prompt_ids)
        return Sample(task, document, prompt, answer, ids, start, len(doc_ids))

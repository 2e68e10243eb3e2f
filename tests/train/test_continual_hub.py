"""Continual training of a Hub-shaped checkpoint end to end (CTest:
train.continual_hub): what a user with Qwen3's files does, in miniature.

1. make_hf_checkpoint.py --family qwen3 --tiny: Qwen3's layout and real
   tokenizer.json (byte-level BPE), random weights at hidden 64;
2. infini convert --segment 16 --update delta;
3. continual.py --steps 2 on a folder of .txt documents, then on the
   synthetic passkey task (whose <end> is several tokens in this
   vocabulary), with an evaluation; the tokenizer.json is read by
   `infini tokenize` where the `tokenizers` package is missing;
4. each trained directory loads in `infini run`, its tokenizer files the
   source's.

    /usr/bin/python3 tests/train/test_continual_hub.py [--infini BIN]
"""

import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))

import torch  # noqa: E402

import documents  # noqa: E402
import hf_checkpoint  # noqa: E402

PYTHON = "/usr/bin/python3"  # Debian's PyTorch
INFINI = None  # --infini, else documents.find_infini()

DOCUMENTS = {
    "a.txt": "The grass is green. The sky is blue. The sun is yellow. Here we go. " * 6,
    "b.txt": "<|im_start|>user\nCaf\u00e9 costs 12345 \u20ac.<|im_end|>\n" * 8,
    "sub/c.txt": "There and back again. The pass key is 71432. Remember it. " * 6,
}


def run(argv, timeout=120):
    start = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    shown = " ".join([os.path.basename(argv[0]), os.path.basename(argv[1])] + argv[2:])
    print(f"  {time.time() - start:5.1f} s  {shown[:140]}", flush=True)
    if done.returncode != 0:
        raise AssertionError(f"{argv} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


class ContinualHubTest(unittest.TestCase):
    def test_qwen3_converted_trains_and_loads(self):
        infini = INFINI or documents.find_infini()
        with tempfile.TemporaryDirectory() as tmp:
            hf, converted = os.path.join(tmp, "hf"), os.path.join(tmp, "converted")
            run([PYTHON, os.path.join(ROOT, "tools", "reference", "make_hf_checkpoint.py"),
                 "--family", "qwen3", "--tiny", "--layers", "1", "--out", hf])
            run([infini, "convert", "--from", hf, "--out", converted, "--segment", "16",
                 "--update", "delta"])
            text = os.path.join(tmp, "text")
            for name, body in DOCUMENTS.items():
                os.makedirs(os.path.dirname(os.path.join(text, name)), exist_ok=True)
                with open(os.path.join(text, name), "w", encoding="utf-8") as f:
                    f.write(body)
            common = ["--steps", "2", "--lengths", "2", "--tokens-per-step", "64", "--lr", "1e-3",
                      "--device", "cpu", "--threads", "2", "--infini", infini]
            runs = {
                "text": ["--text", text, "--eval-every", "0"],
                "synthetic": ["--eval-every", "1", "--eval-lengths", "48", "--eval-trials", "1"],
                # Only the attention's projections learn; everything else,
                # the gates included (--gate-lr 0), stays the converted model's.
                "qkv": ["--text", text, "--eval-every", "0", "--gate-lr", "0",
                        "--train-only", "q_proj,k_proj,v_proj"],
            }
            doc = os.path.join(tmp, "doc.txt")
            with open(doc, "w", encoding="utf-8") as f:
                f.write(DOCUMENTS["sub/c.txt"])
            for name, extra in runs.items():
                out, work = os.path.join(tmp, "out-" + name), os.path.join(tmp, "work-" + name)
                done = run([PYTHON, os.path.join(ROOT, "tools", "train", "continual.py"),
                            "--model", converted, "--out", out, "--work", work] + common + extra)
                self.assertIn("synthetic passkey" if name == "synthetic" else "user text", done.stdout)
                if name == "qkv":
                    before, after = hf_checkpoint.read_tensors(converted), hf_checkpoint.read_tensors(out)
                    changed = sorted(n for n in after if not torch.equal(before[n], after[n]))
                    self.assertTrue(changed)
                    self.assertTrue(all(any(f in n for f in ("q_proj", "k_proj", "v_proj"))
                                        for n in changed), changed)
                with open(os.path.join(out, "continual-report.json")) as f:
                    report = json.load(f)
                self.assertEqual(report["steps"], 2)
                if name == "synthetic":
                    self.assertIn("48", report["teacher_forced_exact_first"])
                for companion in ("tokenizer.json", "tokenizer_config.json"):
                    self.assertTrue(filecmp.cmp(os.path.join(hf, companion),
                                                os.path.join(out, companion), shallow=False),
                                    companion)
                with open(os.path.join(out, "config.json")) as f:
                    config = json.load(f)
                self.assertEqual((config["segment_size"], config["memory_update"]), (16, "delta"))
                self.assertEqual(config["architectures"], ["Qwen3ForCausalLM"])
                done = run([infini, "run", "--model", out, "--doc", doc, "--question",
                            "What is the pass key?", "--max-tokens", "4", "--no-progress"])
                self.assertIn("segment 16 tokens", done.stderr)
                self.assertIn("memory on", done.stderr)
            bad = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "train", "continual.py"),
                                  "--model", converted, "--out", os.path.join(tmp, "o"), "--work",
                                  os.path.join(tmp, "w"), "--train-only", "q_proj,qproj"] + common
                                 + runs["text"], capture_output=True, text=True, timeout=120)
            self.assertEqual(bad.returncode, 2, bad.stderr)
            self.assertIn("--train-only 'qproj' matches no weight", bad.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "o")))


if __name__ == "__main__":
    from infini_flag import split_infini_flag
    INFINI, argv = split_infini_flag(sys.argv)
    unittest.main(argv=argv)

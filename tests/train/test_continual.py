"""Unit tests of the continual-training recipe's pieces (CTest: train.continual).

- continual_forward equals the reference model (float64): logits and final
  memory, whole and in chunks with the memory carried, MHA and GQA, linear
  and delta; gradients equal with and without layer checkpointing; memory
  forced off equals a plain Llama inside a segment; the same for every
  family the engine loads (Qwen2 biases, Qwen3 q/k norms, Llama 3.x
  rope_scaling "llama3").
- hf_checkpoint: a single file and shards + index round-trip, Qwen3 and
  Llama 3.x included; what the training model cannot represent is refused
  naming the key.
- documents: .txt folders and JSONL (text or ids) read; bad lines refused.
"""

import json
import os
import sys
import tempfile
import unittest

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))

import dataclasses  # noqa: E402

import continual_forward  # noqa: E402
import documents  # noqa: E402
import hf_checkpoint  # noqa: E402
from infini_reference import InfiniConfig, random_model, write_safetensors  # noqa: E402


def config(update="delta", heads=4, kv_heads=4, segment=8) -> InfiniConfig:
    return InfiniConfig(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=8,
                        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
                        segment_size=segment, memory_update=update)


# Llama 3.x's frequency adjustment with a context small enough that it
# changes some of head_dim 8's four frequencies (the test's segments are 8).
LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}


def family(name: str, cfg: InfiniConfig) -> InfiniConfig:
    """cfg as one of the Hugging Face families the engine loads."""
    return {"llama": cfg,
            "llama3.2": dataclasses.replace(cfg, rope_scaling=LLAMA3_ROPE),
            "qwen2": dataclasses.replace(cfg, architecture="Qwen2ForCausalLM"),
            "qwen3": dataclasses.replace(cfg, architecture="Qwen3ForCausalLM")}[name]


def ids_for(cfg, segments, batch=2, seed=5):
    return torch.randint(0, cfg.vocab_size, (batch, segments * cfg.segment_size),
                         generator=torch.Generator().manual_seed(seed))


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


class ForwardTest(unittest.TestCase):
    def test_equals_reference_whole_and_chunked(self):
        for update in ("linear", "delta"):
            for heads, kv in ((4, 4), (4, 2)):
                cfg = config(update, heads, kv)
                model = random_model(cfg, seed=3, init_std=0.2)
                ids = ids_for(cfg, 5)
                with torch.no_grad():
                    expected, state = model(ids)
                    whole, memory = continual_forward.forward(model, ids)
                    # Chunks of 2, 1 and 2 segments, the memory handed on.
                    S = cfg.segment_size
                    parts, mem = [], None
                    for a, b in ((0, 2), (2, 3), (3, 5)):
                        out, mem = continual_forward.forward(model, ids[:, a * S:b * S], mem)
                        parts.append(out)
                chunked = torch.cat(parts, dim=1)
                name = f"{update} {heads}/{kv}"
                self.assertLess(rel(whole, expected), 1e-10, name)
                self.assertLess(rel(chunked, expected), 1e-10, name)
                for m, c, layer in zip(memory, mem, state.layers):
                    self.assertLess(rel(m[..., :-1], layer.memory), 1e-10, name)
                    self.assertLess(rel(m[..., -1], layer.norm), 1e-10, name)
                    self.assertLess(rel(c, m), 1e-10, name)

    def test_every_family_equals_reference(self):
        for name in ("llama3.2", "qwen2", "qwen3"):
            cfg = family(name, config("delta", 4, 2))
            model = random_model(cfg, seed=3, init_std=0.2)
            ids = ids_for(cfg, 3)
            with torch.no_grad():
                expected, state = model(ids)
                logits, memory = continual_forward.forward(model, ids)
            self.assertLess(rel(logits, expected), 1e-10, name)
            for m, layer in zip(memory, state.layers):
                self.assertLess(rel(m[..., :-1], layer.memory), 1e-10, name)

    def test_family_features_change_the_logits(self):
        # The features are applied, not ignored: the same weights without them differ.
        base = random_model(config("delta", 4, 2), seed=3, init_std=0.2)
        ids = ids_for(base.config, 3)
        with torch.no_grad():
            plain, _ = continual_forward.forward(base, ids)
            for name in ("llama3.2", "qwen3"):
                model = random_model(family(name, base.config), seed=3, init_std=0.2)
                model.load_state_dict(base.state_dict(), strict=False)
                if name == "qwen3":  # norms with weights other than 1
                    for layer in model.model.layers:
                        layer.self_attn.q_norm.weight.fill_(1.5)
                        layer.self_attn.k_norm.weight.fill_(0.5)
                logits, _ = continual_forward.forward(model, ids)
                self.assertGreater(rel(logits, plain), 1e-3, name)

    def test_layer_checkpointing_same_gradients(self):
        cfg = config()
        model = random_model(cfg, seed=3, init_std=0.2)
        ids = ids_for(cfg, 4, seed=7)
        grads = []
        for checkpointed in (False, True):
            model.zero_grad()
            logits, _ = continual_forward.forward(model, ids, grad_checkpoint=checkpointed)
            logits.square().mean().backward()
            grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        self.assertLess(rel(grads[1], grads[0]), 1e-10)

    def test_gradient_reaches_earlier_segments_through_memory(self):
        cfg = config()
        model = random_model(cfg, seed=3, init_std=0.2)
        emb = model.model.embed_tokens.weight
        ids = ids_for(cfg, 3, batch=1)
        logits, _ = continual_forward.forward(model, ids)
        # The last segment's logits depend on the first segment only through memory.
        logits[:, -cfg.segment_size:].sum().backward()
        first = ids[0, :cfg.segment_size].unique()
        self.assertGreater(emb.grad[first].abs().sum().item(), 0.0)

    def test_memory_off_is_a_plain_llama_inside_a_segment(self):
        cfg = config(segment=8)
        model = random_model(cfg, seed=4, init_std=0.2)
        ids = ids_for(cfg, 3, batch=1)
        with torch.no_grad():
            off, _ = continual_forward.forward(model, ids, gate_override=0.0)
            # A plain Llama of context 8 reads each segment on its own.
            for k in range(3):
                piece = ids[:, k * 8:(k + 1) * 8]
                alone, _ = continual_forward.forward(model, piece, gate_override=0.0)
                self.assertLess(rel(off[:, k * 8:(k + 1) * 8], alone), 1e-12)

    def test_fp32_memory_under_bf16_autocast_stays_close(self):
        cfg = config()
        model = random_model(cfg, seed=3, init_std=0.2, dtype=torch.float32)
        ids = ids_for(cfg, 6)
        with torch.no_grad():
            exact, mem_exact = continual_forward.forward(model, ids)
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                _, mem = continual_forward.forward(model, ids, memory_fp32=True)
        self.assertEqual(mem[0].dtype, torch.float32)
        self.assertLess(rel(mem[-1], mem_exact[-1]), 0.1)


class CheckpointTest(unittest.TestCase):
    def _roundtrip(self, dtype, shard_bytes, name="llama"):
        cfg = family(name, config(heads=4, kv_heads=2))
        model = random_model(cfg, seed=9, init_std=0.2, dtype=torch.float32, weight_dtype=dtype)
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            os.makedirs(src)
            raw = dict(cfg.to_dict(), max_position_embeddings=123, torch_dtype="bfloat16")
            with open(os.path.join(src, "tokenizer.model"), "wb") as f:
                f.write(b"tok")
            out = os.path.join(tmp, "out")
            hf_checkpoint.save_model(out, model, raw, src, dtype, shard_bytes=shard_bytes)
            loaded, raw2, stored = hf_checkpoint.load_model(out)
            self.assertEqual(stored, dtype)
            self.assertEqual(raw2["max_position_embeddings"], 123)  # the source's keys kept
            self.assertTrue(os.path.isfile(os.path.join(out, "tokenizer.model")))
            self.assertEqual(list(model.state_dict()), list(loaded.state_dict()))
            self.assertEqual(loaded.config.rope_scaling, cfg.rope_scaling)
            for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
                tol = 0 if dtype == torch.float32 or not n.endswith("memory_gate") else 0.02
                self.assertLessEqual((a - b).abs().max().item(), tol, n)
            return sorted(os.listdir(out))

    def test_qwen3_and_llama3_round_trip(self):
        for name in ("qwen3", "llama3.2"):
            files = self._roundtrip(torch.bfloat16, 1 << 30, name)
            self.assertIn("model.safetensors", files, name)

    def test_single_file(self):
        files = self._roundtrip(torch.float32, 1 << 30)
        self.assertIn("model.safetensors", files)
        self.assertNotIn(hf_checkpoint.INDEX, files)

    def test_shards_and_index(self):
        files = self._roundtrip(torch.bfloat16, 4096)
        self.assertIn(hf_checkpoint.INDEX, files)
        self.assertIn("memory_gates.safetensors", files)
        self.assertGreater(len([f for f in files if f.startswith("model-")]), 1)

    def _write(self, tmp, raw, tensors=None):
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(raw, f)
        if tensors is not None:
            write_safetensors(os.path.join(tmp, "model.safetensors"), tensors, torch.float32)

    def test_refusals(self):
        cfg = config()
        tensors = random_model(cfg, seed=1).checkpoint_tensors()
        cases = [
            (dict(cfg.to_dict(), rope_scaling={"rope_type": "yarn", "factor": 4.0}), tensors,
             "rope_scaling of type 'yarn'"),
            ({k: v for k, v in cfg.to_dict().items() if k != "segment_size"}, tensors, "infini convert"),
            (cfg.to_dict(), None, "neither"),
            (cfg.to_dict(), {k: v for k, v in tensors.items() if "memory_gate" not in k}, "memory_gate"),
            # q/k norms belong to Qwen3; on a Llama they are stray tensors.
            (cfg.to_dict(), dict(tensors, **{"model.layers.0.self_attn.q_norm.weight": torch.ones(8)}),
             "unexpected.*q_norm"),
        ]
        for raw, t, message in cases:
            with tempfile.TemporaryDirectory() as tmp:
                self._write(tmp, raw, t)
                with self.assertRaisesRegex(hf_checkpoint.CheckpointError, message):
                    hf_checkpoint.load_model(tmp)
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(hf_checkpoint.CheckpointError, "no config.json"):
                hf_checkpoint.load_model(tmp)

    def test_index_naming_a_missing_shard(self):
        cfg = config()
        with tempfile.TemporaryDirectory() as tmp:
            self._write(tmp, cfg.to_dict())
            with open(os.path.join(tmp, hf_checkpoint.INDEX), "w") as f:
                json.dump({"weight_map": {"model.norm.weight": "model-00001-of-00001.safetensors"}}, f)
            with self.assertRaisesRegex(hf_checkpoint.CheckpointError, "does not exist"):
                hf_checkpoint.load_model(tmp)


class DocumentsTest(unittest.TestCase):
    def encode(self, text):
        return [ord(c) % 50 for c in text]

    def test_txt_folder_and_jsonl(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "docs", "sub"))
            for name, text in (("a.txt", "hello world"), ("sub/b.txt", "x" * 40), ("c.md", "skip")):
                with open(os.path.join(tmp, "docs", name), "w") as f:
                    f.write(text)
            docs = documents.read_documents(os.path.join(tmp, "docs"), self.encode, 50)
            self.assertEqual([len(d) for d in docs], [11, 40])
            path = os.path.join(tmp, "d.jsonl")
            with open(path, "w") as f:
                f.write('{"text": "abc"}\n\n{"ids": [1, 2, 3, 4]}\n')
            self.assertEqual(documents.read_documents(path, self.encode, 50)[1], [1, 2, 3, 4])
            import random
            window = documents.draw_window(docs, 16, random.Random(1))
            self.assertEqual(len(window), 16)

    def test_bad_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.jsonl")
            with open(path, "w") as f:
                f.write('{"text": "abc"}\n{"body": 1}\n')
            with self.assertRaisesRegex(documents.DocumentError, "d.jsonl:2"):
                documents.read_documents(path, self.encode, 50)
            with open(path, "w") as f:
                f.write('{"ids": [1, 99]}\n')
            with self.assertRaisesRegex(documents.DocumentError, "outside the model's vocabulary"):
                documents.read_documents(path, self.encode, 50)
            os.makedirs(os.path.join(tmp, "empty"))
            with self.assertRaisesRegex(documents.DocumentError, "no .txt files"):
                documents.read_documents(os.path.join(tmp, "empty"), self.encode, 50)
            with self.assertRaisesRegex(documents.DocumentError, "not a directory"):
                documents.read_documents(os.path.join(tmp, "nope.csv"), self.encode, 50)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()

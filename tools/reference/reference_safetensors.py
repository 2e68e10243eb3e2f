"""safetensors read and written by hand for the PyTorch reference (split from\ninfini_reference.py, which re-exports every name)."""

from __future__ import annotations

import dataclasses
import json
import math
import mmap
import os
import struct
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

# ----------------------------------------------------------------------------
# safetensors, by hand: u64 LE header length, JSON header, data section.

_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
# Same-sized integer views used to get at the raw bytes (numpy has no bf16).
_BIT_VIEWS = {torch.float32: (torch.int32, "<i4"), torch.float64: (torch.int64, "<i8"),
              torch.bfloat16: (torch.int16, "<i2"), torch.float16: (torch.int16, "<i2")}


def read_safetensors(path: str) -> Dict[str, Tensor]:
    """Returns every tensor of the file, in the dtype it is stored in."""
    with open(path, "rb") as f:
        # Mapped, not read: each tensor is copied out once, below.
        blob = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if 8 + header_len > len(blob):
        raise ValueError(f"{path}: header length {header_len} past the end of the file")
    header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    data_start, data_len = 8 + header_len, len(blob) - 8 - header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        int_dtype, np_code = _BIT_VIEWS[dtype]
        itemsize = np.dtype(np_code).itemsize
        if end - begin != math.prod(shape) * itemsize or end > data_len:
            raise ValueError(f"{path}: tensor {name} byte range {begin}..{end} does not fit {shape}")
        bits = np.frombuffer(blob, dtype=np_code, count=(end - begin) // itemsize,
                             offset=data_start + begin)
        tensors[name] = torch.from_numpy(bits.astype(np_code[1:])).view(dtype).reshape(shape)  # native order
    return tensors


def write_safetensors(path: str, tensors: Dict[str, Tensor], dtype: torch.dtype,
                      metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes `tensors` converted to `dtype` (rounded to nearest even), names sorted.

    The header is padded with spaces to a multiple of 8 bytes so the data is
    aligned for mmap (as the safetensors library does); the output depends
    only on the inputs, so files are byte-identical from run to run.
    """
    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"unsupported dtype {dtype}")
    int_dtype, np_code = _BIT_VIEWS[dtype]
    header: dict = {"__metadata__": dict(metadata or {"format": "pt"})}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", dtype).contiguous()
        raw = t.view(int_dtype).numpy().astype(np_code).tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for raw in chunks:
            f.write(raw)



"""The wire format (docs/PROTOCOL.md): frame 0 is a UTF-8 JSON header; frames 1..n are raw
little-endian row-major tensors, described in order by the header's ``tensors`` list of
``{"name", "dtype", "shape"}``. No pickle, no eval."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np

PROTOCOL_VERSION = 1

#: The dtype strings of the wire (numpy's little-endian spellings).
DTYPES = ("<f4", "<f8", "<i4", "<i8", "|u1")


def encode(header: Mapping[str, Any], tensors: Mapping[str, np.ndarray] | None = None) -> List[bytes]:
    """Frames of one message: the header with its tensor descriptors, then one frame per tensor."""
    header = dict(header)
    frames: List[bytes] = []
    descriptors = []
    for name, array in (tensors or {}).items():
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder not in ("|", "<", "=") else array.dtype
        array = np.ascontiguousarray(array, dtype=dtype)
        descriptors.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape)})
        frames.append(array.tobytes())
    header["tensors"] = descriptors
    return [json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")] + frames


def decode(frames: List[bytes]) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """Header and named tensors of a reply; raises ValueError for a malformed one."""
    if not frames:
        raise ValueError("empty message")
    header = json.loads(bytes(frames[0]).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    descriptors = header.pop("tensors", None) or []
    if len(descriptors) != len(frames) - 1:
        raise ValueError(f"header describes {len(descriptors)} tensors but {len(frames) - 1} frames follow")
    tensors = {}
    for descriptor, frame in zip(descriptors, frames[1:]):
        dtype = np.dtype(descriptor["dtype"])
        shape = tuple(int(d) for d in descriptor["shape"])
        # bytearray: a writable copy, so callers may modify observations in place.
        tensors[descriptor["name"]] = np.frombuffer(bytearray(frame), dtype=dtype).reshape(shape)
    return header, tensors

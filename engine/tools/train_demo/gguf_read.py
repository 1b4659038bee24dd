"""Reads back a GGUF written by gguf_export.py (metadata and F32/F16 tensors) with numpy."""
import struct

import numpy as np


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 4:
            return take("I")
        if t == 5:
            return take("i")
        if t == 6:
            return take("f")
        if t == 7:
            return take("B") != 0
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        raise ValueError("unsupported value type %d" % t)

    assert buf[:4] == b"GGUF"
    pos = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    assert version == 3
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        ttype, off = take("I"), take("Q")
        infos.append((name, ne, ttype, off))
    align = kv.get("general.alignment", 32)
    data_start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, off in infos:
        dtype = np.float32 if ttype == 0 else np.float16
        count = int(np.prod(ne))
        arr = np.frombuffer(buf, dtype=dtype, count=count, offset=data_start + off)
        tensors[name] = arr.reshape(list(reversed(ne))).astype(np.float32)
    return kv, tensors

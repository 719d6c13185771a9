"""Shared helpers for kiln's PyTorch reference generators.

Each tools/torchref/ops_<group>.py builds a list of cases with `case(...)` and
writes tensor/testdata/ref_<group>.json with `write(...)`. The Go test
tensor/ref_test.go replays every case: it rebuilds the inputs, runs the op
registered under the case's "op" name, and compares the output and the input
gradients (for the upstream gradient stored in the case) with these values.

Run with Debian's torch:  /usr/bin/python3 tools/torchref/ops_<group>.py
Encoding: tensors are {"dtype", "shape", "data"} with data flat row-major;
non-finite floats are the strings "nan", "inf", "-inf".
"""
import json
import math
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def enc(t):
    t = t.detach()
    dt = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}[t.dtype]
    flat = t.reshape(-1).tolist()
    if dt.startswith("float"):
        # float32 values round-trip through 9 significant digits; float64 need 17.
        digits = "%.9g" if dt == "float32" else "%.17g"
        flat = [("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) if not math.isfinite(v) else float(digits % v) for v in flat]
    return {"dtype": dt, "shape": list(t.shape), "data": flat}


def case(name, op, inputs, fn, attrs=None, seed=0, rtol=1e-5, atol=1e-6, grad=True):
    """Run fn(*inputs) in PyTorch and record output and input gradients.

    inputs: list of (name, tensor); float tensors get requires_grad when grad
    is true. The upstream gradient is a seeded random tensor (not all ones),
    so that mistakes in how gradients are routed show up.
    """
    ts = []
    for _, t in inputs:
        t = t.clone()
        if grad and t.is_floating_point():
            t.requires_grad_(True)
        ts.append(t)
    out = fn(*ts)
    rec = {
        "name": name,
        "op": op,
        "attrs": attrs or {},
        "inputs": [dict(enc(t), name=n) for (n, _), t in zip(inputs, ts)],
        "output": enc(out),
        "rtol": rtol,
        "atol": atol,
    }
    if grad and out.is_floating_point() and any(t.requires_grad for t in ts):
        g = torch.Generator().manual_seed(1000 + seed)
        up = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.dtype)
        out.backward(up)
        rec["upstream"] = enc(up)
        rec["grads"] = {n: enc(t.grad) for (n, _), t in zip(inputs, ts) if t.requires_grad and t.grad is not None}
    return rec


def randn(*shape, seed=0, dtype=torch.float32, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def write(group, cases):
    path = os.path.join(ROOT, "tensor", "testdata", "ref_%s.json" % group)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"generator": "tools/torchref/ops_%s.py" % group, "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %d cases to %s" % (len(cases), os.path.relpath(path)), file=sys.stderr)

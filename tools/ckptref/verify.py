"""Checks, on the Python side, checkpoints that kiln's Go code wrote.

    KILN_CKPT_INTEROP_DIR=/tmp/interop go test ./checkpoint -run TestWriteInterop
    /usr/bin/python3 tools/ckptref/verify.py /tmp/interop

TestWriteInterop loads checkpoint/testdata/pytorch_model.bin, ties the
decoder to the word embeddings as a BERT masked-LM model does, and saves it
four ways (f32/, bf16/, f16/, sharded/). For each, this script:
  * parses the files by hand (no `safetensors` package in Debian) and checks
    the layout is byte-identical to what safetensors' serialize() writes for
    the same tensors (gen.py's st_serialize mirrors the Rust crate);
  * checks {"format": "pt"} metadata, the tied duplicate dropped as
    save_pretrained drops it, and the index file written as transformers
    writes it (json.dumps(indent=2, sort_keys=True) + newline);
  * compares every tensor with torch.load of the original .bin: exactly for
    F32, and against torch's own .half()/.bfloat16() bits for F16/BF16.
Exit status 0 and "OK" means everything matched.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import CK, st_parse, st_serialize  # noqa: E402

TIED = "cls.predictions.decoder.weight"


def load_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = []
    if os.path.exists(idx):
        with open(idx) as f:
            text = f.read()
        index = json.loads(text)
        assert text == json.dumps(index, indent=2, sort_keys=True) + "\n", "index not in transformers' format"
        files = sorted(set(index["weight_map"].values()))
    else:
        index = None
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        with open(os.path.join(d, fn), "rb") as f:
            buf = f.read()
        tensors, meta = st_parse(buf)
        assert meta == {"format": "pt"}, (fn, meta)
        assert st_serialize(tensors, meta) == buf, "%s: layout differs from safetensors.serialize" % fn
        if index is not None:
            assert {k for k, v in index["weight_map"].items() if v == fn} == set(tensors), fn
        out.update(tensors)
    if index is not None:
        total = sum(t.numel() * t.element_size() for t in out.values())
        assert index["metadata"]["total_size"] == total, (index["metadata"], total)
    return out


def same_float(a, b):
    a, b = a.reshape(-1), b.reshape(-1)
    nan = torch.isnan(a.float())
    assert torch.equal(torch.isnan(b.float()), nan)
    if a.dtype == torch.bfloat16 or a.dtype == torch.float16:
        return torch.equal(a[~nan].view(torch.int16), b[~nan].view(torch.int16))
    return torch.equal(a[~nan].view(torch.int32), b[~nan].view(torch.int32))


def main():
    root = sys.argv[1]
    ref = torch.load(os.path.join(CK, "pytorch_model.bin"))
    for sub, fdt in (("f32", torch.float32), ("sharded", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)):
        got = load_dir(os.path.join(root, sub))
        assert TIED not in got, "%s: tied duplicate was stored" % sub
        assert set(got) == set(ref) - {TIED}, (sub, set(ref) ^ set(got))
        for name, r in ref.items():
            if name == TIED:
                continue
            g = got[name]
            assert list(g.shape) == list(r.shape), (sub, name, g.shape, r.shape)
            if r.dtype in (torch.float32, torch.float16, torch.bfloat16):
                want = r.detach().float().to(fdt)  # torch's own rounding
                assert g.dtype == fdt, (sub, name, g.dtype)
                assert same_float(g, want), "%s: %s differs" % (sub, name)
            elif r.dtype == torch.float64:
                assert g.dtype == torch.float64 and torch.equal(g, r), (sub, name)
            elif r.dtype == torch.bool:
                assert g.dtype == torch.bool and torch.equal(g, r), (sub, name)
            else:  # kiln holds integers as int64
                assert g.dtype == torch.int64 and torch.equal(g, r.to(torch.int64)), (sub, name)
        print("%s: %d tensors match" % (sub, len(got)))
    print("OK")


if __name__ == "__main__":
    main()

"""Checkpoint-file fixtures for kiln's safetensors and checkpoint packages.

Writes, with Debian's torch (no `safetensors` package needed):
  safetensors/testdata/model.safetensors    HF-layout file, F32/F16/BF16/F64/I64/BOOL/I32/I16/I8/U8
  safetensors/testdata/sharded/             the same tensors split into two shards + index
  safetensors/testdata/expected.json        every tensor's stored dtype, shape and exact values
  safetensors/testdata/half.json            float32 bit patterns and torch's .half()/.bfloat16() bits
  checkpoint/testdata/pytorch_model.bin     torch.save of an OrderedDict state_dict (zip format) with
                                            a tied weight, a transposed and a sliced view, a Parameter
  checkpoint/testdata/fuzz/FuzzPickle/*     seed corpus: the real data.pkl and hostile pickles
  safetensors/testdata/fuzz/FuzzSafetensorsHeader/*  seed corpus

Run from anywhere:  /usr/bin/python3 tools/ckptref/gen.py
CI never runs this; the outputs are committed. Values are exact: floats are
stored as their float32 bit patterns (F64 as float64 bits), so the Go tests
compare bit for bit.

The safetensors writer here mirrors the Rust crate's serialize(): tensors
sorted by decreasing dtype alignment (the Dtype enum order) then by name,
header = compact JSON with "__metadata__" first and tensors in data order,
padded with spaces to a multiple of 8 bytes.
"""
import collections
import io
import json
import os
import struct
import sys
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ST = os.path.join(ROOT, "safetensors", "testdata")
CK = os.path.join(ROOT, "checkpoint", "testdata")

# Rust crate's Dtype enum order (increasing alignment).
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH2ST = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
            torch.bool: "BOOL"}
ST2TORCH = {v: k for k, v in TORCH2ST.items()}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: go through int16
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def st_serialize(tensors, metadata=None):
    """safetensors.torch.save() equivalent: returns the file bytes."""
    items = sorted(tensors.items(), key=lambda kv: (-RANK.index(TORCH2ST[kv[1].dtype]), kv[0]))
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": TORCH2ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def st_parse(buf):
    """Reads a safetensors file into {name: torch tensor} and its metadata."""
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", None)
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = ST2TORCH[info["dtype"]]
        raw = bytearray(data[b:e])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def f32bits(t):
    return [int(x) for x in t.detach().to(torch.float32).contiguous().reshape(-1).view(torch.int32).numpy().astype("uint32")]


def expected_entry(t):
    st = TORCH2ST[t.dtype]
    e = {"dtype": st, "shape": list(t.shape)}
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
        e["f32bits"] = f32bits(t)
        if t.dtype != torch.float32:
            e["bits16"] = [int(x) for x in t.contiguous().reshape(-1).view(torch.int16).numpy().astype("uint16")]
    elif t.dtype == torch.float64:
        e["f64bits"] = [int(x) for x in t.contiguous().reshape(-1).view(torch.int64).numpy().astype("uint64")]
    elif t.dtype == torch.bool:
        e["bools"] = [bool(x) for x in t.reshape(-1).tolist()]
    else:
        e["ints"] = [int(x) for x in t.reshape(-1).tolist()]
    return e


def nonzero(*shape, dtype=torch.float32, g=None):
    x = torch.randn(*shape, generator=g) * 0.5
    x = x + torch.sign(x) * 0.01 + (x == 0).float() * 0.25  # keep every value non-zero
    return x.to(dtype)


def build():
    g = torch.Generator().manual_seed(1234)
    inf, nan = float("inf"), float("nan")
    f16_special = torch.tensor([0.0, -0.0, 65504.0, -65504.0, 6.103515625e-05, 5.960464477539063e-08,
                                -3.0517578125e-05, 1.0009765625, inf, -inf, nan], dtype=torch.float16)
    bf16_special = torch.tensor([0.0, -0.0, 3.3895313892515355e+38, 9.183549615799121e-41, -1.0078125,
                                 inf, -inf, nan], dtype=torch.bfloat16)
    base_t = nonzero(3, 4, g=g)
    base_s = nonzero(5, 4, g=g)
    sd = collections.OrderedDict()
    sd["bert.embeddings.word_embeddings.weight"] = nonzero(11, 6, g=g)
    sd["bert.embeddings.position_ids"] = torch.arange(9).expand((1, -1))
    sd["bert.embeddings.LayerNorm.weight"] = 1 + nonzero(6, g=g)
    sd["bert.embeddings.LayerNorm.bias"] = nonzero(6, g=g)
    sd["bert.encoder.layer.0.attention.self.query.weight"] = nonzero(6, 6, dtype=torch.float16, g=g)
    sd["bert.encoder.layer.0.attention.self.query.bias"] = nonzero(6, dtype=torch.bfloat16, g=g)
    sd["bert.encoder.layer.0.output.dense.weight"] = nonzero(5, 6, dtype=torch.bfloat16, g=g)
    sd["cls.predictions.bias"] = nonzero(11, g=g)
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]  # tied
    sd["conv.weight"] = nonzero(2, 3, 1, 3, g=g)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["double"] = nonzero(2, 3, dtype=torch.float64, g=g)
    sd["mask"] = torch.tensor([True, False, True, True, False])
    sd["int32"] = torch.tensor([-7, 0, 2147483647], dtype=torch.int32)
    sd["int16"] = torch.tensor([-32768, 12], dtype=torch.int16)
    sd["int8"] = torch.tensor([-128, 5, 127], dtype=torch.int8)
    sd["uint8"] = torch.tensor([0, 255, 17, 3], dtype=torch.uint8)
    sd["specials.f16"] = f16_special
    sd["specials.bf16"] = bf16_special
    sd["view.transposed"] = base_t.t()  # stride (1, 4): a non-contiguous view
    sd["view.slice"] = base_s[1:3]  # storage offset 4
    sd["param.weight"] = torch.nn.Parameter(nonzero(2, 2, g=g))  # pickled via _rebuild_parameter
    sd._metadata = collections.OrderedDict([("", {"version": 1})])  # as nn.Module.state_dict() sets
    return sd


def go_fuzz_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lit = "".join("\\x%02x" % c for c in data)
    with open(path, "w") as f:
        f.write('go test fuzz v1\n[]byte("%s")\n' % lit)


def half_cases():
    """float32 bit patterns with torch's f16/bf16 results: every class of value."""
    g = torch.Generator().manual_seed(99)
    pats = torch.randint(0, 2**32, (500,), generator=g, dtype=torch.int64).tolist()
    specials = []
    for e in range(-27, 18):  # around the f16 subnormal/normal/overflow boundaries
        for m in (1.0, 1.5, 1.0009765625, 1.00048828125, 1.000732421875, 1.99951171875, 1.999755859375):
            specials.append(m * 2.0 ** e)
    specials += [65504.0, 65519.99, 65520.0, 65536.0, 2.0 ** -25, 2.0 ** -25 * 1.0000001, 2.0 ** -24 * 1.5,
                 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, 3.3895313892515355e+38, 3.4028234663852886e+38,
                 float("inf"), float("nan"), 1e-45, 0.0]
    vals = torch.tensor(specials + [-v for v in specials], dtype=torch.float32)
    pats += [int(x) for x in vals.view(torch.int32).numpy().astype("uint32")]
    pats = [p & 0xFFFFFFFF for p in pats]
    f = torch.tensor([p - 2**32 if p >= 2**31 else p for p in pats], dtype=torch.int32).view(torch.float32)
    return {
        "f32bits": pats,
        "f16bits": [int(x) for x in f.half().view(torch.int16).numpy().astype("uint16")],
        "bf16bits": [int(x) for x in f.bfloat16().view(torch.int16).numpy().astype("uint16")],
    }


def main():
    sd = build()
    # pytorch_model.bin: torch.save of the state dict, zip format (torch >= 1.6 default).
    os.makedirs(CK, exist_ok=True)
    torch.save(sd, os.path.join(CK, "pytorch_model.bin"))

    # The safetensors view HF's save_pretrained would write: tied duplicate
    # dropped, views made contiguous.
    st = {k: v.detach().contiguous() for k, v in sd.items() if k != "cls.predictions.decoder.weight"}
    with open(os.path.join(ST, "model.safetensors"), "wb") as f:
        f.write(st_serialize(st, {"format": "pt"}))
    shard_dir = os.path.join(ST, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    names = sorted(st)
    half = len(names) // 2
    weight_map, total = {}, 0
    for i, part in enumerate((names[:half], names[half:])):
        fn = "model-%05d-of-00002.safetensors" % (i + 1)
        with open(os.path.join(shard_dir, fn), "wb") as f:
            f.write(st_serialize({k: st[k] for k in part}, {"format": "pt"}))
        for k in part:
            weight_map[k] = fn
            total += len(tensor_bytes(st[k]))
    with open(os.path.join(shard_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")

    exp = {"tensors": {k: expected_entry(v.detach()) for k, v in sd.items()},
           "tied": {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}}
    with open(os.path.join(ST, "expected.json"), "w") as f:
        json.dump(exp, f, sort_keys=True, separators=(",", ":"))
    with open(os.path.join(ST, "half.json"), "w") as f:
        json.dump(half_cases(), f, separators=(",", ":"))

    # Fuzz seeds. FuzzPickle gets the real data.pkl and hostile pickles
    # (written as bytes here; nothing is ever unpickled).
    with zipfile.ZipFile(os.path.join(CK, "pytorch_model.bin")) as z:
        pkl = next(z.read(n) for n in z.namelist() if n.endswith("/data.pkl"))
    fz = os.path.join(CK, "fuzz", "FuzzPickle")
    go_fuzz_file(os.path.join(fz, "state_dict"), pkl)
    go_fuzz_file(os.path.join(fz, "os_system"), b"cos\nsystem\n(S'echo pwned'\ntR.")
    go_fuzz_file(os.path.join(fz, "builtins_eval_proto4"),
                 b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x04eval\x93\x8c\x041+1\x85R.")
    go_fuzz_file(os.path.join(fz, "tensor_past_storage"),
                 pkl.replace(b"K\x06K\x06", b"K\x07K\x07", 1))
    fs = os.path.join(ST, "fuzz", "FuzzSafetensorsHeader")
    small = st_serialize({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3, 4], dtype=torch.int16)}, {"format": "pt"})
    go_fuzz_file(os.path.join(fs, "small"), small)
    go_fuzz_file(os.path.join(fs, "mixed"), st_serialize({k: st[k] for k in names[:6]}, {"format": "pt"}))
    hdr = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    go_fuzz_file(os.path.join(fs, "overlap"), struct.pack("<Q", len(hdr)) + hdr + b"\0" * 8)
    go_fuzz_file(os.path.join(fs, "huge_len"), struct.pack("<Q", 2**62) + b"{}")
    print("wrote fixtures under", ST, "and", CK)


if __name__ == "__main__":
    sys.exit(main())

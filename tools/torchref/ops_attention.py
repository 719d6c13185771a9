"""PyTorch references for tensor.Attention: multi-head scaled-dot-product
attention on [B, T, H*D] projections, with HF BERT's additive padding mask
(finfo.min where attention_mask == 0) and GPT-2's causal mask."""
import torch

from common import case, randn, write


def hf_attention(q, k, v, heads, key_mask=None, causal=False):
    B, Tq, HD = q.shape
    Tk = k.shape[1]
    D = HD // heads

    def split(x, T):  # [B, T, H*D] -> [B, H, T, D]
        return x.view(B, T, heads, D).permute(0, 2, 1, 3)

    s = split(q, Tq) @ split(k, Tk).transpose(-1, -2) / D ** 0.5
    minv = torch.finfo(s.dtype).min
    if causal:
        c = torch.ones(Tq, Tk, dtype=torch.bool).tril()
        s = torch.where(c, s, torch.tensor(minv, dtype=s.dtype))
    if key_mask is not None:
        s = s + (1.0 - key_mask[:, None, None, :].to(s.dtype)) * minv
    p = s.softmax(-1)
    # A query with every key masked gets a uniform row that does not depend on
    # the scores: HF's forward value, with the mathematically consistent zero
    # gradient into the scores (kiln's documented semantics).
    visible = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    if causal:
        visible = visible & torch.ones(Tq, Tk, dtype=torch.bool).tril()
    if key_mask is not None:
        visible = visible & key_mask[:, None, None, :].bool()
    dead = ~visible.any(-1, keepdim=True)
    if dead.any():
        allowed = torch.ones(Tq, Tk, dtype=s.dtype)
        if causal:
            allowed = allowed.tril()
        uniform = (allowed / allowed.sum(-1, keepdim=True)).expand_as(p)
        p = torch.where(dead, uniform, p)
    return (p @ split(v, Tk)).permute(0, 2, 1, 3).reshape(B, Tq, HD)


cases = []
configs = [
    ("plain", 2, 5, 5, 2, 3, None, False),
    ("padding", 2, 6, 6, 3, 4, [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], False),
    ("causal", 2, 5, 5, 2, 4, None, True),
    ("causal_left_pad", 2, 5, 5, 2, 2, [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], True),
    ("cross", 1, 3, 7, 2, 3, [[1, 1, 1, 1, 1, 0, 1]], False),
    ("one_head", 3, 4, 4, 1, 8, None, False),
]
for dt, sfx in [(torch.float32, "f32"), (torch.float64, "f64")]:
    for i, (tag, B, Tq, Tk, H, D, mask, causal) in enumerate(configs):
        q = randn(B, Tq, H * D, seed=10 + i, dtype=dt)
        k = randn(B, Tk, H * D, seed=20 + i, dtype=dt)
        v = randn(B, Tk, H * D, seed=30 + i, dtype=dt)
        inputs = [("q", q), ("k", k), ("v", v)]
        attrs = {"heads": H, "causal": causal}
        km = None
        if mask is not None:
            km = torch.tensor(mask, dtype=torch.int64)
            inputs.append(("key_mask", km))
            attrs["masked"] = True

        def fn(q, k, v, m=None, H=H, causal=causal):
            return hf_attention(q, k, v, H, m, causal)

        cases.append(case("attention_%s_%s" % (tag, sfx), "attention", inputs, fn, attrs=attrs, seed=i))
write("attention", cases)

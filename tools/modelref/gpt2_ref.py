"""PyTorch reference for kiln's models/gpt2: HF's modeling_gpt2.py re-implemented
with HF's parameter names (transformers itself is not installed here), used to
write the parity fixtures under models/gpt2/testdata/<case>/:

  config.json         HF config of the tiny architecture
  model.safetensors   lm: the state dict as save_pretrained writes it (tied
                      lm_head.weight left out; hand-written safetensors: 8-byte
                      LE header length, JSON header, raw little-endian F32;
                      sorted names, {"format": "pt"} metadata)
  head.safetensors    seqcls: only the head's own tensors (score.weight); its
                      transformer.* is lm's, to keep testdata small
  expected.json       inputs, logits, loss and per-parameter gradient L2 norms
                      (eval mode: no dropout)

Tiny architecture: 2 layers, n_embd 32, 4 heads, n_inner 4*32, vocab 100,
n_positions 64; every weight, bias and LayerNorm parameter random and non-zero
(seeded), so a wrong bias, a transposed Conv1D or a swapped LayerNorm shows.
Inputs are right-padded with an attention mask.

Run:  /usr/bin/python3 tools/modelref/gpt2_ref.py     (outputs are committed)
"""
import json
import math
import os
import struct

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "gpt2", "testdata")

CONFIG = dict(
    model_type="gpt2", vocab_size=100, n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=None,
    activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
    layer_norm_epsilon=1e-5, initializer_range=0.02, scale_attn_weights=True,
    bos_token_id=99, eos_token_id=99, pad_token_id=0,
    summary_type="cls_index", use_cache=True, transformers_version="4.44.0",
)

ACT = {"gelu": nn.functional.gelu, "relu": nn.functional.relu,
       "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))}


# --- modeling_gpt2.py, eager path --------------------------------------------------------------

class Conv1D(nn.Module):
    """HF's pytorch_utils.Conv1D: a Linear whose weight is stored [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class GPT2Attention(nn.Module):
    def __init__(self, c, layer_idx):
        super().__init__()
        n = c["n_positions"]
        self.register_buffer("bias", torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n),
                             persistent=False)
        self.embed_dim, self.num_heads = c["n_embd"], c["n_head"]
        self.head_dim = self.embed_dim // self.num_heads
        self.scale_attn_weights = c["scale_attn_weights"]
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(c["attn_pdrop"])
        self.resid_dropout = nn.Dropout(c["resid_pdrop"])

    def split(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, h, ext_mask):
        q, k, v = self.c_attn(h).split(self.embed_dim, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        w = q @ k.transpose(-1, -2)
        if self.scale_attn_weights:
            w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        T = q.size(-2)
        causal = self.bias[:, :, :T, :T]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        w = w + ext_mask
        p = self.attn_dropout(torch.softmax(w, dim=-1))
        a = (p @ v).permute(0, 2, 1, 3).contiguous().view(h.shape)
        return self.resid_dropout(self.c_proj(a))


class GPT2MLP(nn.Module):
    def __init__(self, inner, c):
        super().__init__()
        self.c_fc = Conv1D(inner, c["n_embd"])
        self.c_proj = Conv1D(c["n_embd"], inner)
        self.act = ACT[c["activation_function"]]
        self.dropout = nn.Dropout(c["resid_pdrop"])

    def forward(self, h):
        return self.dropout(self.c_proj(self.act(self.c_fc(h))))


class GPT2Block(nn.Module):
    def __init__(self, c, layer_idx):
        super().__init__()
        inner = c["n_inner"] if c["n_inner"] is not None else 4 * c["n_embd"]
        self.ln_1 = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.attn = GPT2Attention(c, layer_idx)
        self.ln_2 = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.mlp = GPT2MLP(inner, c)

    def forward(self, h, m):
        h = h + self.attn(self.ln_1(h), m)
        return h + self.mlp(self.ln_2(h))


class GPT2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.drop = nn.Dropout(c["embd_pdrop"])
        self.h = nn.ModuleList([GPT2Block(c, i) for i in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        h = self.drop(self.wte(ids) + self.wpe(pos))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for block in self.h:
            h = block(h, ext)
        return self.ln_f(h)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = GPT2Model(c)
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, ids, mask, labels):
        logits = self.lm_head(self.transformer(ids, mask))
        shift_logits = logits[..., :-1, :].contiguous()
        shift_labels = labels[..., 1:].contiguous()
        loss = nn.functional.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))
        return logits, loss


class GPT2ForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pad = c["pad_token_id"]
        self.transformer = GPT2Model(c)
        self.score = nn.Linear(c["n_embd"], len(c["id2label"]), bias=False)

    def forward(self, ids, mask, labels):
        logits = self.score(self.transformer(ids, mask))
        B = ids.shape[0]
        non_pad = (ids != self.pad).to(torch.int32)
        last = (torch.arange(ids.shape[-1], dtype=torch.int32) * non_pad).argmax(-1)
        pooled = logits[torch.arange(B), last]
        return pooled, nn.functional.cross_entropy(pooled, labels)  # single_label_classification


# --- fixtures ---------------------------------------------------------------------------------

def randomize(model, g):
    """Every parameter random and non-zero: weights, biases and LayerNorm betas N(0, 0.1),
    LayerNorm gammas 1 + N(0, 0.1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g) * 0.1
            is_gamma = name.endswith(".weight") and (".ln_" in name or name.startswith("ln_"))
            p.copy_(r + 1 if is_gamma else r)


def write_safetensors(path, sd):
    names = sorted(sd)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for n in names:
        t = sd[n].detach().contiguous().to(torch.float32)
        b = t.numpy().astype("<f4").tobytes()
        header[n] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def inputs(g, B, T):
    ids = torch.randint(1, CONFIG["vocab_size"], (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, T - 3:] = 0  # row 1: 3 padding tokens (right padding)
    mask[2, T - 1:] = 0  # row 2: 1 padding token
    ids[mask == 0] = CONFIG["pad_token_id"]
    return ids, mask


def write_case(name, config, model, extra_inputs, logits, loss, sd):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    write_safetensors(os.path.join(d, "head.safetensors" if name != "lm" else "model.safetensors"), sd)
    grads = {n: p.grad.norm().item() if p.grad is not None else 0.0 for n, p in model.named_parameters()}
    exp = dict(extra_inputs, logits=logits.tolist(), loss=loss.item(), grad_norms=grads)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f, indent=None)
    print(name, "loss", loss.item())


def lm():
    c = dict(CONFIG, architectures=["GPT2LMHeadModel"])
    g = torch.Generator().manual_seed(1)
    m = GPT2LMHeadModel(c)
    randomize(m, g)
    m.eval()
    ids, mask = inputs(g, 3, 8)
    labels = ids.clone()
    labels[mask == 0] = -100
    logits, loss = m(ids, mask, labels)
    loss.backward()
    sd = {k: v for k, v in m.state_dict().items() if k != "lm_head.weight"}  # HF's _tied_weights_keys
    write_case("lm", c, m, dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()),
               logits, loss, sd)
    return m


def seqcls(base):
    c = dict(CONFIG, architectures=["GPT2ForSequenceClassification"],
             id2label={"0": "NEG", "1": "NEU", "2": "POS"}, label2id={"NEG": 0, "NEU": 1, "POS": 2})
    g = torch.Generator().manual_seed(2)
    m = GPT2ForSequenceClassification(c)
    randomize(m, g)
    with torch.no_grad():
        for k, p in m.state_dict().items():
            if k.startswith("transformer."):
                p.copy_(base.state_dict()[k])
    m.eval()
    ids, mask = inputs(g, 3, 8)
    labels = torch.tensor([2, 0, 1])
    logits, loss = m(ids, mask, labels)
    loss.backward()
    write_case("seqcls", c, m, dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()),
               logits, loss, {"score.weight": m.score.weight})


if __name__ == "__main__":
    torch.manual_seed(0)
    seqcls(lm())

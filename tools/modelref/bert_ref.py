"""PyTorch reference for kiln's models/bert: HF's modeling_bert.py re-implemented
with HF's parameter names (transformers itself is not installed here), used to
write the parity fixtures under models/bert/testdata/<case>/:

  config.json         HF config of the tiny architecture
  model.safetensors   the state dict (hand-written safetensors: 8-byte LE header
                      length, JSON header, raw little-endian F32; sorted names,
                      {"format": "pt"} metadata)
  expected.json       inputs, logits, loss and per-parameter gradient L2 norms
                      (eval mode: no dropout)

Tiny architecture: 2 layers, hidden 32, 4 heads, intermediate 64, vocab 100,
max_position 64; every weight, bias and LayerNorm parameter random and non-zero
(seeded), so a wrong bias or a swapped LayerNorm shows.

Run:  /usr/bin/python3 tools/modelref/bert_ref.py     (outputs are committed)
"""
import json
import math
import os
import struct

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "bert", "testdata")

CONFIG = dict(
    model_type="bert", vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    max_position_embeddings=64, type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12,
    pad_token_id=0, position_embedding_type="absolute", transformers_version="4.44.0",
)

ACT = {"gelu": nn.functional.gelu, "relu": nn.functional.relu,
       "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh")}


# --- modeling_bert.py, eager path -------------------------------------------------------------

class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

        self.position_embedding_type = c["position_embedding_type"]

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        e = self.word_embeddings(ids) + self.token_type_embeddings(types)
        if self.position_embedding_type == "absolute":  # relative types: positions live in the scores
            e = e + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.d = c["num_attention_heads"], c["hidden_size"] // c["num_attention_heads"]
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])
        self.position_embedding_type = c["position_embedding_type"]
        if self.position_embedding_type in ("relative_key", "relative_key_query"):
            self.max_position_embeddings = c["max_position_embeddings"]
            self.distance_embedding = nn.Embedding(2 * c["max_position_embeddings"] - 1, self.d)

    def split(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.h, self.d).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        s = q @ k.transpose(-1, -2)
        if self.position_embedding_type in ("relative_key", "relative_key_query"):
            T = x.shape[1]
            dist = torch.arange(T).view(-1, 1) - torch.arange(T).view(1, -1)
            e = self.distance_embedding(dist + self.max_position_embeddings - 1)  # [T, T, d]
            s = s + torch.einsum("bhld,lrd->bhlr", q, e)
            if self.position_embedding_type == "relative_key_query":
                s = s + torch.einsum("bhrd,lrd->bhlr", k, e)
        s = s / math.sqrt(self.d) + ext_mask
        p = self.dropout(torch.softmax(s, dim=-1))
        ctx = (p @ v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(x.shape)


class BertSelfOutput(nn.Module):  # also BertOutput with in_dim = intermediate_size
    def __init__(self, c, in_dim):
        super().__init__()
        self.dense = nn.Linear(in_dim, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c, c["hidden_size"])

    def forward(self, x, m):
        return self.output(self.self(x, m), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = ACT[c["hidden_act"]]

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertSelfOutput(c, c["intermediate_size"])

    def forward(self, x, m):
        h = self.attention(x, m)
        return self.output(self.intermediate(h), h)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, m):
        for l in self.layer:
            x = l(x, m)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c, add_pooling_layer=True):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if add_pooling_layer else None

    def forward(self, ids, types, mask):
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        h = self.encoder(self.embeddings(ids, types), ext)
        return h, (self.pooler(h) if self.pooler is not None else None)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, ids, types, mask, labels):
        _, pooled = self.bert(ids, types, mask)
        logits = self.classifier(self.dropout(pooled))
        return logits, nn.functional.cross_entropy(logits, labels)  # single_label_classification


class BertForTokenClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=False)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, ids, types, mask, labels):
        h, _ = self.bert(ids, types, mask)
        logits = self.classifier(self.dropout(h))
        return logits, nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


class BertForQuestionAnswering(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(c["hidden_size"], 2)

    def forward(self, ids, types, mask, start, end):
        h, _ = self.bert(ids, types, mask)
        s, e = self.qa_outputs(h).split(1, dim=-1)
        s, e = s.squeeze(-1), e.squeeze(-1)
        T = s.shape[1]
        start, end = start.clamp(0, T), end.clamp(0, T)
        loss = (nn.functional.cross_entropy(s, start, ignore_index=T) +
                nn.functional.cross_entropy(e, end, ignore_index=T)) / 2
        return torch.stack([s, e], dim=1), loss  # logits saved as [B, 2, T]


class BertForMultipleChoice(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], 1)

    def forward(self, ids, types, mask, labels):
        B, K, T = ids.shape
        _, pooled = self.bert(ids.view(-1, T), types.view(-1, T), mask.view(-1, T))
        logits = self.classifier(self.dropout(pooled)).view(B, K)
        return logits, nn.functional.cross_entropy(logits, labels)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.act = ACT[c["hidden_act"]]
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h):
        return self.LayerNorm(self.act(self.dense(h)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word = [word_embeddings]  # decoder.weight is tied: not a second parameter

    def forward(self, h):
        return nn.functional.linear(self.transform(h), self.word[0].weight, self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.predictions = BertLMPredictionHead(c, word_embeddings)


class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(c, self.bert.embeddings.word_embeddings)

    def forward(self, ids, types, mask, labels):
        h, _ = self.bert(ids, types, mask)
        logits = self.cls.predictions(h)
        return logits, nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


# --- fixtures ---------------------------------------------------------------------------------

def randomize(model, g):
    """Every parameter random and non-zero: weights N(0, 0.1), biases and LayerNorm betas
    N(0, 0.1), LayerNorm gammas 1 + N(0, 0.1) (any name ending in LayerNorm.weight or
    layer_norm.weight: BERT's, RoBERTa's lm_head, DistilBERT's)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g) * 0.1
            p.copy_(r + 1 if name.endswith(("LayerNorm.weight", "layer_norm.weight")) else r)


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
    ids[:, 0] = 2  # a [CLS]-like first token
    types = torch.zeros(B, T, dtype=torch.long)
    types[:, T // 2:] = 1
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, T - 3:] = 0  # row 1: 3 padding tokens
    mask[2, T - 1:] = 0  # row 2: 1 padding token
    ids[mask == 0] = CONFIG["pad_token_id"]
    types[mask == 0] = 0
    return ids, types, mask


def write_case(name, config, model, extra_inputs, logits, loss, head_only=False, out=OUT, prefix="bert."):
    """head_only: the encoder is seqcls's (loaded from it), so only the head's own
    tensors (names not under prefix) are written, as head.safetensors, to keep
    testdata small. out: the testdata folder (models/roberta, ... reuse this)."""
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    sd = model.state_dict()
    if head_only:
        write_safetensors(os.path.join(d, "head.safetensors"), {k: v for k, v in sd.items() if not k.startswith(prefix)})
    else:
        write_safetensors(os.path.join(d, "model.safetensors"), sd)
    grads = {n: p.grad.norm().item() if p.grad is not None else 0.0 for n, p in model.named_parameters()}
    exp = dict(extra_inputs, logits=logits.tolist(), loss=loss.item(), grad_norms=grads)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
    print(name, "loss", loss.item())


def seqcls():
    c = dict(CONFIG, architectures=["BertForSequenceClassification"],
             id2label={"0": "NEG", "1": "NEU", "2": "POS"}, label2id={"NEG": 0, "NEU": 1, "POS": 2})
    g = torch.Generator().manual_seed(1)
    m = BertForSequenceClassification(c)
    randomize(m, g)
    m.eval()
    ids, types, mask = inputs(g, 3, 8)
    labels = torch.tensor([2, 0, 1])
    logits, loss = m(ids, types, mask, labels)
    loss.backward()
    write_case("seqcls", c, m, dict(input_ids=ids.tolist(), token_type_ids=types.tolist(),
                                    attention_mask=mask.tolist(), labels=labels.tolist()), logits, loss)


def head_case(name, cls, config, seed, run, base=None, prefix="bert.", out=OUT):
    """A head on seqcls's encoder (or base's): bert.* (prefix) copied from it, head
    parameters random."""
    m = cls(config)
    if base is None:
        base = BertForSequenceClassification(dict(CONFIG, id2label={"0": "a", "1": "b", "2": "c"}))
        randomize(base, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(seed)
    randomize(m, g)
    with torch.no_grad():
        for k, p in m.state_dict().items():
            if k.startswith(prefix):
                p.copy_(base.state_dict()[k])
    m.eval()
    extra, logits, loss = run(m, g)
    loss.backward()
    write_case(name, config, m, extra, logits, loss, head_only=True, out=out, prefix=prefix)


def tokcls():
    c = dict(CONFIG, architectures=["BertForTokenClassification"], id2label={str(i): "T%d" % i for i in range(5)},
             label2id={"T%d" % i: i for i in range(5)})

    def run(m, g):
        ids, types, mask = inputs(g, 3, 8)
        labels = torch.randint(0, 5, (3, 8), generator=g)
        labels[mask == 0] = -100
        labels[0, 0] = -100
        logits, loss = m(ids, types, mask, labels)
        return dict(input_ids=ids.tolist(), token_type_ids=types.tolist(), attention_mask=mask.tolist(),
                    labels=labels.tolist()), logits, loss
    head_case("tokcls", BertForTokenClassification, c, 2, run)


def qa():
    c = dict(CONFIG, architectures=["BertForQuestionAnswering"])

    def run(m, g):
        ids, types, mask = inputs(g, 3, 8)
        start, end = torch.tensor([1, 3, 20]), torch.tensor([2, 4, 6])  # 20: clamped to T, ignored
        logits, loss = m(ids, types, mask, start, end)
        return dict(input_ids=ids.tolist(), token_type_ids=types.tolist(), attention_mask=mask.tolist(),
                    start_positions=start.tolist(), end_positions=end.tolist()), logits, loss
    head_case("qa", BertForQuestionAnswering, c, 3, run)


def mc():
    c = dict(CONFIG, architectures=["BertForMultipleChoice"])

    def run(m, g):
        ids, types, mask = inputs(g, 4, 6)
        ids, types, mask = ids.view(2, 2, 6), types.view(2, 2, 6), mask.view(2, 2, 6)
        labels = torch.tensor([1, 0])
        logits, loss = m(ids, types, mask, labels)
        return dict(input_ids=ids.tolist(), token_type_ids=types.tolist(), attention_mask=mask.tolist(),
                    labels=labels.tolist()), logits, loss
    head_case("mc", BertForMultipleChoice, c, 4, run)


def mlm():
    c = dict(CONFIG, architectures=["BertForMaskedLM"])

    def run(m, g):
        ids, types, mask = inputs(g, 3, 8)
        labels = torch.full((3, 8), -100)
        labels[0, 2], labels[1, 1], labels[2, 5], labels[0, 6] = 17, 42, 99, 3
        logits, loss = m(ids, types, mask, labels)
        return dict(input_ids=ids.tolist(), token_type_ids=types.tolist(), attention_mask=mask.tolist(),
                    labels=labels.tolist()), logits, loss
    head_case("mlm", BertForMaskedLM, c, 5, run)


def relative(name, kind, cls, seed):
    """A whole model (encoder included) with position_embedding_type kind."""
    arch = {BertForMaskedLM: "BertForMaskedLM", BertForSequenceClassification: "BertForSequenceClassification"}[cls]
    c = dict(CONFIG, architectures=[arch], position_embedding_type=kind)
    if cls is BertForSequenceClassification:
        c.update(id2label={"0": "NEG", "1": "POS"}, label2id={"NEG": 0, "POS": 1})
    g = torch.Generator().manual_seed(seed)
    m = cls(c)
    randomize(m, g)
    m.eval()
    ids, types, mask = inputs(g, 3, 8)
    if cls is BertForMaskedLM:
        labels = torch.full((3, 8), -100)
        labels[0, 2], labels[1, 1], labels[2, 5], labels[0, 6] = 17, 42, 99, 3
    else:
        labels = torch.tensor([1, 0, 1])
    logits, loss = m(ids, types, mask, labels)
    loss.backward()
    write_case(name, c, m, dict(input_ids=ids.tolist(), token_type_ids=types.tolist(),
                                attention_mask=mask.tolist(), labels=labels.tolist()), logits, loss)


CASES = {
    "seqcls": seqcls, "tokcls": tokcls, "qa": qa, "mc": mc, "mlm": mlm,
    "mlm_relkey": lambda: relative("mlm_relkey", "relative_key", BertForMaskedLM, 6),
    "seqcls_relkeyquery": lambda: relative("seqcls_relkeyquery", "relative_key_query", BertForSequenceClassification, 7),
}

if __name__ == "__main__":
    # Run: bert_ref.py [CASE ...] (default: all). Each case seeds its own generator.
    import sys
    torch.manual_seed(0)
    for name in sys.argv[1:] or CASES:
        CASES[name]()

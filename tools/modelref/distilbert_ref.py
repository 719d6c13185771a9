"""PyTorch reference for kiln's models/distilbert: HF's modeling_distilbert.py re-implemented
with HF's parameter names (transformers is not installed here), used to write the parity
fixtures under models/distilbert/testdata/<case>/ (same files as bert_ref.py).

DistilBERT against BERT: no token types and no pooler; embeddings.LayerNorm and every
layer norm with eps 1e-12 (not configurable); transformer.layer.N with attention.q_lin /
k_lin / v_lin / out_lin, sa_layer_norm, ffn.lin1 / lin2, output_layer_norm; no dropout
after out_lin, dropout after ffn.lin2; padding masked with masked_fill(finfo.min); heads
pre_classifier + ReLU + classifier (sequence classification, multiple choice, with
seq_classif_dropout), dropout + classifier (token classification), qa_dropout +
qa_outputs, vocab_transform + activation + vocab_layer_norm + vocab_projector (weight
tied to the word embeddings, own bias).

Cases: seqcls is the whole model, written with torch.save as pytorch_model.bin (so the
zip/pickle reader is exercised); tokcls, qa, mc and mlm are heads on seqcls's encoder
(head.safetensors holds the head's own tensors).

Tiny architecture: 2 layers, dim 32, 4 heads, hidden_dim 64, vocab 100, max_position 64.

Run:  /usr/bin/python3 tools/modelref/distilbert_ref.py     (outputs are committed)
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref  # noqa: E402
from bert_ref import randomize, head_case, write_case  # noqa: E402

OUT = os.path.join(bert_ref.ROOT, "models", "distilbert", "testdata")

CONFIG = dict(
    model_type="distilbert", vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, activation="gelu",
    dropout=0.1, attention_dropout=0.1, seq_classif_dropout=0.2, qa_dropout=0.1, max_position_embeddings=64,
    sinusoidal_pos_embds=False, initializer_range=0.02, pad_token_id=0, tie_weights_=True,
    transformers_version="4.44.0",
)

EPS = 1e-12  # DistilBERT's layer norms, fixed in the modeling file


# --- modeling_distilbert.py, eager path -------------------------------------------------------

class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        self.LayerNorm = nn.LayerNorm(c["dim"], eps=EPS)
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.dropout(self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos)))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.d = c["n_heads"], c["dim"] // c["n_heads"]
        self.dropout = nn.Dropout(c["attention_dropout"])
        self.q_lin = nn.Linear(c["dim"], c["dim"])
        self.k_lin = nn.Linear(c["dim"], c["dim"])
        self.v_lin = nn.Linear(c["dim"], c["dim"])
        self.out_lin = nn.Linear(c["dim"], c["dim"])

    def forward(self, x, mask):
        B, T, D = x.shape

        def split(t):
            return t.view(B, T, self.h, self.d).transpose(1, 2)
        q = split(self.q_lin(x)) / math.sqrt(self.d)
        k, v = split(self.k_lin(x)), split(self.v_lin(x))
        s = q @ k.transpose(2, 3)
        s = s.masked_fill((mask == 0).view(B, 1, 1, T).expand_as(s), torch.finfo(s.dtype).min)
        w = self.dropout(torch.softmax(s, dim=-1))
        ctx = (w @ v).transpose(1, 2).contiguous().view(B, T, D)
        return self.out_lin(ctx)


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(c["dropout"])
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])
        self.act = bert_ref.ACT[c["activation"]]

    def forward(self, x):
        return self.dropout(self.lin2(self.act(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)

    def forward(self, x, mask):
        h = self.sa_layer_norm(self.attention(x, mask) + x)  # no dropout after out_lin
        return self.output_layer_norm(self.ffn(h) + h)


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(c) for _ in range(c["n_layers"])])

    def forward(self, x, mask):
        for l in self.layer:
            x = l(x, mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.transformer = Transformer(c)

    def forward(self, ids, mask):
        return self.transformer(self.embeddings(ids), mask)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c["dim"], c["dim"])
        self.classifier = nn.Linear(c["dim"], len(c["id2label"]))
        self.dropout = nn.Dropout(c["seq_classif_dropout"])

    def forward(self, ids, mask, labels):
        h = self.distilbert(ids, mask)[:, 0]  # [CLS]
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(h))))
        return logits, nn.functional.cross_entropy(logits, labels)


class DistilBertForTokenClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.distilbert = DistilBertModel(c)
        self.dropout = nn.Dropout(c["dropout"])
        self.classifier = nn.Linear(c["dim"], len(c["id2label"]))

    def forward(self, ids, mask, labels):
        logits = self.classifier(self.dropout(self.distilbert(ids, mask)))
        return logits, nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())


class DistilBertForQuestionAnswering(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.distilbert = DistilBertModel(c)
        self.qa_outputs = nn.Linear(c["dim"], 2)
        self.dropout = nn.Dropout(c["qa_dropout"])

    def forward(self, ids, mask, start, end):
        h = self.dropout(self.distilbert(ids, mask))
        s, e = [x.squeeze(-1) for x in self.qa_outputs(h).split(1, dim=-1)]
        T = s.shape[1]
        ce = nn.functional.cross_entropy
        loss = (ce(s, start.clamp(0, T), ignore_index=T) + ce(e, end.clamp(0, T), ignore_index=T)) / 2
        return torch.stack([s, e], dim=1), loss  # logits saved as [B, 2, T]


class DistilBertForMultipleChoice(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c["dim"], c["dim"])
        self.classifier = nn.Linear(c["dim"], 1)
        self.dropout = nn.Dropout(c["seq_classif_dropout"])

    def forward(self, ids, mask, labels):
        B, K, T = ids.shape
        h = self.distilbert(ids.view(-1, T), mask.view(-1, T))[:, 0]
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(h)))).view(B, K)
        return logits, nn.functional.cross_entropy(logits, labels)


class VocabProjector(nn.Module):
    """vocab_projector: its weight is the word embedding matrix (tied, not a second
    parameter), its bias its own."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word = [word_embeddings]

    def forward(self, x):
        return nn.functional.linear(x, self.word[0].weight, self.bias)


class DistilBertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = bert_ref.ACT[c["activation"]]
        self.distilbert = DistilBertModel(c)
        self.vocab_transform = nn.Linear(c["dim"], c["dim"])
        self.vocab_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)
        self.vocab_projector = VocabProjector(c, self.distilbert.embeddings.word_embeddings)

    def forward(self, ids, mask, labels):
        x = self.vocab_layer_norm(self.act(self.vocab_transform(self.distilbert(ids, mask))))
        logits = self.vocab_projector(x)
        return logits, nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())


# --- fixtures ---------------------------------------------------------------------------------

def inputs(g, B, T):
    ids, _, mask = bert_ref.inputs(g, B, T)  # the same vocabulary size and pad id 0; no token types
    return ids, mask


def seqcls():
    c = dict(CONFIG, architectures=["DistilBertForSequenceClassification"],
             id2label={"0": "NEG", "1": "NEU", "2": "POS"}, label2id={"NEG": 0, "NEU": 1, "POS": 2})
    g = torch.Generator().manual_seed(1)
    m = DistilBertForSequenceClassification(c)
    randomize(m, g)
    m.eval()
    ids, mask = inputs(g, 3, 8)
    labels = torch.tensor([2, 0, 1])
    logits, loss = m(ids, mask, labels)
    loss.backward()
    write_case("seqcls", c, m, dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()),
               logits, loss, out=OUT)
    d = os.path.join(OUT, "seqcls")  # the same weights as torch.save writes them
    os.remove(os.path.join(d, "model.safetensors"))
    torch.save(m.state_dict(), os.path.join(d, "pytorch_model.bin"))
    return m


def heads(base):
    def case(name, cls, c, seed, run):
        head_case(name, cls, c, seed, run, base=base, prefix="distilbert.", out=OUT)

    def tokcls(m, g):
        ids, mask = inputs(g, 3, 8)
        labels = torch.randint(0, 5, (3, 8), generator=g)
        labels[mask == 0] = -100
        labels[0, 0] = -100
        logits, loss = m(ids, mask, labels)
        return dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()), logits, loss
    case("tokcls", DistilBertForTokenClassification,
         dict(CONFIG, architectures=["DistilBertForTokenClassification"], id2label={str(i): "T%d" % i for i in range(5)},
              label2id={"T%d" % i: i for i in range(5)}), 2, tokcls)

    def qa(m, g):
        ids, mask = inputs(g, 3, 8)
        start, end = torch.tensor([1, 3, 20]), torch.tensor([2, 4, 6])  # 20: clamped to T, ignored
        logits, loss = m(ids, mask, start, end)
        return dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), start_positions=start.tolist(),
                    end_positions=end.tolist()), logits, loss
    case("qa", DistilBertForQuestionAnswering, dict(CONFIG, architectures=["DistilBertForQuestionAnswering"]), 3, qa)

    def mc(m, g):
        ids, mask = (x.view(2, 2, 6) for x in inputs(g, 4, 6))
        labels = torch.tensor([1, 0])
        logits, loss = m(ids, mask, labels)
        return dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()), logits, loss
    case("mc", DistilBertForMultipleChoice, dict(CONFIG, architectures=["DistilBertForMultipleChoice"]), 4, mc)

    def mlm(m, g):
        ids, mask = inputs(g, 3, 8)
        labels = torch.full((3, 8), -100)
        labels[0, 2], labels[1, 1], labels[2, 5], labels[0, 6] = 17, 42, 99, 3
        logits, loss = m(ids, mask, labels)
        return dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), labels=labels.tolist()), logits, loss
    case("mlm", DistilBertForMaskedLM, dict(CONFIG, architectures=["DistilBertForMaskedLM"]), 5, mlm)


if __name__ == "__main__":
    torch.manual_seed(0)
    heads(seqcls())

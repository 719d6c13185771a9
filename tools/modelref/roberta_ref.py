"""PyTorch reference for kiln's models/roberta: HF's modeling_roberta.py re-implemented
with HF's parameter names (transformers is not installed here), used to write the
parity fixtures under models/roberta/testdata/<case>/ (same files as bert_ref.py).

RoBERTa's encoder is BERT's layer for layer, so the layers come from bert_ref.py; what
is RoBERTa's own is written here: position ids counted from pad_token_id + 1 over the
non-pad tokens (create_position_ids_from_input_ids) with a padding row in
position_embeddings, the "roberta." prefix, RobertaClassificationHead (dense, tanh,
out_proj on <s>) and RobertaLMHead (dense, gelu, layer_norm, decoder tied to the word
embeddings, its own bias). Only multiple choice uses the pooler.

Cases: mc is the whole model (model.safetensors, with the pooler); seqcls, tokcls, qa
and mlm are heads on mc's encoder (head.safetensors holds the head's own tensors).
The inputs pad on the right and, in one row, on the left, so the position ids skip
padding at both ends.

Tiny architecture: 2 layers, hidden 32, 4 heads, intermediate 64, vocab 100,
max_position 40 (38 usable positions: RoBERTa's offset of pad_token_id + 1),
type_vocab_size 1, pad_token_id 1, layer_norm_eps 1e-5 (roberta-base's).

Run:  /usr/bin/python3 tools/modelref/roberta_ref.py     (outputs are committed)
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref  # noqa: E402
from bert_ref import BertEmbeddings, BertModel, randomize, head_case, write_case  # noqa: E402

OUT = os.path.join(bert_ref.ROOT, "models", "roberta", "testdata")

CONFIG = dict(
    model_type="roberta", vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    max_position_embeddings=40, type_vocab_size=1, initializer_range=0.02, layer_norm_eps=1e-5,
    pad_token_id=1, bos_token_id=0, eos_token_id=2, position_embedding_type="absolute",
    transformers_version="4.44.0",
)


# --- modeling_roberta.py, eager path ----------------------------------------------------------

def create_position_ids_from_input_ids(ids, pad):
    mask = ids.ne(pad).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad


class RobertaEmbeddings(BertEmbeddings):
    def __init__(self, c):
        super().__init__(c)
        self.padding_idx = c["pad_token_id"]
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"],
                                                padding_idx=self.padding_idx)

    def forward(self, ids, types):
        pos = create_position_ids_from_input_ids(ids, self.padding_idx)
        e = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(e))


class RobertaModel(BertModel):
    def __init__(self, c, add_pooling_layer=True):
        super().__init__(c, add_pooling_layer)
        self.embeddings = RobertaEmbeddings(c)


class RobertaClassificationHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.out_proj = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, h):
        x = self.dropout(h[:, 0])  # <s>
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)


class RobertaForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.roberta = RobertaModel(c, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(c)

    def forward(self, ids, types, mask, labels):
        h, _ = self.roberta(ids, types, mask)
        logits = self.classifier(h)
        return logits, nn.functional.cross_entropy(logits, labels)


class RobertaForTokenClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.roberta = RobertaModel(c, add_pooling_layer=False)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, ids, types, mask, labels):
        h, _ = self.roberta(ids, types, mask)
        logits = self.classifier(self.dropout(h))
        return logits, nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())


class RobertaForQuestionAnswering(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.roberta = RobertaModel(c, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(c["hidden_size"], 2)

    def forward(self, ids, types, mask, start, end):
        h, _ = self.roberta(ids, types, mask)
        s, e = [x.squeeze(-1) for x in self.qa_outputs(h).split(1, dim=-1)]
        T = s.shape[1]
        ce = nn.functional.cross_entropy
        loss = (ce(s, start.clamp(0, T), ignore_index=T) + ce(e, end.clamp(0, T), ignore_index=T)) / 2
        return torch.stack([s, e], dim=1), loss  # logits saved as [B, 2, T]


class RobertaForMultipleChoice(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.roberta = RobertaModel(c)  # the one head with the pooler
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], 1)

    def forward(self, ids, types, mask, labels):
        B, K, T = ids.shape
        _, pooled = self.roberta(ids.view(-1, T), types.view(-1, T), mask.view(-1, T))
        logits = self.classifier(self.dropout(pooled)).view(B, K)
        return logits, nn.functional.cross_entropy(logits, labels)


class RobertaLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word = [word_embeddings]  # decoder.weight is tied: not a second parameter

    def forward(self, h):
        x = self.layer_norm(nn.functional.gelu(self.dense(h)))  # gelu whatever hidden_act says
        return nn.functional.linear(x, self.word[0].weight, self.bias)


class RobertaForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.roberta = RobertaModel(c, add_pooling_layer=False)
        self.lm_head = RobertaLMHead(c, self.roberta.embeddings.word_embeddings)

    def forward(self, ids, types, mask, labels):
        h, _ = self.roberta(ids, types, mask)
        logits = self.lm_head(h)
        return logits, nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())


# --- fixtures ---------------------------------------------------------------------------------

def inputs(g, B, T):
    """<s> (0) first, random ids in [3, vocab), padding (pad_token_id) at the end of rows 1
    and 2 and at the start of row 2 when B > 2; token types all 0 (type_vocab_size 1)."""
    pad = CONFIG["pad_token_id"]
    ids = torch.randint(3, CONFIG["vocab_size"], (B, T), generator=g)
    ids[:, 0] = CONFIG["bos_token_id"]
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, T - 3:] = 0
    if B > 2:
        mask[2, :2] = 0
        mask[2, T - 1:] = 0
    ids[mask == 0] = pad
    return ids, torch.zeros(B, T, dtype=torch.long), mask


def rows(ids, types, mask, **more):
    return dict(input_ids=ids.tolist(), token_type_ids=types.tolist(), attention_mask=mask.tolist(), **more)


def mc():
    c = dict(CONFIG, architectures=["RobertaForMultipleChoice"])
    g = torch.Generator().manual_seed(1)
    m = RobertaForMultipleChoice(c)
    randomize(m, g)
    m.eval()
    ids, types, mask = (x.view(2, 2, 6) for x in inputs(g, 4, 6))
    labels = torch.tensor([1, 0])
    logits, loss = m(ids, types, mask, labels)
    loss.backward()
    write_case("mc", c, m, rows(ids, types, mask, labels=labels.tolist()), logits, loss, out=OUT)
    return m


def heads(base):
    def case(name, cls, c, seed, run):
        head_case(name, cls, c, seed, run, base=base, prefix="roberta.", out=OUT)

    def seqcls(m, g):
        ids, types, mask = inputs(g, 3, 8)
        labels = torch.tensor([2, 0, 1])
        logits, loss = m(ids, types, mask, labels)
        return rows(ids, types, mask, labels=labels.tolist()), logits, loss
    case("seqcls", RobertaForSequenceClassification,
         dict(CONFIG, architectures=["RobertaForSequenceClassification"], id2label={"0": "NEG", "1": "NEU", "2": "POS"},
              label2id={"NEG": 0, "NEU": 1, "POS": 2}), 2, seqcls)

    def tokcls(m, g):
        ids, types, mask = inputs(g, 3, 8)
        labels = torch.randint(0, 5, (3, 8), generator=g)
        labels[mask == 0] = -100
        logits, loss = m(ids, types, mask, labels)
        return rows(ids, types, mask, labels=labels.tolist()), logits, loss
    case("tokcls", RobertaForTokenClassification,
         dict(CONFIG, architectures=["RobertaForTokenClassification"], id2label={str(i): "T%d" % i for i in range(5)},
              label2id={"T%d" % i: i for i in range(5)}), 3, tokcls)

    def qa(m, g):
        ids, types, mask = inputs(g, 3, 8)
        start, end = torch.tensor([1, 3, 20]), torch.tensor([2, 4, 6])  # 20: clamped to T, ignored
        logits, loss = m(ids, types, mask, start, end)
        return rows(ids, types, mask, start_positions=start.tolist(), end_positions=end.tolist()), logits, loss
    case("qa", RobertaForQuestionAnswering, dict(CONFIG, architectures=["RobertaForQuestionAnswering"]), 4, qa)

    def mlm(m, g):
        ids, types, mask = inputs(g, 3, 8)
        labels = torch.full((3, 8), -100)
        labels[0, 2], labels[1, 1], labels[2, 5], labels[0, 6] = 17, 42, 99, 3
        logits, loss = m(ids, types, mask, labels)
        return rows(ids, types, mask, labels=labels.tolist()), logits, loss
    case("mlm", RobertaForMaskedLM, dict(CONFIG, architectures=["RobertaForMaskedLM"]), 5, mlm)


if __name__ == "__main__":
    torch.manual_seed(0)
    heads(mc())

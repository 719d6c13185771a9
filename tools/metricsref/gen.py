#!/usr/bin/env python3
"""Reference values for kiln's metrics package.

Run from the repository root with Debian's Python:

    apt-get install -y python3-sklearn python3-scipy
    /usr/bin/python3 tools/metricsref/gen.py

writes metrics/testdata/metrics_reference.json. References:
  * classification, multi-label: sklearn (accuracy_score,
    precision_recall_fscore_support, matthews_corrcoef, f1_score,
    confusion_matrix), zero_division left at its default ("warn" -> 0);
  * regression: sklearn mean_squared_error, scipy.stats pearsonr/spearmanr;
  * token classification: seqeval 1.2.2's default (non-strict) algorithm,
    reimplemented below line for line (seqeval is not packaged by Debian):
    get_entities, end_of_chunk, start_of_chunk, extract_tp_actual_correct,
    and the evaluate "seqeval" wrapper's key names and -100 dropping
    (as in transformers' run_ner.py);
  * SQuAD: the official evaluate-v1.1.py and evaluate-v2.0.py scoring
    functions (normalize_answer, f1_score / compute_f1, exact match,
    make_eval_dict without thresholds), copied below;
  * perplexity: math.exp(loss_sum / count).
NaN is written as null.
"""
import collections
import json
import math
import random
import re
import string
import warnings

import numpy as np
import scipy.stats
import sklearn
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             matthews_corrcoef, mean_squared_error,
                             precision_recall_fscore_support)

warnings.filterwarnings("ignore")
rng = random.Random(20240611)


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return None if math.isnan(x) else x
    if isinstance(x, np.integer):
        return int(x)
    return x


# ---------------------------------------------------------------- classification
def cls_case(name, k, avg, y, p):
    pr, rc, f, _ = precision_recall_fscore_support(y, p, average=avg, pos_label=1)
    return {
        "name": name, "num_classes": k, "average": avg, "pred": p, "label": y,
        "confusion": confusion_matrix(y, p, labels=list(range(k))).tolist(),
        "want": {"accuracy": accuracy_score(y, p), "precision": pr, "recall": rc,
                 "f1": f, "matthews_correlation": matthews_corrcoef(y, p)},
    }


def classification():
    out = []
    y = [rng.randrange(2) for _ in range(200)]
    p = [v if rng.random() < 0.7 else 1 - v for v in y]
    for avg in ["binary", "micro", "macro", "weighted"]:
        out.append(cls_case("random2_" + avg, 2, avg, y, p))
    y = [rng.randrange(5) for _ in range(300)]
    p = [v if rng.random() < 0.5 else rng.randrange(5) for v in y]
    for avg in ["micro", "macro", "weighted"]:
        out.append(cls_case("random5_" + avg, 5, avg, y, p))
    # skewed, one class never predicted (zero division in its precision)
    y = [rng.choice([0, 0, 0, 1, 2, 3]) for _ in range(120)]
    p = [v if (rng.random() < 0.6 and v != 3) else rng.randrange(3) for v in y]
    for avg in ["micro", "macro", "weighted"]:
        out.append(cls_case("never_predicted_" + avg, 4, avg, y, p))
    # classes 3, 4 absent from labels and predictions: macro over present only
    y = [rng.randrange(3) for _ in range(60)]
    p = [rng.randrange(3) for _ in range(60)]
    out.append(cls_case("absent_classes_macro", 5, "macro", y, p))
    out.append(cls_case("all_one_class_binary", 2, "binary", [1] * 10, [1] * 10))
    out.append(cls_case("all_negative_binary", 2, "binary", [0] * 10, [0] * 10))
    out.append(cls_case("pred_constant_binary", 2, "binary", [0, 1, 1, 0, 1], [1] * 5))
    out.append(cls_case("inverse_binary", 2, "binary", [0, 1, 1, 0], [1, 0, 0, 1]))
    out.append(cls_case("single_example_macro", 3, "macro", [2], [1]))
    out.append(cls_case("perfect3_macro", 3, "macro", [0, 1, 2, 2], [0, 1, 2, 2]))
    return out


# ---------------------------------------------------------------- regression
def reg_case(name, y, p):
    return {"name": name, "pred": p, "label": y, "want": {
        "mse": mean_squared_error(y, p),
        "pearson": scipy.stats.pearsonr(p, y)[0] if len(y) >= 2 else float("nan"),
        "spearmanr": scipy.stats.spearmanr(p, y)[0] if len(y) >= 2 else float("nan"),
    }}


def regression():
    y = [rng.gauss(0, 1) for _ in range(150)]
    p = [v * 0.8 + rng.gauss(0, 0.5) for v in y]
    out = [reg_case("random", y, p)]
    y = [float(rng.randrange(6)) for _ in range(80)]
    p = [float(rng.randrange(4)) + (v > 3) for v in y]
    out.append(reg_case("ties", y, p))
    y = [rng.uniform(0, 5) for _ in range(40)]
    out.append(reg_case("monotone_nonlinear", y, [math.exp(v) for v in y]))
    out.append(reg_case("constant_label", [2.5] * 6, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    out.append(reg_case("two_points", [1.0, 3.0], [0.5, 0.25]))
    out.append(reg_case("stsb_scale", [rng.choice([0, 0.8, 1.6, 2.4, 3.2, 4, 4.2, 5]) for _ in range(60)],
                        [rng.uniform(0, 5) for _ in range(60)]))
    return out


# ---------------------------------------------------------------- multi-label
def ml_case(name, Y, P):
    Ya, Pa = np.array(Y), np.array(P)
    pi, ri, fi, _ = precision_recall_fscore_support(Ya, Pa, average="micro")
    pa, ra, fa, _ = precision_recall_fscore_support(Ya, Pa, average="macro")
    assert abs(fi - f1_score(Ya, Pa, average="micro")) < 1e-15
    return {"name": name, "num_labels": len(Y[0]), "pred": P, "label": Y, "want": {
        "f1_micro": fi, "precision_micro": pi, "recall_micro": ri,
        "f1_macro": fa, "precision_macro": pa, "recall_macro": ra,
        "accuracy": accuracy_score(Ya, Pa)}}


def multilabel():
    L = 6
    Y = [[int(rng.random() < 0.3) if j != 5 else 0 for j in range(L)] for _ in range(70)]
    P = [[y if rng.random() < 0.8 else 1 - y for y in row] for row in Y]
    for row in P:
        row[5] = 0  # label 5 never true nor predicted: macro counts it as 0
    out = [ml_case("random", Y, P)]
    out.append(ml_case("perfect", [[1, 0, 1], [0, 0, 0]], [[1, 0, 1], [0, 0, 0]]))
    out.append(ml_case("empty_predictions", [[1, 0, 1], [0, 1, 0]], [[0, 0, 0], [0, 0, 0]]))
    return out


# ---------------------------------------------------------------- seqeval 1.2.2
def end_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_end = False
    if prev_tag == 'E': chunk_end = True
    if prev_tag == 'S': chunk_end = True
    if prev_tag == 'B' and tag == 'B': chunk_end = True
    if prev_tag == 'B' and tag == 'S': chunk_end = True
    if prev_tag == 'B' and tag == 'O': chunk_end = True
    if prev_tag == 'I' and tag == 'B': chunk_end = True
    if prev_tag == 'I' and tag == 'S': chunk_end = True
    if prev_tag == 'I' and tag == 'O': chunk_end = True
    if prev_tag != 'O' and prev_tag != '.' and prev_type != type_: chunk_end = True
    return chunk_end


def start_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_start = False
    if tag == 'B': chunk_start = True
    if tag == 'S': chunk_start = True
    if prev_tag == 'E' and tag == 'E': chunk_start = True
    if prev_tag == 'E' and tag == 'I': chunk_start = True
    if prev_tag == 'S' and tag == 'E': chunk_start = True
    if prev_tag == 'S' and tag == 'I': chunk_start = True
    if prev_tag == 'O' and tag == 'E': chunk_start = True
    if prev_tag == 'O' and tag == 'I': chunk_start = True
    if tag != 'O' and tag != '.' and prev_type != type_: chunk_start = True
    return chunk_start


def get_entities(seq, suffix=False):
    if any(isinstance(s, list) for s in seq):
        seq = [item for sublist in seq for item in sublist + ['O']]
    prev_tag = 'O'
    prev_type = ''
    begin_offset = 0
    chunks = []
    for i, chunk in enumerate(seq + ['O']):
        tag = chunk[0]
        type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin_offset, i - 1))
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            begin_offset = i
        prev_tag = tag
        prev_type = type_
    return chunks


def seqeval_scores(y_true, y_pred):
    et, ep = collections.defaultdict(set), collections.defaultdict(set)
    for t, s, e in get_entities(y_true):
        et[t].add((s, e))
    for t, s, e in get_entities(y_pred):
        ep[t].add((s, e))
    names = sorted(set(et) | set(ep))

    def prf(tp, pred, true):
        p = tp / pred if pred else 0.0
        r = tp / true if true else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f
    out = {}
    T = Pd = Tr = 0
    for n in names:
        tp, pd, tr = len(et[n] & ep[n]), len(ep[n]), len(et[n])
        T, Pd, Tr = T + tp, Pd + pd, Tr + tr
        p, r, f = prf(tp, pd, tr)
        out.update({n + "_precision": p, n + "_recall": r, n + "_f1": f, n + "_number": tr})
    p, r, f = prf(T, Pd, Tr)
    flat_t = [x for s in y_true for x in s]
    flat_p = [x for s in y_pred for x in s]
    out.update({"overall_precision": p, "overall_recall": r, "overall_f1": f,
                "overall_accuracy": sum(a == b for a, b in zip(flat_t, flat_p)) / len(flat_t) if flat_t else 0.0})
    return out


def seq_case(name, label, pred):
    return {"name": name, "pred": pred, "label": label, "want": seqeval_scores(label, pred)}


def seqeval():
    out = [
        seq_case("iob2_exact", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]),
        seq_case("adjacent_same_type_B", [["B-PER", "B-PER", "O"]], [["B-PER", "I-PER", "O"]]),
        seq_case("iob1", [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]], [["I-PER", "B-PER", "O", "I-LOC", "I-LOC"]]),
        seq_case("iob1_vs_iob2_same_tokens", [["O", "B-PER", "I-PER", "O"]], [["O", "I-PER", "I-PER", "O"]]),
        seq_case("I_after_O_starts", [["O", "I-MISC", "O", "B-MISC", "I-MISC"]], [["O", "I-MISC", "I-MISC", "O", "I-MISC"]]),
        seq_case("type_change", [["B-PER", "I-LOC", "I-LOC", "O"]], [["B-PER", "I-PER", "I-LOC", "O"]]),
        seq_case("empty_predictions", [["B-PER", "O"], ["B-LOC", "I-LOC"]], [["O", "O"], ["O", "O"]]),
        seq_case("no_entities", [["O", "O", "O"]], [["O", "O", "O"]]),
        seq_case("single_entity", [["B-ORG"]], [["B-ORG"]]),
        seq_case("iobes", [["S-PER", "B-LOC", "E-LOC", "O", "S-PER"]], [["S-PER", "B-LOC", "I-LOC", "E-LOC", "B-PER"]]),
        seq_case("untyped_tags", [["B", "I", "O", "B"]], [["B", "I", "I", "B"]]),
        seq_case("entity_at_sentence_end", [["O", "I-PER"], ["I-PER", "O"]], [["O", "I-PER"], ["I-PER", "O"]]),
        seq_case("pred_only_type", [["B-PER", "O"]], [["B-PER", "B-ORG"]]),
    ]
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "I-ORG", "B-ORG"]
    ys, ps = [], []
    for _ in range(40):
        n = rng.randrange(1, 15)
        y = [rng.choice(tags[:1] * 4 + tags) for _ in range(n)]
        p = [t if rng.random() < 0.75 else rng.choice(tags) for t in y]
        ys.append(y)
        ps.append(p)
    out.append(seq_case("random", ys, ps))
    # ids with -100, as run_ner feeds them: drop ignored positions, then score
    W = 12
    ids_y, ids_p, ty, tp = [], [], [], []
    for _ in range(25):
        row_y = [rng.randrange(len(tags)) if rng.random() < 0.7 else -100 for _ in range(W)]
        row_p = [rng.randrange(len(tags)) for _ in range(W)]
        ids_y += row_y
        ids_p += row_p
        ty.append([tags[y] for y in row_y if y != -100])
        tp.append([tags[p] for p, y in zip(row_p, row_y) if y != -100])
    out.append({"name": "ids_ignore_index", "label_names": tags, "width": W,
                "pred_ids": ids_p, "label_ids": ids_y, "want": seqeval_scores(ty, tp)})
    return out


# ---------------------------------------------------------------- SQuAD
def normalize_answer(s):  # evaluate-v1.1.py / evaluate-v2.0.py
    def remove_articles(text):
        return re.sub(re.compile(r'\b(a|an|the)\b', re.UNICODE), ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()
    return white_space_fix(remove_articles(remove_punc(lower(s))))


def v1_f1(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad_v1(preds, golds):
    em = f1 = 0
    for p, gs in zip(preds, golds):
        em += max(normalize_answer(p) == normalize_answer(g) for g in gs)
        f1 += max(v1_f1(p, g) for g in gs)
    return {"exact_match": 100.0 * em / len(preds), "f1": 100.0 * f1 / len(preds)}


def get_tokens(s):
    if not s:
        return []
    return normalize_answer(s).split()


def compute_f1(a_gold, a_pred):
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def squad_v2(preds, golds):
    ex, f1, has = [], [], []
    for p, answers in zip(preds, golds):
        gold_answers = [a for a in answers if normalize_answer(a)]
        if not gold_answers:
            gold_answers = ['']
        ex.append(max(int(normalize_answer(a) == normalize_answer(p)) for a in gold_answers))
        f1.append(max(compute_f1(a, p) for a in gold_answers))
        has.append(bool(answers))

    def mk(idx):
        return (100.0 * sum(ex[i] for i in idx) / len(idx), 100.0 * sum(f1[i] for i in idx) / len(idx), len(idx))
    out = dict(zip(["exact", "f1", "total"], mk(range(len(preds)))))
    for key, sel in [("HasAns", True), ("NoAns", False)]:
        idx = [i for i in range(len(preds)) if has[i] == sel]
        if idx:
            e, f, t = mk(idx)
            out.update({key + "_exact": e, key + "_f1": f, key + "_total": t})
    return out


def squad():
    hand_p = ["The Cat", "a cat sat", "Paris!", "an apple", "theatre", "Ünïcode STRASSE é", "", "the the cat cat",
              "don't", "$1,000", "  lots   of\tspace ", "Anne_Marie", "A", "Thé end", "x—y"]
    hand_g = [["cat"], ["the cat sat on the mat"], ["paris", "France"], ["apple"], ["the atre", "theatre"],
              ["ünïcode strasse"], ["something"], ["cat"], ["dont"], ["1000"], ["lots of space"], ["annemarie"],
              ["an"], ["thé end"], ["x y", "x—y"]]
    words = ["the", "a", "an", "cat", "dog", "Paris", "river", "1990", "New", "York", "city,", "of", "(born", "1990)"]
    rp, rg = [], []
    for _ in range(60):
        g = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 6))) for _ in range(rng.randrange(1, 4))]
        base = g[0].split()
        p = " ".join(w for w in base if rng.random() < 0.7) + (" " + rng.choice(words) if rng.random() < 0.4 else "")
        rp.append(p)
        rg.append(g)
    out = [{"name": "v1_hand", "v2": False, "pred": hand_p, "gold": hand_g, "want": squad_v1(hand_p, hand_g)},
           {"name": "v1_random", "v2": False, "pred": rp, "gold": rg, "want": squad_v1(rp, rg)}]
    v2p = hand_p + ["", "something", "", "the"] + rp[:20]
    v2g = hand_g + [[], [], ["a"], ["the"]] + [[] if i % 3 == 0 else g for i, g in enumerate(rg[:20])]
    out.append({"name": "v2_mixed", "v2": True, "pred": v2p, "gold": v2g, "want": squad_v2(v2p, v2g)})
    out.append({"name": "v2_only_no_answer", "v2": True, "pred": ["", "x"], "gold": [[], []], "want": squad_v2(["", "x"], [[], []])})
    return out


def perplexity():
    out = []
    for name, batches in [("one", [(12.5, 10)]), ("uneven", [(3.0, 1), (40.2, 17), (0.5, 3)]),
                          ("random", [(rng.uniform(0, 80), rng.randrange(1, 30)) for _ in range(20)])]:
        s, n = sum(b[0] for b in batches), sum(b[1] for b in batches)
        out.append({"name": name, "loss_sums": [b[0] for b in batches], "counts": [b[1] for b in batches],
                    "want": {"perplexity": math.exp(s / n)}})
    return out


doc = {
    "generator": "tools/metricsref/gen.py",
    "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__,
                 "seqeval": "1.2.2 algorithm, reimplemented"},
    "classification": classification(), "regression": regression(), "multilabel": multilabel(),
    "seqeval": seqeval(), "squad": squad(), "perplexity": perplexity(),
}
with open("metrics/testdata/metrics_reference.json", "w") as f:
    json.dump(clean(doc), f, separators=(",", ":"), ensure_ascii=False)
    f.write("\n")

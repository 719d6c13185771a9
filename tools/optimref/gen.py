#!/usr/bin/env python3
"""Reference values for kiln's optim package, from torch 1.13 (Debian python3-torch).

Runs torch.optim.AdamW (two parameter groups as HF Trainer builds them: decay and
no-decay), torch.optim.SGD variants, torch.nn.utils.clip_grad_norm_ and every HF
get_scheduler schedule (reimplemented from transformers/optimization.py, since
transformers is not installed here) on small seeded tensors with seeded gradients,
and writes optim/testdata/optim_reference.json.

    /usr/bin/python3 tools/optimref/gen.py   # from the repository root
"""
import json
import math
import os

import torch

torch.manual_seed(0)
torch.set_num_threads(1)


def f32list(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


# ---- HF schedules (transformers.optimization, LambdaLR multipliers) ----

def warmup(step, w):
    return float(step) / float(max(1, w))


def constant(step):
    return 1.0


def constant_with_warmup(step, w):
    if step < w:
        return warmup(step, w)
    return 1.0


def linear(step, w, total):
    if step < w:
        return warmup(step, w)
    return max(0.0, float(total - step) / float(max(1, total - w)))


def cosine(step, w, total, num_cycles=0.5):
    if step < w:
        return warmup(step, w)
    progress = float(step - w) / float(max(1, total - w))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def cosine_with_restarts(step, w, total, num_cycles=1):
    if step < w:
        return warmup(step, w)
    progress = float(step - w) / float(max(1, total - w))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def polynomial(step, w, total, lr_init, lr_end=1e-7, power=1.0):
    if step < w:
        return warmup(step, w)
    elif step > total:
        return lr_end / lr_init
    else:
        lr_range = lr_init - lr_end
        decay_steps = total - w
        pct_remaining = 1 - (step - w) / decay_steps
        decay = lr_range * pct_remaining ** power + lr_end
        return decay / lr_init


def inverse_sqrt(step, w, timescale=None):
    if timescale is None:
        timescale = w or 10_000
    if step < w:
        return warmup(step, w)
    shift = timescale - w
    return 1.0 / math.sqrt((step + shift) / timescale)


def get_warmup_steps(total, warmup_steps, warmup_ratio):
    return warmup_steps if warmup_steps > 0 else math.ceil(total * warmup_ratio)


def schedules():
    out = []
    steps = list(range(0, 25))
    for total, w in [(20, 0), (20, 3), (20, 5), (7, 2), (1, 0)]:
        out.append(dict(name="linear", warmup=w, total=total, values=[linear(s, w, total) for s in steps]))
        out.append(dict(name="cosine", warmup=w, total=total, num_cycles=0.5,
                        values=[cosine(s, w, total) for s in steps]))
        out.append(dict(name="constant_with_warmup", warmup=w, total=total,
                        values=[constant_with_warmup(s, w) for s in steps]))
        out.append(dict(name="inverse_sqrt", warmup=w, total=total,
                        values=[inverse_sqrt(s, w) for s in steps]))
    out.append(dict(name="constant", warmup=0, total=20, values=[constant(s) for s in steps]))
    out.append(dict(name="cosine", warmup=2, total=20, num_cycles=1.5,
                    values=[cosine(s, 2, 20, 1.5) for s in steps]))
    for cyc in [1, 3]:
        out.append(dict(name="cosine_with_restarts", warmup=2, total=20, num_cycles=cyc,
                        values=[cosine_with_restarts(s, 2, 20, cyc) for s in steps]))
    out.append(dict(name="cosine_with_restarts", warmup=0, total=13, num_cycles=2,
                    values=[cosine_with_restarts(s, 0, 13, 2) for s in steps]))
    for lr_init, lr_end, power in [(1e-3, 1e-7, 1.0), (5e-5, 0.0, 2.0), (1e-3, 1e-4, 0.5)]:
        out.append(dict(name="polynomial", warmup=3, total=20, lr_init=lr_init, lr_end=lr_end, power=power,
                        values=[polynomial(s, 3, 20, lr_init, lr_end, power) for s in steps]))
    out.append(dict(name="inverse_sqrt", warmup=4, total=20, timescale=10,
                    values=[inverse_sqrt(s, 4, 10) for s in steps]))
    warm = []
    for total, ws, wr in [(100, 0, 0.1), (101, 0, 0.1), (7, 0, 0.33), (50, 5, 0.5), (10, 0, 0.0), (3, 0, 0.5)]:
        warm.append(dict(total=total, warmup_steps=ws, warmup_ratio=wr, result=get_warmup_steps(total, ws, wr)))
    return out, warm


# ---- AdamW (HF grouping) ----

ADAM_SHAPES = [
    ("bert.encoder.layer.0.intermediate.dense.weight", (4, 5)),
    ("bert.encoder.layer.0.intermediate.dense.bias", (6,)),
    ("bert.encoder.layer.0.output.LayerNorm.weight", (6,)),
    ("bert.encoder.layer.0.output.LayerNorm.bias", (6,)),
    ("classifier.weight", (3, 13)),  # 39 elements: not a multiple of 8
    ("pooler.dense.weight", (4, 4)),  # no grad on some steps
]
NO_DECAY = {"bert.encoder.layer.0.intermediate.dense.bias",
            "bert.encoder.layer.0.output.LayerNorm.weight",
            "bert.encoder.layer.0.output.LayerNorm.bias"}


def adamw_case(name, steps, sched_warmup=None, sched_total=None):
    params = {n: torch.randn(*s) for n, s in ADAM_SHAPES}
    init = {n: f32list(p) for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(True)
    groups = [
        dict(params=[params[n] for n, _ in ADAM_SHAPES if n not in NO_DECAY], weight_decay=0.01),
        dict(params=[params[n] for n, _ in ADAM_SHAPES if n in NO_DECAY], weight_decay=0.0),
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = None
    if sched_warmup is not None:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear(s, sched_warmup, sched_total))
    recs = []
    for k in range(steps):
        grads = {}
        lrs = opt.param_groups[0]["lr"]
        for n, p in params.items():
            if n == "pooler.dense.weight" and k in (2, 5):
                p.grad = None
                continue
            scale = 10.0 ** (k % 3 - 2)  # 0.01, 0.1, 1
            g = torch.randn(p.shape) * scale
            p.grad = g.clone()
            grads[n] = f32list(g)
        opt.step()
        if sched is not None:
            sched.step()
        recs.append(dict(lr=lrs, grads=grads, params={n: f32list(p) for n, p in params.items()}))
    state = {}
    for n, p in params.items():
        st = opt.state[p]
        state[n] = dict(step=int(st["step"].item()), exp_avg=f32list(st["exp_avg"]),
                        exp_avg_sq=f32list(st["exp_avg_sq"]))
    return dict(name=name, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                sched_warmup=sched_warmup or 0, sched_total=sched_total or 0,
                shapes={n: list(s) for n, s in ADAM_SHAPES}, no_decay=sorted(NO_DECAY),
                init=init, steps=recs, state=state)


# ---- SGD ----

def sgd_case(momentum, dampening, nesterov, wd, steps=6):
    shapes = [("w", (4, 3)), ("b", (11,))]
    params = {n: torch.randn(*s) for n, s in shapes}
    init = {n: f32list(p) for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.SGD(list(params.values()), lr=0.1, momentum=momentum, dampening=dampening,
                          nesterov=nesterov, weight_decay=wd)
    recs = []
    for k in range(steps):
        grads = {}
        for n, p in params.items():
            g = torch.randn(p.shape)
            p.grad = g.clone()
            grads[n] = f32list(g)
        opt.step()
        recs.append(dict(grads=grads, params={n: f32list(p) for n, p in params.items()}))
    return dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd,
                shapes={n: list(s) for n, s in shapes}, init=init, steps=recs)


# ---- clip_grad_norm_ ----

def clip_case(max_norm, scale):
    shapes = [(5, 7), (13,), (3, 3)]
    grads = [torch.randn(*s) * scale for s in shapes]
    ps = []
    for g in grads:
        p = torch.zeros(g.shape, requires_grad=True)
        p.grad = g.clone()
        ps.append(p)
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return dict(max_norm=max_norm, shapes=[list(s) for s in shapes], grads=[f32list(g) for g in grads],
                norm=float(norm), clipped=[f32list(p.grad) for p in ps])


def main():
    sch, warm = schedules()
    ref = dict(
        torch_version=torch.__version__,
        schedules=sch,
        warmup_steps=warm,
        adamw=[adamw_case("constant_lr", 8), adamw_case("linear_warmup", 8, 2, 8)],
        sgd=[sgd_case(0.0, 0.0, False, 0.0), sgd_case(0.9, 0.0, False, 0.01),
             sgd_case(0.9, 0.1, False, 0.0), sgd_case(0.9, 0.0, True, 0.01)],
        clip=[clip_case(1.0, 1.0), clip_case(100.0, 1.0), clip_case(0.5, 0.01), clip_case(2.0, 3.0)],
    )
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    path = os.path.join(root, "optim", "testdata", "optim_reference.json")
    with open(path, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()

"""PyTorch references for the element-wise group: unary ops and activations,
reductions over axes (sum, mean, max/min with indices, argmax, full max/min),
softmax and log-softmax, where / masked_fill / comparisons / logical ops, and
dropout's deterministic cases (p == 0, eval mode): PyTorch cannot reproduce
kiln's counter-based mask, so random dropout is tested statistically in Go.

Infinite attribute values are written as the strings "inf" / "-inf" (JSON has
no infinities); an absent clamp bound means unbounded."""
import torch
import torch.nn.functional as F

from common import case, randn, write

cases = []
NEG_INF = float("-inf")


def mixed_vals(dt):
    # Includes exact zeros and the clamp bounds 0 and 1, where PyTorch's
    # subgradient conventions (relu'(0) = 0, |x|'(0) = 0, clamp passes at the
    # bounds) are checked.
    return torch.tensor([[-2.5, -1.0, -0.3, 0.0, 0.2], [0.5, 1.0, 1.7, 3.0, -0.0], [4.0, -4.0, 0.9, 1e-3, -1e-3]], dtype=dt)


for dt, sfx in [(torch.float32, "f32"), (torch.float64, "f64")]:
    x = randn(3, 5, seed=1, dtype=dt)
    x3 = randn(2, 3, 4, seed=2, dtype=dt)
    pos = randn(3, 5, seed=3, dtype=dt).abs() + 0.1
    mv = mixed_vals(dt)
    wide = randn(4, 6, seed=4, dtype=dt, scale=6.0)  # tails of tanh, sigmoid, gelu
    unary = [
        ("neg", torch.neg, [x, x3]),
        ("exp", torch.exp, [x, x3]),
        ("log", torch.log, [pos]),
        ("tanh", torch.tanh, [x, wide]),
        ("sqrt", torch.sqrt, [pos]),
        ("rsqrt", torch.rsqrt, [pos]),
        ("sigmoid", torch.sigmoid, [x, wide, torch.tensor([-100.0, -30.0, 0.0, 30.0, 100.0], dtype=dt)]),
        ("abs", torch.abs, [x, mv]),
        ("relu", torch.relu, [x, mv]),
        ("gelu", F.gelu, [x, wide, mv]),
        ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"), [x, wide, mv]),
        ("softplus", F.softplus, [x, wide, torch.tensor([-30.0, -1.0, 0.0, 19.5, 20.0, 20.5, 40.0], dtype=dt)]),
    ]
    if sfx == "f64":
        unary = [(n, f, ins[:1]) for n, f, ins in unary]
    for name, fn, ins in unary:
        for i, t in enumerate(ins):
            cases.append(case("%s_%d_%s" % (name, i, sfx), name, [("x", t)], fn, seed=i))

    pows = [(2.0, x), (3.0, x), (0.5, pos), (-1.0, pos), (1.5, pos), (-0.5, pos), (0.0, x), (1.0, x)]
    if sfx == "f64":
        pows = pows[:3]
    for i, (p, t) in enumerate(pows):
        cases.append(case("pow_%g_%s" % (p, sfx), "pow", [("x", t)], lambda t, p=p: torch.pow(t, p), attrs={"p": p}, seed=i))

    clamps = [(0.0, 1.0), (-0.3, 0.5), (None, 0.0), (0.0, None), (1.0, 0.0)]
    for i, (lo, hi) in enumerate(clamps):
        at = {}
        if lo is not None:
            at["lo"] = lo
        if hi is not None:
            at["hi"] = hi
        cases.append(case("clamp_%d_%s" % (i, sfx), "clamp", [("x", mv)], lambda t, lo=lo, hi=hi: torch.clamp(t, lo, hi), attrs=at, seed=i))

    # Reductions over axes.
    r4 = randn(2, 3, 2, 4, seed=10, dtype=dt)
    red = [
        ("last", r4, [-1], False),
        ("last_keep", r4, [3], True),
        ("first", r4, [0], False),
        ("mid", r4, [1], True),
        ("two_adjacent", r4, [1, 2], False),
        ("two_apart", r4, [1, 3], False),
        ("two_apart_keep", r4, [0, 2], True),
        ("outer_inner", r4, [0, -1], False),
        ("all_listed", r4, [0, 1, 2, 3], False),
        ("all_empty_list", r4, [], False),
        ("all_keep", r4, [], True),
        ("size1", randn(3, 1, 5, seed=11, dtype=dt), [1], False),
        ("size1_with_other", randn(3, 1, 5, seed=12, dtype=dt), [1, 2], True),
        ("vector", randn(7, seed=13, dtype=dt), [0], False),
    ]
    if sfx == "f64":
        red = red[:1] + red[5:7]
    for i, (tag, t, axes, keep) in enumerate(red):
        at = {"axes": axes, "keepdim": keep}
        cases.append(case("sum_axes_%s_%s" % (tag, sfx), "sum_axes", [("x", t)],
                          lambda t, axes=axes, keep=keep: torch.sum(t, dim=axes, keepdim=keep), attrs=at, seed=i))
        if i % 2 == 0:  # mean shares sum's kernels: every other layout
            cases.append(case("mean_axes_%s_%s" % (tag, sfx), "mean_axes", [("x", t)],
                              lambda t, axes=axes, keep=keep: torch.mean(t, dim=axes, keepdim=keep), attrs=at, seed=i))
    if sfx == "f32":
        # Long reductions (>1000 elements) along rows and columns, offset so
        # that float32 accumulation would drift; outputs only, to keep the
        # file small (their gradients are the small cases' broadcast).
        big = randn(1, 1100, seed=14, dtype=dt) + 3.0
        for tag, t, axes in [("rows", big, [1]), ("cols", big.t().contiguous(), [0])]:
            at = {"axes": axes, "keepdim": False}
            cases.append(case("sum_axes_big_%s" % tag, "sum_axes", [("x", t)],
                              lambda t, axes=axes: torch.sum(t, dim=axes), attrs=at, rtol=1e-4, grad=False))

    # Max/min along an axis (values with gradient, indices without), argmax,
    # full max/min with ties (PyTorch splits the gradient evenly).
    ties = torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, -1.0, 5.0], [0.0, -2.0, 0.0, -2.0]], dtype=dt)
    nanx = torch.tensor([[1.0, float("nan"), 3.0, float("nan")], [2.0, 1.0, 0.5, 4.0]], dtype=dt)
    mx = [
        ("last", x3, -1, False),
        ("mid_keep", x3, 1, True),
        ("first", x3, 0, False),
        ("ties_row", ties, 1, False),
        ("ties_col", ties, 0, True),
        ("nan", nanx, 1, False),
    ]
    if sfx == "f64":
        mx = mx[:2]
    for i, (tag, t, axis, keep) in enumerate(mx):
        at = {"axis": axis, "keepdim": keep}
        for op, f in [("max", torch.max), ("min", torch.min)]:
            cases.append(case("%s_axis_%s_%s" % (op, tag, sfx), op + "_axis", [("x", t)],
                              lambda t, f=f, axis=axis, keep=keep: f(t, dim=axis, keepdim=keep)[0], attrs=at, seed=i))
            cases.append(case("%s_axis_idx_%s_%s" % (op, tag, sfx), op + "_axis_idx", [("x", t)],
                              lambda t, f=f, axis=axis, keep=keep: f(t, dim=axis, keepdim=keep)[1], attrs=at, seed=i))
        cases.append(case("argmax_%s_%s" % (tag, sfx), "argmax", [("x", t)],
                          lambda t, axis=axis: torch.argmax(t, dim=axis), attrs={"axis": axis}))
    for i, t in enumerate([x3, ties] if sfx == "f32" else [x3]):
        cases.append(case("max_all_%d_%s" % (i, sfx), "max_all", [("x", t)], torch.max, seed=i))
        cases.append(case("min_all_%d_%s" % (i, sfx), "min_all", [("x", t)], torch.min, seed=i))

    # Softmax and log-softmax.
    s4 = randn(2, 3, 3, 4, seed=20, dtype=dt)
    masked = randn(3, 6, seed=21, dtype=dt)
    masked[0, 4:] = NEG_INF  # a padded row
    masked[1, 0] = NEG_INF
    masked[2, :] = NEG_INF  # fully masked: NaN in PyTorch
    masked_col = masked.t().contiguous()
    sm = [
        ("last", s4, -1),
        ("axis1", s4, 1),
        ("axis0", s4, 0),
        ("axis2", s4, 2),
        ("large", randn(4, 7, seed=22, dtype=dt, scale=100.0) + 1000.0, -1),
        ("large_col", randn(7, 4, seed=23, dtype=dt, scale=100.0) - 1000.0, 0),
        ("masked", masked, 1),
        ("masked_col", masked_col, 0),
        ("size1", randn(3, 1, seed=24, dtype=dt), -1),
        ("vector", randn(9, seed=25, dtype=dt), 0),
    ]
    if sfx == "f32":
        sm.append(("big_row", randn(1, 1100, seed=26, dtype=dt, scale=3.0), -1))
        sm.append(("wide_cols", randn(1, 2, 260, seed=27, dtype=dt), 1))  # more than one column block
    else:
        sm = sm[:1] + sm[6:7]
    for i, (tag, t, axis) in enumerate(sm):
        rtol = 1e-4 if tag.startswith("big") else 1e-5
        for op, f in [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]:
            # The long cases store outputs only, to keep the file small (the
            # Go tests check their gradients against float64).
            if tag == "big_row" and op == "log_softmax":
                continue
            grad = tag not in ("big_row", "wide_cols")
            cases.append(case("%s_%s_%s" % (op, tag, sfx), op, [("x", t)], lambda t, f=f, axis=axis: f(t, dim=axis),
                              attrs={"axis": axis}, seed=i, rtol=rtol, atol=1e-6 if tag != "large" else 1e-5, grad=grad))

    # Where and masked_fill.
    wh = [
        ("same", (3, 4), (3, 4), (3, 4)),
        ("bcast_cond", (3, 1), (3, 4), ()),
        ("bcast_all", (4,), (2, 1, 4), (3, 1)),
        ("bcast_a", (2, 3, 4), (4,), (2, 3, 4)),
    ]
    if sfx == "f64":
        wh = wh[:3]
    for i, (tag, sc, sa, sb) in enumerate(wh):
        c = randn(*sc, seed=30 + i) > 0
        a = randn(*sa, seed=40 + i, dtype=dt)
        b = randn(*sb, seed=50 + i, dtype=dt)
        cases.append(case("where_%s_%s" % (tag, sfx), "where", [("cond", c), ("a", a), ("b", b)], torch.where, seed=i))
    mf = [
        ("pad_mask", (2, 3, 4, 4), (2, 1, 1, 4), NEG_INF),
        ("causal", (2, 3, 4, 4), (4, 4), -1e9),
        ("same", (3, 5), (3, 5), 0.5),
        ("col", (3, 5), (3, 1), 2.0),
    ]
    if sfx == "f64":
        mf = mf[1:2]
    for i, (tag, sx, sm_, v) in enumerate(mf):
        t = randn(*sx, seed=60 + i, dtype=dt)
        if tag == "causal":
            m = torch.ones(4, 4, dtype=torch.bool).triu(1)
        else:
            m = randn(*sm_, seed=70 + i) > 0.3
        vs = "-inf" if v == NEG_INF else v
        cases.append(case("masked_fill_%s_%s" % (tag, sfx), "masked_fill", [("x", t), ("mask", m)],
                          lambda t, m, v=v: t.masked_fill(m, v), attrs={"value": vs}, seed=i))

# Comparisons and logical ops (no gradient).
a = randn(3, 4, seed=80)
b = a.clone()
b[0, 1] += 1.0
b[2, 3] -= 1.0
b[1, 2] = float("nan")
brow = a[1].clone()
brow[0] = 10.0
ai = torch.tensor([[1, 2, 3], [4, 5, 6]])
bi = torch.tensor([1, 0, 6])
for op, f in [("eq", torch.eq), ("ne", torch.ne), ("gt", torch.gt), ("ge", torch.ge), ("lt", torch.lt), ("le", torch.le)]:
    cases.append(case("%s_same" % op, op, [("a", a), ("b", b)], f))
    cases.append(case("%s_row" % op, op, [("a", a), ("b", brow)], f))
    cases.append(case("%s_int64" % op, op, [("a", ai), ("b", bi)], f))
    cases.append(case("%s_f64_col" % op, op, [("a", a.double()), ("b", b[:, :1].double())], f))
ba = randn(3, 4, seed=81) > 0
bb = randn(4, seed=82) > 0
for op, f in [("eq", torch.eq), ("ne", torch.ne), ("logical_and", torch.logical_and), ("logical_or", torch.logical_or)]:
    cases.append(case("%s_bool" % op, op, [("a", ba), ("b", bb)], f))
cases.append(case("logical_not", "logical_not", [("x", ba)], torch.logical_not))
for op, f in [("eq_scalar", torch.eq), ("gt_scalar", torch.gt), ("lt_scalar", torch.lt)]:
    cases.append(case(op + "_f32", op, [("x", mixed_vals(torch.float32))], lambda t, f=f: f(t, 0.2), attrs={"v": 0.2}))
    cases.append(case(op + "_f64", op, [("x", mixed_vals(torch.float64))], lambda t, f=f: f(t, 1.0), attrs={"v": 1.0}))
    cases.append(case(op + "_int64", op, [("x", ai)], lambda t, f=f: f(t, 3.5), attrs={"v": 3.5}))

# Dropout: only the deterministic cases.
for dt, sfx in [(torch.float32, "f32"), (torch.float64, "f64")]:
    t = randn(4, 5, seed=90, dtype=dt)
    cases.append(case("dropout_p0_" + sfx, "dropout", [("x", t)], lambda t: F.dropout(t, 0.0, True),
                      attrs={"p": 0.0, "training": True}))
    cases.append(case("dropout_eval_" + sfx, "dropout", [("x", t)], lambda t: F.dropout(t, 0.5, False),
                      attrs={"p": 0.5, "training": False}))

write("elementwise", cases)

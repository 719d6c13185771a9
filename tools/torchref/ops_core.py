"""PyTorch references for the core ops: broadcasting arithmetic, scalar ops,
full sum/mean, and (batched, transposed) matmul."""
import torch

from common import case, randn, write

cases = []
# float64 cases are few: float64 mostly serves the finite-difference checks.
for dt, sfx in [(torch.float32, "f32"), (torch.float64, "f64")]:
    shapes = [
        ("same", (3, 4), (3, 4)),
        ("row", (5, 6), (6,)),
        ("col", (5, 6), (5, 1)),
        ("scalar", (2, 3, 4), ()),
        ("both", (4, 1, 3), (1, 5, 3)),
        ("rank3_mid", (2, 3, 4), (3, 1)),
    ]
    for i, (tag, sa, sb) in enumerate(shapes):
        a = randn(*sa, seed=i, dtype=dt)
        b = randn(*sb, seed=100 + i, dtype=dt)
        for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
            cases.append(case("%s_%s_%s" % (op, tag, sfx), op, [("a", a), ("b", b)], fn, seed=i))
        bd = b.abs() + 0.5  # keep the divisor away from zero
        cases.append(case("div_%s_%s" % (tag, sfx), "div", [("a", a), ("b", bd)], torch.div, seed=i))
    x = randn(3, 5, seed=7, dtype=dt)
    cases.append(case("add_scalar_" + sfx, "add_scalar", [("x", x)], lambda x: x + 2.5, attrs={"s": 2.5}))
    cases.append(case("mul_scalar_" + sfx, "mul_scalar", [("x", x)], lambda x: x * -1.5, attrs={"s": -1.5}))
    cases.append(case("sum_all_" + sfx, "sum", [("x", x)], torch.sum))
    cases.append(case("mean_all_" + sfx, "mean", [("x", x)], torch.mean))
    big = randn(64, 40, seed=8, dtype=dt)
    cases.append(case("sum_all_big_" + sfx, "sum", [("x", big)], torch.sum, rtol=1e-4))

    mm = [
        ("2d", (4, 5), (5, 3), False, False),
        ("2d_tb", (4, 5), (3, 5), False, True),
        ("2d_ta", (5, 4), (5, 3), True, False),
        ("2d_tatb", (5, 4), (3, 5), True, True),
        ("batched", (2, 3, 4, 5), (2, 3, 5, 6), False, False),
        ("batched_tb", (2, 3, 4, 5), (2, 3, 6, 5), False, True),
        ("batched_ta", (3, 5, 4), (3, 5, 6), True, False),
        ("bcast_weight_tb", (2, 7, 5), (3, 5), False, True),
        ("bcast_weight", (2, 7, 5), (5, 3), False, False),
        ("bcast_weight_ta", (2, 5, 7), (5, 3), True, False),
        ("bcast_lhs", (4, 5), (3, 5, 2), False, False),
        ("large", (20, 37), (37, 21), False, False),
    ]
    if sfx == "f64":
        mm = mm[:5]
    for i, (tag, sa, sb, ta, tb) in enumerate(mm):
        a = randn(*sa, seed=200 + i, dtype=dt)
        b = randn(*sb, seed=300 + i, dtype=dt)

        def fn(a, b, ta=ta, tb=tb):
            return torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)

        cases.append(case("matmul_%s_%s" % (tag, sfx), "matmul", [("a", a), ("b", b)], fn,
                          attrs={"transA": ta, "transB": tb}, seed=i, rtol=1e-5 if sfx == "f64" else 2e-5, atol=1e-5))

write("core", cases)

"""PyTorch references for the fused ops: Linear (F.linear) and BiasGELU
(gelu(x + b), exact erf form and HF's tanh form "gelu_new")."""
import math

import torch
import torch.nn.functional as F

from common import case, randn, write


def gelu_new(x):  # HF's NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


cases = []
for dt, sfx in [(torch.float32, "f32"), (torch.float64, "f64")]:
    for i, (xs, o, bias) in enumerate([((4, 5), 3, True), ((2, 3, 6), 4, True), ((7, 3), 2, False), ((3, 16, 33), 17, True)]):
        x = randn(*xs, seed=40 + i, dtype=dt)
        w = randn(o, xs[-1], seed=50 + i, dtype=dt)
        ins = [("x", x), ("w", w)]
        if bias:
            ins.append(("b", randn(o, seed=60 + i, dtype=dt)))
        cases.append(case("linear_%d_%s" % (i, sfx), "linear", ins, lambda x, w, b=None: F.linear(x, w, b),
                          attrs={"bias": bias}, seed=i, rtol=2e-5, atol=1e-5))
    for i, xs in enumerate([(3, 8), (2, 4, 5)]):
        x = randn(*xs, seed=70 + i, dtype=dt, scale=2.0)
        b = randn(xs[-1], seed=80 + i, dtype=dt)
        cases.append(case("bias_gelu_%d_%s" % (i, sfx), "bias_gelu", [("x", x), ("b", b)],
                          lambda x, b: F.gelu(x + b), attrs={"tanh": False}, seed=i))
        cases.append(case("bias_gelu_tanh_%d_%s" % (i, sfx), "bias_gelu", [("x", x), ("b", b)],
                          lambda x, b: gelu_new(x + b), attrs={"tanh": True}, seed=i))
write("fused", cases)

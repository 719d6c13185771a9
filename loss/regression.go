package loss

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// Regression losses: input and target must have the same shape (kiln never
// broadcasts (B,1) against (B), which PyTorch turns into (B,B) with only a
// warning) and float targets. Mean divides by the number of elements.
// input: any shape, float; target: float of the same shape (it may require
// grad). Result: 0-d for Mean and Sum, input's shape for None.

// regressionDiff validates the pair and returns d = input - target.
func regressionDiff(op string, input, target *tensor.Tensor, red Reduction) (*tensor.Tensor, error) {
	if err := checkFloat(op+": input", input); err != nil {
		return nil, err
	}
	y, err := floatTarget(op, input, target)
	if err != nil {
		return nil, err
	}
	if err := sameShape(op, input, y); err != nil {
		return nil, err
	}
	if red == BatchMean {
		return nil, fmt.Errorf("%s: reduction batchmean is only for kl_div", op)
	}
	return tensor.Sub(input, y), nil
}

// MSE returns the squared error (x-y)², as torch.nn.functional.mse_loss;
// gradient 2(x-y)/divisor.
func MSE(input, target *tensor.Tensor, red Reduction) (*tensor.Tensor, error) {
	d, err := regressionDiff("mse_loss", input, target, red)
	if err != nil {
		return nil, err
	}
	return reduceWith(tensor.Mul(d, d), red, float64(d.NumElems()), false, nil), nil
}

// L1 returns the absolute error |x-y|, as torch.nn.functional.l1_loss;
// gradient sign(x-y), 0 where x == y.
func L1(input, target *tensor.Tensor, red Reduction) (*tensor.Tensor, error) {
	d, err := regressionDiff("l1_loss", input, target, red)
	if err != nil {
		return nil, err
	}
	return reduceWith(tensor.Abs(d), red, float64(d.NumElems()), false, nil), nil
}

// SmoothL1 returns torch.nn.functional.smooth_l1_loss: 0.5·d²/β where
// |d| < β, |d| - 0.5·β elsewhere (β >= 0; β = 0 is L1). The gradient is d/β
// inside, sign(d) outside; like PyTorch's backward it tests d <= -β first,
// so with β = 0 the gradient at d = 0 is -1 (L1's is 0).
func SmoothL1(input, target *tensor.Tensor, beta float64, red Reduction) (*tensor.Tensor, error) {
	const op = "smooth_l1_loss"
	if beta < 0 || math.IsNaN(beta) || math.IsInf(beta, 0) {
		return nil, fmt.Errorf("%s: beta = %v; it must be finite and >= 0", op, beta)
	}
	d, err := regressionDiff(op, input, target, red)
	if err != nil {
		return nil, err
	}
	dv := d.Float64s()
	low := make([]bool, len(dv))  // d <= -β: -d - β/2
	high := make([]bool, len(dv)) // d >= β: d - β/2
	for i, v := range dv {
		low[i] = v <= -beta
		high[i] = !low[i] && v >= beta
	}
	shape := d.Shape()
	neg := tensor.AddScalar(tensor.Neg(d), -0.5*beta)
	pos := tensor.AddScalar(d, -0.5*beta)
	var inner *tensor.Tensor
	if beta > 0 {
		inner = tensor.MulScalar(tensor.Mul(d, d), 0.5/beta)
	} else {
		inner = pos // unreachable region for β = 0; avoids 0/0 in the graph
	}
	l := tensor.Where(tensor.FromBool(low, shape...), neg,
		tensor.Where(tensor.FromBool(high, shape...), pos, inner))
	return reduceWith(l, red, float64(d.NumElems()), false, nil), nil
}

// Huber returns torch.nn.functional.huber_loss: 0.5·d² where |d| <= δ,
// δ·(|d| - 0.5·δ) elsewhere (δ > 0); the gradient is clamp(d, -δ, δ).
// Huber(δ) = δ·SmoothL1(β=δ).
func Huber(input, target *tensor.Tensor, delta float64, red Reduction) (*tensor.Tensor, error) {
	const op = "huber_loss"
	if !(delta > 0) || math.IsInf(delta, 0) {
		return nil, fmt.Errorf("%s: delta = %v; it must be finite and > 0", op, delta)
	}
	d, err := regressionDiff(op, input, target, red)
	if err != nil {
		return nil, err
	}
	dv := d.Float64s()
	low := make([]bool, len(dv))
	high := make([]bool, len(dv))
	for i, v := range dv {
		low[i] = v < -delta
		high[i] = v > delta
	}
	shape := d.Shape()
	c := -0.5 * delta * delta
	l := tensor.Where(tensor.FromBool(low, shape...), tensor.AddScalar(tensor.MulScalar(d, -delta), c),
		tensor.Where(tensor.FromBool(high, shape...), tensor.AddScalar(tensor.MulScalar(d, delta), c),
			tensor.MulScalar(tensor.Mul(d, d), 0.5)))
	return reduceWith(l, red, float64(d.NumElems()), false, nil), nil
}

package loss

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// BCEOptions configures BCEWithLogits. The zero value is PyTorch's default.
type BCEOptions struct {
	// Reduction is Mean (over all elements, not the weight sum), Sum or None.
	Reduction Reduction
	// Weight multiplies each element's loss by the weight of its class
	// (the last dim); nil means 1. This is PyTorch's weight for the common
	// per-class case.
	Weight []float64
	// ElementWeight, if not nil, multiplies the loss element-wise and must
	// broadcast to the logits' shape (PyTorch's weight in general).
	ElementWeight *tensor.Tensor
	// PosWeight scales the positive term per class (last dim): values > 1
	// raise recall for rare labels; nil means 1.
	PosWeight []float64
}

// BCEWithLogits returns the binary cross-entropy of logits against targets
// in [0,1], as torch.nn.functional.binary_cross_entropy_with_logits, in the
// stable form
//
//	l = w·[(1-y)·x + (1+(pw-1)·y)·softplus(-x)]
//
// where softplus(-x) = log1p(exp(-|x|)) + max(-x,0), so logits of ±1e4 give
// exactly 0 or 1e4. The gradient is w·[σ(x)·(1+(pw-1)·y) - pw·y].
//
// logits: any shape (usually (B,C)), float. target: float of the same shape
// (soft labels allowed). Result: 0-d for Mean and Sum, logits' shape for None.
func BCEWithLogits(logits, target *tensor.Tensor, o BCEOptions) (*tensor.Tensor, error) {
	const op = "binary_cross_entropy_with_logits"
	if err := checkFloat(op+": logits", logits); err != nil {
		return nil, err
	}
	y, err := floatTarget(op, logits, target)
	if err != nil {
		return nil, err
	}
	if err := sameShape(op, logits, y); err != nil {
		return nil, err
	}
	if o.Reduction == BatchMean {
		return nil, fmt.Errorf("%s: reduction batchmean is only for kl_div", op)
	}
	C := 1
	if logits.Rank() > 0 {
		C = logits.Dim(-1)
	}
	if err := checkWeights(op, "pos_weight", o.PosWeight, C); err != nil {
		return nil, err
	}
	if err := checkWeights(op, "weight", o.Weight, C); err != nil {
		return nil, err
	}
	sp := tensor.Softplus(tensor.Neg(logits)) // -log σ(x), stable
	// (1-y)·x: the negative term's -log(1-σ(x)) minus softplus(-x).
	l := tensor.Mul(tensor.AddScalar(tensor.Neg(y), 1), logits)
	if o.PosWeight != nil {
		pw := make([]float64, C)
		for i, v := range o.PosWeight {
			pw[i] = v - 1
		}
		coef := tensor.AddScalar(tensor.Mul(y, constLike(logits, pw, C)), 1) // 1+(pw-1)·y
		l = tensor.Add(l, tensor.Mul(coef, sp))
	} else {
		l = tensor.Add(l, sp)
	}
	if o.Weight != nil {
		l = tensor.Mul(l, constLike(logits, o.Weight, C))
	}
	if o.ElementWeight != nil {
		if err := checkFloat(op+": element weight", o.ElementWeight); err != nil {
			return nil, err
		}
		s, err := tensor.BroadcastShapes(o.ElementWeight.Shape(), logits.Shape())
		if err != nil || !equalInts(s, logits.Shape()) {
			return nil, fmt.Errorf("%s: element weight of shape %v does not broadcast to logits %v", op, o.ElementWeight.Shape(), logits.Shape())
		}
		l = tensor.Mul(l, tensor.To(o.ElementWeight, logits.DType()))
	}
	return reduceWith(l, o.Reduction, float64(logits.NumElems()), false, nil), nil
}

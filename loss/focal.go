package loss

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// FocalOptions configures Focal and SigmoidFocal.
type FocalOptions struct {
	// Reduction is Mean (over non-ignored targets, or elements for
	// SigmoidFocal), Sum or None.
	Reduction Reduction
	// Gamma >= 0 down-weights easy examples by (1-p_t)^γ; 0 gives plain
	// (weighted) cross-entropy. The usual value is 2.
	Gamma float64
	// Alpha is Focal's per-class weight α_c (nil: 1). For SigmoidFocal only
	// Alpha[0] is used: the weight of positives, 1-α that of negatives
	// (torchvision's alpha; nil: no weighting).
	Alpha []float64
	// IgnoreIndex is the label to skip in Focal (nil: -100).
	IgnoreIndex *int64
	// TorchEmptyMean makes a Mean over zero targets NaN instead of 0.
	TorchEmptyMean bool
	// Report, if not nil, receives Focal's item count.
	Report *Report
}

// Focal returns the multi-class focal loss of Lin et al. (2017) for
// imbalanced classification:
//
//	l_i = -α_{y_i}·(1-p_{i,y_i})^γ·log p_{i,y_i}
//
// with p = softmax(logits). Mean divides by the number of non-ignored
// targets (not by Σα, unlike weighted cross-entropy), so the loss scale does
// not depend on the class mix of a batch.
//
// logits: (N,C) or (N,C,d1,...), float. target: int64 (N) or (N,d1,...), in
// [0,C) or the ignore index. Result: 0-d, or target's shape for None.
func Focal(logits, target *tensor.Tensor, o FocalOptions) (*tensor.Tensor, error) {
	const op = "focal"
	if err := checkFloat(op+": logits", logits); err != nil {
		return nil, err
	}
	if logits.Rank() < 2 {
		return nil, fmt.Errorf("%s: logits have shape %v; want (N,C) or (N,C,d1,...)", op, logits.Shape())
	}
	if o.Gamma < 0 || math.IsNaN(o.Gamma) || math.IsInf(o.Gamma, 0) {
		return nil, fmt.Errorf("%s: gamma = %v; it must be finite and >= 0", op, o.Gamma)
	}
	C := logits.Dim(1)
	if err := checkWeights(op, "alpha", o.Alpha, C); err != nil {
		return nil, err
	}
	if target == nil || target.DType() != tensor.Int64 {
		return nil, fmt.Errorf("%s: target must be int64 class ids", op)
	}
	want := append([]int{logits.Dim(0)}, logits.Shape()[2:]...)
	if !equalInts(target.Shape(), want) {
		return nil, fmt.Errorf("%s: target shape %v does not match logits %v: want %v", op, target.Shape(), logits.Shape(), want)
	}
	ign := ignoreIndex(o.IgnoreIndex)
	ids := target.Int64s()
	if err := checkClassIDs(op, ids, target.Shape(), C, ign, true); err != nil {
		return nil, err
	}
	M := len(ids)
	idx := make([]int64, M)
	keep := make([]bool, M)
	ay := make([]float64, M)
	var items int64
	for i, y := range ids {
		if y == ign {
			continue
		}
		idx[i], keep[i], ay[i] = y, true, 1
		if o.Alpha != nil {
			ay[i] = o.Alpha[y]
		}
		items++
	}
	x := classLast(logits)
	logpt := tensor.Reshape(tensor.Gather(tensor.LogSoftmax(x, 1), 1, tensor.FromInt64(idx, M, 1)), M)
	l := tensor.Mul(tensor.Neg(logpt), constLike(x, ay, M))
	if o.Gamma > 0 {
		// 1-p_t clamped at 0 so rounding never takes a fractional power of a
		// negative number.
		q := tensor.Clamp(tensor.AddScalar(tensor.Neg(tensor.Exp(logpt)), 1), 0, 1)
		l = tensor.Mul(l, tensor.Pow(q, o.Gamma))
	}
	l = tensor.Where(tensor.FromBool(keep, M), l, constLike(x, []float64{0}))
	if o.Report != nil {
		*o.Report = Report{Items: items, Divisor: float64(items)}
	}
	if o.Reduction == None {
		return tensor.Reshape(l, target.Shape()...), nil
	}
	return reduceWith(l, o.Reduction, float64(items), o.TorchEmptyMean, o.Report), nil
}

// SigmoidFocal returns the binary (multi-label) focal loss of
// torchvision.ops.sigmoid_focal_loss:
//
//	l = α_t·(1-p_t)^γ·BCEWithLogits(x, y),  p_t = p·y + (1-p)·(1-y)
//
// with α_t = α·y + (1-α)·(1-y) when Alpha is set. Mean divides by the
// number of elements.
//
// logits: any shape, float. target: float of the same shape in [0,1].
// Result: 0-d, or logits' shape for None.
func SigmoidFocal(logits, target *tensor.Tensor, o FocalOptions) (*tensor.Tensor, error) {
	const op = "sigmoid_focal"
	if o.Gamma < 0 || math.IsNaN(o.Gamma) || math.IsInf(o.Gamma, 0) {
		return nil, fmt.Errorf("%s: gamma = %v; it must be finite and >= 0", op, o.Gamma)
	}
	ce, err := BCEWithLogits(logits, target, BCEOptions{Reduction: None})
	if err != nil {
		return nil, err
	}
	y := tensor.To(target, logits.DType())
	l := ce
	if o.Gamma > 0 {
		p := tensor.Sigmoid(logits)
		// 1-p_t = p + y - 2·p·y
		q := tensor.Sub(tensor.Add(p, y), tensor.MulScalar(tensor.Mul(p, y), 2))
		l = tensor.Mul(l, tensor.Pow(tensor.Clamp(q, 0, 1), o.Gamma))
	}
	if len(o.Alpha) > 0 {
		a := o.Alpha[0]
		if a < 0 || a > 1 {
			return nil, fmt.Errorf("%s: alpha = %v; it must lie in [0, 1]", op, a)
		}
		at := tensor.AddScalar(tensor.MulScalar(y, 2*a-1), 1-a) // a·y + (1-a)·(1-y)
		l = tensor.Mul(l, at)
	}
	return reduceWith(l, o.Reduction, float64(logits.NumElems()), false, nil), nil
}

package loss

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// CrossEntropyOptions configures CrossEntropy. The zero value is PyTorch's
// default: mean over non-ignored targets, ignore index -100, no weights, no
// smoothing.
type CrossEntropyOptions struct {
	// Reduction is Mean (default), Sum or None.
	Reduction Reduction
	// Weight holds one weight per class (nil: all 1). With class-index
	// targets Mean divides by the sum of the targets' weights.
	Weight []float64
	// IgnoreIndex is the label value to skip (nil: -100). It may equal a
	// valid class id, as question answering's ignore index = seq_len.
	IgnoreIndex *int64
	// LabelSmoothing ε in [0,1] mixes the one-hot target with the uniform
	// distribution: l = (1-ε)·w_y·nll + (ε/C)·Σ_c w_c·(-log p_c).
	LabelSmoothing float64
	// TorchEmptyMean makes a Mean over zero non-ignored targets NaN, as
	// PyTorch; by default it is 0 (with a zero gradient).
	TorchEmptyMean bool
	// Report, if not nil, receives the item count and the Mean divisor.
	Report *Report
}

// CrossEntropy returns the cross-entropy of class logits against targets,
// as torch.nn.functional.cross_entropy.
//
// logits: (N,C) or (N,C,d1,...) with the class axis at dim 1, float.
// target: class ids, int64 of shape (N) or (N,d1,...), each in [0,C) or the
// ignore index; or class probabilities, a float tensor of logits' shape
// (soft labels; no ignore index, Mean divides by N·d1·...).
// Result: 0-d for Mean and Sum; target's shape (class-id targets) or
// (N,d1,...) (probabilities) for None, 0 at ignored positions.
//
// Per row i with log p = log_softmax(x_i): l_i = (1-ε)·w_{y_i}·(-log p_{y_i})
// + (ε/C)·Σ_c w_c·(-log p_c). Mean divides by Σ_i w_{y_i} over non-ignored
// rows (both terms, as PyTorch).
func CrossEntropy(logits, target *tensor.Tensor, o CrossEntropyOptions) (*tensor.Tensor, error) {
	const op = "cross_entropy"
	if err := checkFloat(op+": logits", logits); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, fmt.Errorf("%s: target is missing (nil tensor)", op)
	}
	if logits.Rank() < 2 {
		return nil, fmt.Errorf("%s: logits have shape %v; want (N,C) or (N,C,d1,...)", op, logits.Shape())
	}
	if o.Reduction == BatchMean {
		return nil, fmt.Errorf("%s: reduction batchmean is only for kl_div", op)
	}
	if o.LabelSmoothing < 0 || o.LabelSmoothing > 1 || math.IsNaN(o.LabelSmoothing) {
		return nil, fmt.Errorf("%s: label_smoothing = %v; it must lie in [0, 1]", op, o.LabelSmoothing)
	}
	C := logits.Dim(1)
	if err := checkWeights(op, "weight", o.Weight, C); err != nil {
		return nil, err
	}
	if target.DType().IsFloat() {
		return crossEntropyProbs(logits, target, o)
	}
	if target.DType() != tensor.Int64 {
		return nil, fmt.Errorf("%s: target has dtype %v; want int64 class ids or float class probabilities", op, target.DType())
	}
	want := append([]int{logits.Dim(0)}, logits.Shape()[2:]...)
	if !equalInts(target.Shape(), want) {
		return nil, fmt.Errorf("%s: target shape %v does not match logits %v: want %v (batch size %d, one class id per row)",
			op, target.Shape(), logits.Shape(), want, logits.Dim(0))
	}
	ign := ignoreIndex(o.IgnoreIndex)
	ids := target.Int64s()
	if err := checkClassIDs(op, ids, target.Shape(), C, ign, true); err != nil {
		return nil, err
	}
	x := classLast(logits) // (M,C)
	M := len(ids)
	logp := tensor.LogSoftmax(x, 1)

	// Per-row constants: the safe gather index, the mask and w_{y_i}.
	idx := make([]int64, M)
	keep := make([]bool, M)
	wy := make([]float64, M)
	var items int64
	var div float64
	for i, y := range ids {
		if y == ign {
			continue
		}
		idx[i], keep[i] = y, true
		wy[i] = 1
		if o.Weight != nil {
			wy[i] = o.Weight[y]
		}
		items++
		div += wy[i]
	}
	picked := tensor.Reshape(tensor.Gather(logp, 1, tensor.FromInt64(idx, M, 1)), M)
	l := tensor.Mul(tensor.Neg(picked), constLike(x, wy, M)) // w_y·nll
	if eps := o.LabelSmoothing; eps > 0 {
		wl := logp
		if o.Weight != nil {
			wl = tensor.Mul(logp, constLike(x, o.Weight, 1, C))
		}
		smooth := tensor.Neg(tensor.SumAxes(wl, false, 1)) // Σ_c w_c·(-log p_c)
		l = tensor.Add(tensor.MulScalar(l, 1-eps), tensor.MulScalar(smooth, eps/float64(C)))
	}
	l = tensor.Where(tensor.FromBool(keep, M), l, constLike(x, []float64{0}))
	if o.Report != nil {
		*o.Report = Report{Items: items, Divisor: div}
	}
	if o.Reduction == None {
		return tensor.Reshape(l, target.Shape()...), nil
	}
	return reduceWith(l, o.Reduction, div, o.TorchEmptyMean, o.Report), nil
}

// crossEntropyProbs is CrossEntropy with class-probability targets.
func crossEntropyProbs(logits, target *tensor.Tensor, o CrossEntropyOptions) (*tensor.Tensor, error) {
	const op = "cross_entropy"
	if !equalInts(target.Shape(), logits.Shape()) {
		return nil, fmt.Errorf("%s: float target of shape %v: class probabilities need the logits' shape %v (class ids must be int64)",
			op, target.Shape(), logits.Shape())
	}
	C := logits.Dim(1)
	x := classLast(logits)
	t := classLast(tensor.To(target, logits.DType()))
	M := x.Dim(0)
	if eps := o.LabelSmoothing; eps > 0 {
		t = tensor.AddScalar(tensor.MulScalar(t, 1-eps), eps/float64(C))
	}
	wl := tensor.Mul(tensor.LogSoftmax(x, 1), t)
	if o.Weight != nil {
		wl = tensor.Mul(wl, constLike(x, o.Weight, 1, C))
	}
	l := tensor.Neg(tensor.SumAxes(wl, false, 1)) // (M)
	if o.Reduction == None {
		shape := append([]int{logits.Dim(0)}, logits.Shape()[2:]...)
		return tensor.Reshape(l, shape...), nil
	}
	if o.Report != nil {
		*o.Report = Report{Items: int64(M), Divisor: float64(M)}
	}
	return reduceWith(l, o.Reduction, float64(M), o.TorchEmptyMean, o.Report), nil
}

// classLast moves the class axis (dim 1) of x (N,C,d1,...) to the end and
// flattens the rest: (N·d1·..., C). A 2-D x is returned as is.
func classLast(x *tensor.Tensor) *tensor.Tensor {
	r := x.Rank()
	if r == 2 {
		return x
	}
	perm := []int{0}
	for a := 2; a < r; a++ {
		perm = append(perm, a)
	}
	perm = append(perm, 1)
	return tensor.Reshape(tensor.Permute(x, perm...), -1, x.Dim(1))
}

// checkClassIDs returns an error naming the example and the value of the
// first id outside [0,C) that is not the ignore index (when useIgnore).
func checkClassIDs(op string, ids []int64, shape []int, C int, ign int64, useIgnore bool) error {
	for i, y := range ids {
		if useIgnore && y == ign {
			continue
		}
		if y < 0 || y >= int64(C) {
			hint := ""
			if useIgnore {
				hint = fmt.Sprintf(" (ignore index is %d)", ign)
			}
			return fmt.Errorf("%s: label %d at %s is out of range [0, %d)%s", op, y, Position(shape, i), C, hint)
		}
	}
	return nil
}

// Position names flat index i of a tensor of the given shape for error
// messages: "example 3" for 1-D labels, "example 3, position 7" for (B,T)
// labels, with further indices appended for higher ranks.
func Position(shape []int, i int) string {
	if len(shape) <= 1 {
		return fmt.Sprintf("example %d", i)
	}
	idx := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		if shape[a] > 0 {
			idx[a] = i % shape[a]
			i /= shape[a]
		}
	}
	s := fmt.Sprintf("example %d, position %d", idx[0], idx[1])
	for _, v := range idx[2:] {
		s += fmt.Sprintf(",%d", v)
	}
	return s
}

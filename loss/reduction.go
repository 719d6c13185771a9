package loss

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/kiln-ml/kiln/tensor"
)

// Reduction says how per-element losses become the returned loss.
type Reduction int

// The reductions. Mean is the zero value, as PyTorch's default.
const (
	// Mean divides the sum by the loss's divisor: the number of elements,
	// the number of non-ignored targets, or the sum of their class weights
	// (each loss documents which, as PyTorch does).
	Mean Reduction = iota
	// Sum adds the per-element losses.
	Sum
	// None returns the per-element losses, shaped like the targets.
	None
	// BatchMean divides the sum by the size of the first dim (KL divergence
	// only: the mathematically correct KL per example).
	BatchMean
)

func (r Reduction) String() string {
	switch r {
	case Mean:
		return "mean"
	case Sum:
		return "sum"
	case None:
		return "none"
	case BatchMean:
		return "batchmean"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

// ParseReduction maps PyTorch's names "mean", "sum", "none" and
// "batchmean" to a Reduction.
func ParseReduction(s string) (Reduction, error) {
	switch strings.ToLower(s) {
	case "mean", "":
		return Mean, nil
	case "sum":
		return Sum, nil
	case "none":
		return None, nil
	case "batchmean":
		return BatchMean, nil
	}
	return 0, fmt.Errorf("loss: reduction %q unknown (want mean, sum, none or batchmean)", s)
}

// DefaultIgnoreIndex is the label value that class-index losses skip unless
// told otherwise, as PyTorch's and Hugging Face's -100.
const DefaultIgnoreIndex = -100

// Ignore returns a pointer to i, for the IgnoreIndex option fields:
// IgnoreIndex: loss.Ignore(255).
func Ignore(i int64) *int64 { return &i }

// ignoreIndex resolves an optional ignore index to its value.
func ignoreIndex(p *int64) int64 {
	if p == nil {
		return DefaultIgnoreIndex
	}
	return *p
}

// allIgnored counts Mean reductions over zero non-ignored targets.
var allIgnored atomic.Int64

// AllIgnoredBatches returns how many Mean reductions so far had no
// non-ignored target (every label was the ignore index) and therefore
// returned 0 with a zero gradient instead of PyTorch's NaN. The trainer
// reports this count as a warning.
func AllIgnoredBatches() int64 { return allIgnored.Load() }

// Report, when passed in an options struct, receives what a class-index loss
// saw: how many targets were not ignored, their weight sum (the Mean
// divisor) and whether every target was ignored.
type Report struct {
	// Items is the number of targets that were not the ignore index.
	Items int64
	// Divisor is what Mean divided by (Items, or the class-weight sum).
	Divisor float64
	// AllIgnored is true when there was nothing to average: the loss is 0
	// (or NaN with TorchEmptyMean) and the gradient zero.
	AllIgnored bool
}

// reduceWith applies red to the per-element losses l (already masked),
// dividing by div for Mean. A zero divisor is the all-ignored case: 0 (or
// NaN when torchNaN) with a zero gradient either way.
func reduceWith(l *tensor.Tensor, red Reduction, div float64, torchNaN bool, rep *Report) *tensor.Tensor {
	switch red {
	case None:
		return l
	case Sum:
		return tensor.Sum(l)
	}
	s := tensor.Sum(l)
	if div == 0 {
		if rep != nil {
			rep.AllIgnored = true
		}
		z := tensor.MulScalar(s, 0) // keeps the graph: the gradient is exactly zero
		if torchNaN {
			return tensor.AddScalar(z, math.NaN())
		}
		allIgnored.Add(1)
		return z
	}
	return tensor.MulScalar(s, 1/div)
}

// constLike returns a constant tensor (no gradient) with x's float dtype.
func constLike(x *tensor.Tensor, data []float64, shape ...int) *tensor.Tensor {
	t := tensor.FromFloat64(data, shape...)
	if x.DType() == tensor.Float32 {
		return tensor.To(t, tensor.Float32)
	}
	return t
}

// checkFloat returns an error unless x is a float32 or float64 tensor.
func checkFloat(what string, x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("%s is missing (nil tensor)", what)
	}
	if !x.DType().IsFloat() {
		return fmt.Errorf("%s has dtype %v; it must be float32 or float64", what, x.DType())
	}
	return nil
}

// floatTarget converts a float target to the input's dtype, refusing
// integer and bool targets with a hint (PyTorch fails later, in backward or
// with a cast error).
func floatTarget(op string, input, target *tensor.Tensor) (*tensor.Tensor, error) {
	if target == nil {
		return nil, fmt.Errorf("%s: target is missing (nil tensor)", op)
	}
	if !target.DType().IsFloat() {
		return nil, fmt.Errorf("%s: target has dtype %v; it needs float targets (convert integer labels to float first)", op, target.DType())
	}
	return tensor.To(target, input.DType()), nil
}

// sameShape returns an error unless input and target have equal shapes:
// kiln never broadcasts a target against an input (PyTorch broadcasts
// (B,1) against (B) into (B,B) with only a warning).
func sameShape(op string, input, target *tensor.Tensor) error {
	a, b := input.Shape(), target.Shape()
	if !equalInts(a, b) {
		return fmt.Errorf("%s: target shape %v differs from input shape %v; kiln does not broadcast a target (reshape one of them)", op, b, a)
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkWeights returns an error unless w is empty or has n finite,
// non-negative entries.
func checkWeights(op, what string, w []float64, n int) error {
	if len(w) == 0 {
		return nil
	}
	if len(w) != n {
		return fmt.Errorf("%s: %s has %d entries, want %d (one per class)", op, what, len(w), n)
	}
	for i, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("%s: %s[%d] = %v; weights must be finite and >= 0", op, what, i, v)
		}
	}
	return nil
}

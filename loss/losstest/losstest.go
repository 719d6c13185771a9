// Package losstest is a conformance suite for loss functions, in the spirit
// of testing/slogtest: Run checks that a loss.Func follows the conventions
// of kiln's built-in losses, so a user's own registered loss gets the same
// checks.
//
//	func TestMyLoss(t *testing.T) {
//		losstest.Run(t, myLoss, losstest.ClassIDs)
//	}
//
// The checks, on a batch of N = 6 rows and C = 4 classes:
//
//   - Mean and Sum return 0-d tensors; Sum equals the sum of None's values
//     and Mean equals Sum divided by the number of non-ignored values;
//   - positions labelled -100 (ClassIDs) have zero loss and zero gradient,
//     and changing their predictions changes nothing;
//   - accumulation invariance: the Sums of two halves of the batch add up to
//     the Sum of the whole batch;
//   - the gradient of Sum matches central finite differences (float64);
//   - float32 predictions of ±1e4 give a finite loss and gradient;
//   - a nil target or a target with the wrong batch size is an error, not a
//     panic.
package losstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// Target is the kind of target a loss takes.
type Target int

// The target kinds. Predictions are always float (N,C).
const (
	// ClassIDs: int64 (N) in [0,C), two of them -100 (ignored).
	ClassIDs Target = iota
	// ClassIDsNoIgnore: int64 (N) in [0,C), none ignored.
	ClassIDsNoIgnore
	// Binary: float (N,C) of 0 and 1.
	Binary
	// Real: float (N,C) real values (regression).
	Real
	// Signs: float (N,C) of ±1 (hinge embedding).
	Signs
	// Probabilities: float (N,C) rows that sum to 1 (KL divergence).
	Probabilities
)

const (
	n = 6
	c = 4
)

// inputs returns predictions and targets of the given kind; ign lists the
// ignored rows.
func inputs(kind Target, dtype tensor.DType, scale float64) (pred, target *tensor.Tensor, ign []int) {
	rng := tensor.NewRNG(7)
	pred = tensor.RandN(rng, tensor.Float64, 1.3, n, c)
	if scale != 1 {
		v := pred.Float64s()
		for i := range v {
			if i%3 == 0 {
				v[i] = math.Copysign(scale, v[i])
			}
		}
		pred = tensor.FromFloat64(v, n, c)
	}
	pred = tensor.To(pred, dtype)
	u := tensor.Uniform(rng, tensor.Float64, 0, 1, n, c).Float64s()
	switch kind {
	case ClassIDs, ClassIDsNoIgnore:
		ids := []int64{0, 3, 1, 2, 2, 1}
		if kind == ClassIDs {
			ids[1], ids[4] = loss.DefaultIgnoreIndex, loss.DefaultIgnoreIndex
			ign = []int{1, 4}
		}
		return pred, tensor.FromInt64(ids, n), ign
	case Binary, Signs:
		for i := range u {
			switch {
			case u[i] > 0.5:
				u[i] = 1
			case kind == Signs:
				u[i] = -1
			default:
				u[i] = 0
			}
		}
	case Real:
		for i := range u {
			u[i] = 4*u[i] - 2
		}
	case Probabilities:
		for r := 0; r < n; r++ {
			s := 0.0
			for j := 0; j < c; j++ {
				s += u[r*c+j]
			}
			for j := 0; j < c; j++ {
				u[r*c+j] /= s
			}
		}
	}
	return pred, tensor.To(tensor.FromFloat64(u, n, c), dtype), nil
}

// call runs fn, turning a panic into an error.
func call(fn loss.Func, x, y *tensor.Tensor, red loss.Reduction) (l *tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(x, y, loss.Config{Reduction: red})
}

// Run checks fn; kind says which targets it takes.
func Run(t *testing.T, fn loss.Func, kind Target) {
	t.Helper()
	x, y, ign := inputs(kind, tensor.Float64, 1)
	must := func(x, y *tensor.Tensor, red loss.Reduction) *tensor.Tensor {
		t.Helper()
		l, err := call(fn, x, y, red)
		if err != nil {
			t.Fatalf("reduction %v: %v", red, err)
		}
		return l
	}

	// Reductions.
	mean, sum, none := must(x, y, loss.Mean), must(x, y, loss.Sum), must(x, y, loss.None)
	if mean.Rank() != 0 || sum.Rank() != 0 {
		t.Errorf("Mean has shape %v and Sum %v; want 0-d", mean.Shape(), sum.Shape())
	}
	nv := none.Float64s()
	total := 0.0
	for _, v := range nv {
		total += v
	}
	if !close(sum.Item(), total, 1e-10) {
		t.Errorf("Sum %v differs from the sum of None's values %v", sum.Item(), total)
	}
	items := len(nv)
	if len(ign) > 0 && none.Rank() >= 1 && none.Dim(0) == n {
		items -= len(ign) * (len(nv) / n)
	}
	if !close(mean.Item()*float64(items), sum.Item(), 1e-10) {
		t.Errorf("Mean %v is not Sum %v / %d non-ignored values", mean.Item(), sum.Item(), items)
	}

	// Ignored rows: zero loss, zero gradient, no influence.
	xg := tensor.Detach(x).SetRequiresGrad(true)
	s := must(xg, y, loss.Sum)
	s.Backward()
	g := xg.Grad()
	if g == nil {
		t.Fatal("Sum has no gradient with respect to the predictions")
	}
	gv := g.Float64s()
	for _, r := range ign {
		if none.Rank() >= 1 && none.Dim(0) == n && nv[r] != 0 {
			t.Errorf("ignored row %d has loss %v", r, nv[r])
		}
		for j := 0; j < c; j++ {
			if gv[r*c+j] != 0 {
				t.Errorf("ignored row %d has gradient %v", r, gv[r*c+j])
			}
		}
	}
	if len(ign) > 0 {
		pv := x.Float64s()
		for _, r := range ign {
			for j := 0; j < c; j++ {
				pv[r*c+j] += 5
			}
		}
		if s2 := must(tensor.FromFloat64(pv, n, c), y, loss.Sum); !close(s2.Item(), sum.Item(), 1e-12) {
			t.Errorf("changing ignored rows changed the loss: %v -> %v", sum.Item(), s2.Item())
		}
	}

	// Accumulation invariance over a split batch.
	half := n / 2
	a := must(tensor.Slice(x, 0, 0, half), tensor.Slice(y, 0, 0, half), loss.Sum)
	b := must(tensor.Slice(x, 0, half, n), tensor.Slice(y, 0, half, n), loss.Sum)
	if !close(a.Item()+b.Item(), sum.Item(), 1e-10) {
		t.Errorf("Sum over halves %v + %v != Sum over the batch %v", a.Item(), b.Item(), sum.Item())
	}

	// Central finite differences of Sum.
	const h = 1e-6
	pv := x.Float64s()
	for i := range pv {
		p, m := append([]float64(nil), pv...), append([]float64(nil), pv...)
		p[i] += h
		m[i] -= h
		fd := (must(tensor.FromFloat64(p, n, c), y, loss.Sum).Item() - must(tensor.FromFloat64(m, n, c), y, loss.Sum).Item()) / (2 * h)
		if math.Abs(fd-gv[i]) > 1e-5*(1+math.Abs(fd)) {
			t.Errorf("d Sum / d pred[%d] = %v, finite differences %v", i, gv[i], fd)
		}
	}

	// Extreme float32 predictions stay finite.
	xe, ye, _ := inputs(kind, tensor.Float32, 1e4)
	xe.SetRequiresGrad(true)
	le := must(xe, ye, loss.Mean)
	le.Backward()
	if v := le.Item(); math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("predictions of ±1e4 give loss %v", v)
	}
	if xe.Grad() != nil {
		for i, v := range xe.Grad().Float64s() {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("predictions of ±1e4 give gradient[%d] = %v", i, v)
				break
			}
		}
	}

	// Bad targets are errors, not panics.
	if _, err := call(fn, x, nil, loss.Mean); err == nil || isPanic(err) {
		t.Errorf("nil target: %v; want an error", err)
	}
	if _, err := call(fn, x, tensor.Slice(y, 0, 0, n-1), loss.Mean); err == nil || isPanic(err) {
		t.Errorf("target with %d rows for %d predictions: %v; want an error", n-1, n, err)
	}
}

func isPanic(err error) bool { return len(err.Error()) >= 6 && err.Error()[:6] == "panic:" }

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

package tensor

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// Finite-difference gradient checks in float64. Each op family registers
// cases in gradChecks under the same names as its refOps entries; a case
// builds float64 inputs and a function of them. The check compares the
// analytic gradient of Σ(out * u), for a random u, with central differences.

type gradCase struct {
	inputs []*Tensor // float64 inputs; those to check are differentiated
	fn     func(in []*Tensor) *Tensor
	// noGrad lists input indices that must not be perturbed (indices,
	// masks, or points where the op is not differentiable).
	noGrad map[int]bool
}

// gradChecks maps an op name to one or more cases.
var gradChecks = map[string][]func(r *rand.Rand) gradCase{}

// notDifferentiable lists registered ops that have no gradient to check.
var notDifferentiable = map[string]bool{}

// randT64 returns a float64 tensor of normal values.
func randT64(r *rand.Rand, shape ...int) *Tensor {
	n := shapeSize(shape)
	d := make([]float64, n)
	for i := range d {
		d[i] = r.NormFloat64()
	}
	return FromFloat64(d, shape...)
}

// posT64 returns a float64 tensor of values in [lo, lo+1).
func posT64(r *rand.Rand, lo float64, shape ...int) *Tensor {
	n := shapeSize(shape)
	d := make([]float64, n)
	for i := range d {
		d[i] = lo + r.Float64()
	}
	return FromFloat64(d, shape...)
}

func init() {
	bin := func(op func(a, b *Tensor) *Tensor, sa, sb []int, posB bool) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			b := randT64(r, sb...)
			if posB {
				b = posT64(r, 0.5, sb...)
			}
			return gradCase{inputs: []*Tensor{randT64(r, sa...), b}, fn: func(in []*Tensor) *Tensor { return op(in[0], in[1]) }}
		}
	}
	for name, op := range map[string]func(a, b *Tensor) *Tensor{"add": Add, "sub": Sub, "mul": Mul, "div": Div} {
		posB := name == "div"
		gradChecks[name] = []func(r *rand.Rand) gradCase{
			bin(op, []int{3, 4}, []int{3, 4}, posB),
			bin(op, []int{2, 3, 4}, []int{4}, posB),
			bin(op, []int{4, 1, 3}, []int{1, 5, 3}, posB),
			bin(op, []int{2, 3}, []int{}, posB),
		}
	}
	one := func(fn func(x *Tensor) *Tensor, shape ...int) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, shape...)}, fn: func(in []*Tensor) *Tensor { return fn(in[0]) }}
		}
	}
	gradChecks["add_scalar"] = []func(r *rand.Rand) gradCase{one(func(x *Tensor) *Tensor { return AddScalar(x, 2) }, 3, 2)}
	gradChecks["mul_scalar"] = []func(r *rand.Rand) gradCase{one(func(x *Tensor) *Tensor { return MulScalar(x, -3) }, 3, 2)}
	gradChecks["sum"] = []func(r *rand.Rand) gradCase{one(Sum, 3, 4)}
	gradChecks["mean"] = []func(r *rand.Rand) gradCase{one(Mean, 3, 4)}
	mm := func(sa, sb []int, ta, tb bool) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, sa...), randT64(r, sb...)},
				fn: func(in []*Tensor) *Tensor { return MatMulT(in[0], in[1], ta, tb) }}
		}
	}
	gradChecks["matmul"] = []func(r *rand.Rand) gradCase{
		mm([]int{3, 4}, []int{4, 5}, false, false),
		mm([]int{4, 3}, []int{5, 4}, true, true),
		mm([]int{2, 3, 4}, []int{2, 5, 4}, false, true),
		mm([]int{2, 4, 3}, []int{4, 5}, true, false),
		mm([]int{2, 3, 4}, []int{5, 4}, false, true),
		mm([]int{3, 4}, []int{2, 4, 5}, false, false),
	}
}

// TestGradCheck compares analytic and numeric gradients for every case.
func TestGradCheck(t *testing.T) {
	names := make([]string, 0, len(gradChecks))
	for n := range gradChecks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, mk := range gradChecks[name] {
			r := rand.New(rand.NewPCG(uint64(len(name)), uint64(i)))
			c := mk(r)
			t.Run(name, func(t *testing.T) { checkGrad(t, r, c) })
		}
	}
	for op := range refOps {
		if _, ok := gradChecks[op]; !ok && !notDifferentiable[op] {
			t.Errorf("op %q has no finite-difference gradient check", op)
		}
	}
}

func checkGrad(t *testing.T, r *rand.Rand, c gradCase) {
	t.Helper()
	for i, x := range c.inputs {
		if x.DType() == Float64 && !c.noGrad[i] {
			x.SetRequiresGrad(true)
		}
	}
	out := c.fn(c.inputs)
	u := randT64(r, out.Shape()...)
	objective := func() float64 {
		var s float64
		NoGrad(func() {
			o := c.fn(c.inputs).Float64s()
			for i, v := range u.Float64s() {
				s += o[i] * v
			}
		})
		return s
	}
	out.BackwardWith(u)
	const eps = 1e-6
	for i, x := range c.inputs {
		if !x.RequiresGrad() {
			continue
		}
		g := x.Grad()
		if g == nil {
			t.Fatalf("input %d got no gradient", i)
		}
		analytic := g.Float64s()
		data := x.F64()
		for j := range data {
			orig := data[j]
			data[j] = orig + eps
			fp := objective()
			data[j] = orig - eps
			fm := objective()
			data[j] = orig
			numeric := (fp - fm) / (2 * eps)
			if math.Abs(numeric-analytic[j]) > 1e-5+1e-4*math.Abs(numeric) {
				t.Errorf("input %d elem %d: analytic %.8g, numeric %.8g", i, j, analytic[j], numeric)
			}
		}
	}
}

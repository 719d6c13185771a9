package tensor

import (
	"math"
	"math/rand/v2"
)

// Registrations of the element-wise group (unary, reductions, softmax,
// selection, comparisons, dropout) for the PyTorch reference test
// (testdata/ref_elementwise.json, made by tools/torchref/ops_elementwise.py)
// and the finite-difference checks.

// attrInf reads a numeric attribute that may be the string "inf" or "-inf",
// or absent (def).
func attrInf(a attrs, k string, def float64) float64 {
	switch v := a[k].(type) {
	case nil:
		return def
	case string:
		switch v {
		case "inf":
			return math.Inf(1)
		case "-inf":
			return math.Inf(-1)
		}
	}
	return a.float(k)
}

func init() {
	unaryOps := map[string]func(*Tensor) *Tensor{
		"neg": Neg, "exp": Exp, "log": Log, "tanh": Tanh, "sqrt": Sqrt, "rsqrt": Rsqrt, "sigmoid": Sigmoid,
		"abs": Abs, "relu": ReLU, "gelu": GELU, "gelu_tanh": GELUTanh, "softplus": Softplus,
	}
	for name, f := range unaryOps {
		refOps[name] = func(in []*Tensor, _ attrs) *Tensor { return f(in[0]) }
	}
	refOps["pow"] = func(in []*Tensor, a attrs) *Tensor { return Pow(in[0], a.float("p")) }
	refOps["clamp"] = func(in []*Tensor, a attrs) *Tensor {
		return Clamp(in[0], attrInf(a, "lo", math.Inf(-1)), attrInf(a, "hi", math.Inf(1)))
	}
	refOps["sum_axes"] = func(in []*Tensor, a attrs) *Tensor { return SumAxes(in[0], a.bool("keepdim"), a.ints("axes")...) }
	refOps["mean_axes"] = func(in []*Tensor, a attrs) *Tensor { return MeanAxes(in[0], a.bool("keepdim"), a.ints("axes")...) }
	refOps["max_axis"] = func(in []*Tensor, a attrs) *Tensor {
		v, _ := MaxAxis(in[0], a.int("axis"), a.bool("keepdim"))
		return v
	}
	refOps["min_axis"] = func(in []*Tensor, a attrs) *Tensor {
		v, _ := MinAxis(in[0], a.int("axis"), a.bool("keepdim"))
		return v
	}
	refOps["max_axis_idx"] = func(in []*Tensor, a attrs) *Tensor {
		_, i := MaxAxis(in[0], a.int("axis"), a.bool("keepdim"))
		return i
	}
	refOps["min_axis_idx"] = func(in []*Tensor, a attrs) *Tensor {
		_, i := MinAxis(in[0], a.int("axis"), a.bool("keepdim"))
		return i
	}
	refOps["argmax"] = func(in []*Tensor, a attrs) *Tensor { return ArgMax(in[0], a.int("axis")) }
	refOps["max_all"] = func(in []*Tensor, _ attrs) *Tensor { return Max(in[0]) }
	refOps["min_all"] = func(in []*Tensor, _ attrs) *Tensor { return Min(in[0]) }
	refOps["softmax"] = func(in []*Tensor, a attrs) *Tensor { return Softmax(in[0], a.int("axis")) }
	refOps["log_softmax"] = func(in []*Tensor, a attrs) *Tensor { return LogSoftmax(in[0], a.int("axis")) }
	refOps["where"] = func(in []*Tensor, _ attrs) *Tensor { return Where(in[0], in[1], in[2]) }
	refOps["masked_fill"] = func(in []*Tensor, a attrs) *Tensor {
		return MaskedFill(in[0], in[1], attrInf(a, "value", math.NaN()))
	}
	binaryNoGrad := map[string]func(a, b *Tensor) *Tensor{
		"eq": Eq, "ne": Ne, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le, "logical_and": LogicalAnd, "logical_or": LogicalOr,
	}
	for name, f := range binaryNoGrad {
		refOps[name] = func(in []*Tensor, _ attrs) *Tensor { return f(in[0], in[1]) }
		notDifferentiable[name] = true
	}
	scalarCmp := map[string]func(*Tensor, float64) *Tensor{"eq_scalar": EqScalar, "gt_scalar": GtScalar, "lt_scalar": LtScalar}
	for name, f := range scalarCmp {
		refOps[name] = func(in []*Tensor, a attrs) *Tensor { return f(in[0], a.float("v")) }
		notDifferentiable[name] = true
	}
	refOps["logical_not"] = func(in []*Tensor, _ attrs) *Tensor { return LogicalNot(in[0]) }
	refOps["dropout"] = func(in []*Tensor, a attrs) *Tensor {
		return Dropout(in[0], a.float("p"), NewRNG(1), a.bool("training"))
	}
	for _, n := range []string{"logical_not", "max_axis_idx", "min_axis_idx", "argmax"} {
		notDifferentiable[n] = true
	}

	// Finite-difference checks (float64).
	type gen = func(r *rand.Rand) gradCase
	one := func(fn func(x *Tensor) *Tensor, mk func(r *rand.Rand) *Tensor) gen {
		return func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{mk(r)}, fn: func(in []*Tensor) *Tensor { return fn(in[0]) }}
		}
	}
	normal := func(shape ...int) func(r *rand.Rand) *Tensor {
		return func(r *rand.Rand) *Tensor { return randT64(r, shape...) }
	}
	positive := func(shape ...int) func(r *rand.Rand) *Tensor {
		return func(r *rand.Rand) *Tensor { return posT64(r, 0.3, shape...) }
	}
	// awayFromZero keeps |x| >= 0.1, clear of the kinks of abs, relu and clamp
	// at 0 (and of clamp's other bounds, which the callers pick away from it).
	awayFromZero := func(shape ...int) func(r *rand.Rand) *Tensor {
		return func(r *rand.Rand) *Tensor {
			x := randT64(r, shape...)
			d := x.F64()
			for i, v := range d {
				if math.Abs(v) < 0.1 {
					d[i] = math.Copysign(0.1+math.Abs(v), v)
				}
			}
			return x
		}
	}
	wide := func(shape ...int) func(r *rand.Rand) *Tensor {
		return func(r *rand.Rand) *Tensor { return MulScalar(randT64(r, shape...), 4) }
	}
	for name, f := range unaryOps {
		mk := normal
		switch name {
		case "log", "sqrt", "rsqrt":
			mk = positive
		case "abs", "relu":
			mk = awayFromZero
		}
		gradChecks[name] = []gen{one(f, mk(3, 4)), one(f, mk(2, 3, 5))}
	}
	for _, name := range []string{"tanh", "sigmoid", "gelu", "gelu_tanh", "softplus"} {
		gradChecks[name] = append(gradChecks[name], one(unaryOps[name], wide(4, 6)))
	}
	softplusTail := func(r *rand.Rand) *Tensor { return FromFloat64([]float64{-25, -3, 0.5, 19.5, 20.5, 30}, 6) }
	gradChecks["softplus"] = append(gradChecks["softplus"], one(Softplus, softplusTail))
	for _, p := range []float64{2, 3, 0.5, -1, 1.5, -0.5, 0, 1} {
		mk := positive
		if p == math.Trunc(p) && p >= 0 {
			mk = normal
		}
		gradChecks["pow"] = append(gradChecks["pow"], one(func(x *Tensor) *Tensor { return Pow(x, p) }, mk(3, 4)))
	}
	for _, b := range [][2]float64{{-0.05, 0.05}, {-0.55, 0.65}, {math.Inf(-1), 0.05}, {-0.05, math.Inf(1)}, {0.05, -0.05}} {
		gradChecks["clamp"] = append(gradChecks["clamp"], one(func(x *Tensor) *Tensor { return Clamp(x, b[0], b[1]) }, awayFromZero(4, 5)))
	}

	red := []struct {
		shape []int
		keep  bool
		axes  []int
	}{
		{[]int{3, 4}, false, []int{1}},
		{[]int{3, 4}, true, []int{0}},
		{[]int{2, 3, 4, 5}, false, []int{1, 3}},
		{[]int{2, 3, 4, 5}, true, []int{0, -1}},
		{[]int{2, 3, 4}, false, []int{1, 2}},
		{[]int{2, 1, 4}, true, []int{1}},
		{[]int{2, 3, 4}, false, nil},
		{[]int{3, 300}, false, []int{0}}, // more than one column block
	}
	for _, c := range red {
		gradChecks["sum_axes"] = append(gradChecks["sum_axes"], one(func(x *Tensor) *Tensor { return SumAxes(x, c.keep, c.axes...) }, normal(c.shape...)))
		gradChecks["mean_axes"] = append(gradChecks["mean_axes"], one(func(x *Tensor) *Tensor { return MeanAxes(x, c.keep, c.axes...) }, normal(c.shape...)))
	}
	// Max/min: random normal inputs have no ties, so the max is locally smooth.
	for _, c := range []struct {
		shape []int
		axis  int
		keep  bool
	}{{[]int{3, 5}, -1, false}, {[]int{3, 5}, 0, true}, {[]int{2, 4, 3}, 1, false}} {
		gradChecks["max_axis"] = append(gradChecks["max_axis"], one(func(x *Tensor) *Tensor { v, _ := MaxAxis(x, c.axis, c.keep); return v }, normal(c.shape...)))
		gradChecks["min_axis"] = append(gradChecks["min_axis"], one(func(x *Tensor) *Tensor { v, _ := MinAxis(x, c.axis, c.keep); return v }, normal(c.shape...)))
	}
	gradChecks["max_all"] = []gen{one(Max, normal(3, 4))}
	gradChecks["min_all"] = []gen{one(Min, normal(3, 4))}

	for _, c := range []struct {
		shape []int
		axis  int
	}{{[]int{3, 5}, -1}, {[]int{2, 3, 4}, 1}, {[]int{4, 3}, 0}, {[]int{2, 3, 1}, -1}, {[]int{1, 2, 260}, 1}} {
		gradChecks["softmax"] = append(gradChecks["softmax"], one(func(x *Tensor) *Tensor { return Softmax(x, c.axis) }, normal(c.shape...)))
		gradChecks["log_softmax"] = append(gradChecks["log_softmax"], one(func(x *Tensor) *Tensor { return LogSoftmax(x, c.axis) }, normal(c.shape...)))
	}
	// Rows with -Inf entries (but not all): the masked entries get zero
	// gradient and are not perturbed (they are in a separate, fixed input).
	maskedSoftmax := func(log bool) gen {
		return func(r *rand.Rand) gradCase {
			mask := FromBool([]bool{false, true, false, false, true, false, false, false, true, true, false, false}, 3, 4)
			f := func(in []*Tensor) *Tensor {
				x := MaskedFill(in[0], mask, math.Inf(-1))
				if log {
					// Keep the -Inf outputs out of the objective.
					return MaskedFill(LogSoftmax(x, -1), mask, 0)
				}
				return Softmax(x, -1)
			}
			return gradCase{inputs: []*Tensor{randT64(r, 3, 4)}, fn: f}
		}
	}
	gradChecks["softmax"] = append(gradChecks["softmax"], maskedSoftmax(false))
	gradChecks["log_softmax"] = append(gradChecks["log_softmax"], maskedSoftmax(true))

	randBool := func(r *rand.Rand, shape ...int) *Tensor {
		b := make([]bool, shapeSize(shape))
		for i := range b {
			b[i] = r.IntN(2) == 1
		}
		return FromBool(b, shape...)
	}
	for _, c := range [][3][]int{{{3, 4}, {3, 4}, {3, 4}}, {{3, 1}, {3, 4}, {}}, {{4}, {2, 1, 4}, {3, 1}}, {{2, 3, 4}, {4}, {2, 1, 4}}} {
		gradChecks["where"] = append(gradChecks["where"], func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randBool(r, c[0]...), randT64(r, c[1]...), randT64(r, c[2]...)},
				fn: func(in []*Tensor) *Tensor { return Where(in[0], in[1], in[2]) }, noGrad: map[int]bool{0: true}}
		})
	}
	for _, c := range [][2][]int{{{2, 3, 4}, {2, 1, 4}}, {{3, 4}, {3, 4}}, {{2, 3, 4}, {}}} {
		gradChecks["masked_fill"] = append(gradChecks["masked_fill"], func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, c[0]...), randBool(r, c[1]...)},
				fn: func(in []*Tensor) *Tensor { return MaskedFill(in[0], in[1], -2.5) }, noGrad: map[int]bool{1: true}}
		})
	}
	// Dropout with a fresh RNG per call: the same mask every evaluation.
	for _, p := range []float64{0.3, 0, 1} {
		gradChecks["dropout"] = append(gradChecks["dropout"], one(func(x *Tensor) *Tensor { return Dropout(x, p, NewRNG(7), true) }, normal(5, 13)))
	}
}

package tensor

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tests of the element-wise group beyond the PyTorch references: dropout's
// statistics and determinism, float32 accuracy of long rows, broadcasting
// against a naive implementation, arena reuse and panics.

func TestDropoutDeterministicAndStatistical(t *testing.T) {
	const n, p = 1 << 20, 0.1
	x := Ones(Float32, n/1024, 1024)
	r1, r2 := NewRNG(42), NewRNG(42)
	a, b := Dropout(x, p, r1, true), Dropout(x, p, r2, true)
	if _, c := r1.State(); c != n {
		t.Fatalf("rng counter %d after one draw of %d", c, n)
	}
	av, bv := a.F32(), b.F32()
	ref := NewRNG(42) // the mask is exactly uniformAt(i) < p, whatever the thread count
	dropped := 0
	scale := float32(1 / (1 - p))
	for i := range av {
		if av[i] != bv[i] {
			t.Fatalf("same seed, different output at %d", i)
		}
		want := scale
		if ref.uniformAt(uint64(i)) < p {
			want = 0
			dropped++
		}
		if av[i] != want {
			t.Fatalf("elem %d = %v, want %v", i, av[i], want)
		}
	}
	// Binomial(n, p): the fraction is within 5 standard deviations.
	frac := float64(dropped) / n
	if sd := math.Sqrt(p * (1 - p) / n); math.Abs(frac-p) > 5*sd {
		t.Fatalf("dropped fraction %.5f, want %.2f ± %.5f", frac, p, 5*sd)
	}
	// The next call draws a different mask.
	c := Dropout(x, p, r1, true)
	same := 0
	for i, v := range c.F32() {
		if v == av[i] {
			same++
		}
	}
	if same == n {
		t.Fatal("second call repeated the first mask")
	}
}

func TestDropoutGradientIsMaskTimesScale(t *testing.T) {
	for _, dt := range []DType{Float32, Float64} {
		x := To(FromFloat64(randT64(rand.New(rand.NewPCG(1, 2)), 7, 300).Float64s(), 7, 300), dt).SetRequiresGrad(true)
		const p = 0.4
		y := Dropout(x, p, NewRNG(9), true)
		g := Ones(dt, 7, 300)
		y.BackwardWith(g)
		xv, yv, gv := x.Float64s(), y.Float64s(), x.Grad().Float64s()
		for i := range gv {
			kept := yv[i] != 0
			want := 0.0
			if kept {
				want = 1 / (1 - p)
				if math.Abs(yv[i]-xv[i]*want) > 1e-6*math.Abs(yv[i]) {
					t.Fatalf("%v elem %d: y %v, x %v", dt, i, yv[i], xv[i])
				}
			}
			if math.Abs(gv[i]-want) > 1e-6 {
				t.Fatalf("%v elem %d: grad %v, want %v", dt, i, gv[i], want)
			}
		}
	}
}

func TestDropoutEdgeCases(t *testing.T) {
	x := FromFloat32([]float32{1, 2, 3}, 3)
	r := NewRNG(1)
	if Dropout(x, 0.5, r, false) != x || Dropout(x, 0, r, true) != x {
		t.Fatal("eval mode and p == 0 must return x itself")
	}
	if _, c := r.State(); c != 0 {
		t.Fatalf("identity dropout drew %d values", c)
	}
	for _, v := range Dropout(x, 1, r, true).F32() {
		if v != 0 {
			t.Fatal("p == 1 must give zeros")
		}
	}
	mustPanic(t, "want 0 <= p <= 1", func() { Dropout(x, 1.5, r, true) })
}

// TestLongRowsFloat32 compares float32 softmax, log-softmax and sums over
// long rows and columns (forward and backward) with float64.
func TestLongRowsFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// The float64 run starts from the float32-rounded values.
	x32, g32 := To(MulScalar(randT64(r, 3, 5000), 3), Float32), To(randT64(r, 3, 5000), Float32)
	x64, g64 := To(x32, Float64), To(g32, Float64)
	ops := map[string]func(*Tensor) *Tensor{
		"softmax":       func(x *Tensor) *Tensor { return Softmax(x, -1) },
		"log_softmax":   func(x *Tensor) *Tensor { return LogSoftmax(x, -1) },
		"softmax_col":   func(x *Tensor) *Tensor { return Softmax(x, 0) },
		"sum_rows":      func(x *Tensor) *Tensor { return Mul(SumAxes(AddScalar(x, 5), true, 1), x) },
		"mean_cols":     func(x *Tensor) *Tensor { return Mul(MeanAxes(AddScalar(x, 5), true, 0), x) },
		"log_softmax_T": func(x *Tensor) *Tensor { return Reshape2(LogSoftmax(Reshape2(x, 5000, 3), 0), 3, 5000) },
	}
	for name, f := range ops {
		a := Detach(x64).SetRequiresGrad(true)
		b := Detach(x32).SetRequiresGrad(true)
		ya, yb := f(a), f(b)
		ya.BackwardWith(g64)
		yb.BackwardWith(g32)
		closeRel(t, name+" output", yb.Float64s(), ya.Float64s(), 2e-5)
		closeRel(t, name+" grad", b.Grad().Float64s(), a.Grad().Float64s(), 2e-5)
	}
	// A long float32 sum accumulates in float64.
	ones := Full(Float32, 1.0001, 4, 1<<20)
	for i, v := range SumAxes(ones, false, 1).F32() {
		if want := 1.0001 * (1 << 20); math.Abs(float64(v)-want) > 1e-6*want {
			t.Fatalf("row %d sum %v, want %v", i, v, want)
		}
	}
}

// Reshape2 is a test helper: a view of x with another shape.
func Reshape2(x *Tensor, shape ...int) *Tensor {
	out := alias(x, shape)
	record(out, "Reshape2", func(g *Tensor) []*Tensor { return []*Tensor{alias(g, x.shape)} }, x)
	return out
}

// closeRel compares with a tolerance relative to the largest |want|, which
// suits outputs with many tiny entries.
func closeRel(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(math.Abs(want[i])+1e-2*scale) {
			t.Fatalf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

// naiveAt reads the element of a tensor of shape in at the broadcast
// output index idx.
func naiveAt(data []float64, in, out []int, idx []int) float64 {
	off, st := 0, 1
	for d := len(in) - 1; d >= 0; d-- {
		i := idx[len(out)-len(in)+d]
		if in[d] == 1 {
			i = 0
		}
		off += i * st
		st *= in[d]
	}
	return data[off]
}

// TestBroadcastAgainstNaive runs Where, MaskedFill, Gt and SumAxes on
// random shapes and compares with index-by-index implementations.
func TestBroadcastAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	randShape := func(out []int) []int {
		rank := r.IntN(len(out) + 1)
		s := append([]int(nil), out[len(out)-rank:]...)
		for i := range s {
			if r.IntN(3) == 0 {
				s[i] = 1
			}
		}
		return s
	}
	for trial := 0; trial < 200; trial++ {
		out := make([]int, 1+r.IntN(4))
		for i := range out {
			out[i] = 1 + r.IntN(4)
		}
		sc, sa, sb := randShape(out), randShape(out), randShape(out)
		full := append([]int(nil), out...)
		// The broadcast of the three may be smaller than out when all drop a dim.
		shape := broadcast3("test", sc, sa, sb)
		cb := make([]bool, shapeSize(sc))
		for i := range cb {
			cb[i] = r.IntN(2) == 0
		}
		cond := FromBool(cb, sc...)
		a, b := To(randT64(r, sa...), Float32), To(randT64(r, sb...), Float32)
		w, gt := Where(cond, a, b), Gt(a, b)
		mf := MaskedFill(To(randT64(r, full...), Float32), cond, 7)
		_ = mf
		cf, af, bf := cond.Float64s(), a.Float64s(), b.Float64s()
		wv, gv := w.Float64s(), gt.Bools()
		abShape, _ := BroadcastShapes(sa, sb)
		idx := make([]int, len(shape))
		for flat := 0; flat < shapeSize(shape); flat++ {
			rem := flat
			for d := len(shape) - 1; d >= 0; d-- {
				idx[d] = rem % shape[d]
				rem /= shape[d]
			}
			c, av, bv := naiveAt(cf, sc, shape, idx), naiveAt(af, sa, shape, idx), naiveAt(bf, sb, shape, idx)
			want := bv
			if c != 0 {
				want = av
			}
			if wv[flat] != want {
				t.Fatalf("Where %v %v %v at %v: %v, want %v", sc, sa, sb, idx, wv[flat], want)
			}
			if len(abShape) == len(shape) && sameShape(abShape, shape) && gv[flat] != (av > bv) {
				t.Fatalf("Gt %v %v at %v", sa, sb, idx)
			}
		}
		// Sum over a random subset of axes against a naive sum.
		x := randT64(r, full...)
		var axes []int
		for d := range full {
			if r.IntN(2) == 0 {
				axes = append(axes, d)
			}
		}
		if len(axes) == 0 {
			continue
		}
		s := SumAxes(x, true, axes...)
		want := make([]float64, s.NumElems())
		xv := x.Float64s()
		ks := s.Shape()
		idx = make([]int, len(full))
		for flat, v := range xv {
			rem := flat
			for d := len(full) - 1; d >= 0; d-- {
				idx[d] = rem % full[d]
				rem /= full[d]
			}
			off, st := 0, 1
			for d := len(full) - 1; d >= 0; d-- {
				if ks[d] != 1 {
					off += idx[d] * st
				}
				st *= ks[d]
			}
			want[off] += v
		}
		closeRel(t, "SumAxes", s.Float64s(), want, 1e-12)
	}
}

// TestArenaReuse runs the ops inside an arena whose pool holds NaN-filled
// buffers, so a kernel that leaves an element unwritten shows up.
func TestArenaReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := To(randT64(r, 4, 6, 40), Float32)
	mask := FromBool(make([]bool, 40), 40)
	mask.B()[3] = true
	run := func() []*Tensor {
		v, _ := MaxAxis(x, 1, false)
		return []*Tensor{GELU(x), Softmax(x, -1), LogSoftmax(x, 1), SumAxes(x, false, 0, 2), MeanAxes(x, true, 1), v,
			Where(mask, x, Neg(x)), MaskedFill(x, mask, -1), Dropout(x, 0.5, NewRNG(3), true), Clamp(x, -0.5, 0.5)}
	}
	want := run()
	fill := BeginArena()
	for _, w := range want {
		for k := 0; k < 3; k++ {
			Full(Float32, math.NaN(), w.Shape()...)
		}
	}
	fill.Release()
	a := BeginArena()
	defer a.Release()
	got := run()
	for i := range got {
		closeRel(t, "arena op", got[i].Float64s(), want[i].Float64s(), 0)
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want %q", want)
		}
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v, want %q", r, want)
		}
	}()
	f()
}

func TestElementwisePanics(t *testing.T) {
	x := Zeros(Float32, 2, 3)
	mustPanic(t, "repeated", func() { SumAxes(x, false, 1, -1) })
	mustPanic(t, "out of range", func() { MaxAxis(x, 2, false) })
	mustPanic(t, "does not broadcast to x's shape", func() { MaskedFill(x, Zeros(Bool, 2, 1, 3), 0) })
	mustPanic(t, "needs a bool mask", func() { Where(x, x, x) })
	mustPanic(t, "mixed dtypes", func() { Eq(x, Zeros(Int64, 2, 3)) })
	mustPanic(t, "do not broadcast", func() { Where(Zeros(Bool, 4), x, x) })
	mustPanic(t, "needs a float tensor", func() { Softmax(Zeros(Int64, 3), 0) })
	mustPanic(t, "is empty", func() { ArgMax(Zeros(Float32, 2, 0), 1) })
	mustPanic(t, "NaN bound", func() { Clamp(x, math.NaN(), 1) })
}

func TestSoftmaxFullyMaskedRowIsNaN(t *testing.T) {
	inf := float32(math.Inf(-1))
	x := FromFloat32([]float32{inf, inf, inf, 0, inf, 1}, 2, 3)
	y := Softmax(x, -1).F32()
	for i := 0; i < 3; i++ {
		if !math.IsNaN(float64(y[i])) {
			t.Fatalf("fully masked row: %v, want NaN as PyTorch", y[:3])
		}
	}
	if y[4] != 0 || math.Abs(float64(y[3]+y[5])-1) > 1e-6 {
		t.Fatalf("partly masked row %v", y[3:])
	}
}

// TestFastMath checks the float32 kernels' exp and normal CDF against the
// math package over their whole useful range, in relative terms.
func TestFastMath(t *testing.T) {
	worst := 0.0
	for x := -700.0; x <= 700; x += 0.0137 {
		got, want := exp32(x), math.Exp(x)
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 1e-9 {
		t.Fatalf("exp32 relative error %.3g", worst)
	}
	if exp32(math.Inf(-1)) != 0 || !math.IsInf(exp32(800), 1) || !math.IsNaN(exp32(math.NaN())) || exp32(0) != 1 {
		t.Fatal("exp32 special values")
	}
	worstCDF, worstPDF := 0.0, 0.0
	for x := -37.0; x <= 12; x += 0.00731 {
		cdf, pdf := normCDFPDF[float32](x)
		wantCDF := 0.5 * math.Erfc(-x*invSqrt2)
		wantPDF := invSqrt2Pi * math.Exp(-0.5*x*x)
		worstCDF = max(worstCDF, math.Abs(cdf-wantCDF)/wantCDF)
		worstPDF = max(worstPDF, math.Abs(pdf-wantPDF)/wantPDF)
	}
	if worstCDF > 1e-8 || worstPDF > 1e-9 {
		t.Fatalf("normCDFPDF relative errors: cdf %.3g, pdf %.3g", worstCDF, worstPDF)
	}
	// GELU in float32 against float64 over the activation's range.
	xs := make([]float64, 0, 4000)
	for x := -12.0; x <= 12; x += 0.006 {
		xs = append(xs, x)
	}
	x64 := To(To(FromFloat64(xs), Float32), Float64) // exactly representable inputs
	for name, f := range map[string]func(*Tensor) *Tensor{"GELU": GELU, "GELUTanh": GELUTanh, "Sigmoid": Sigmoid, "Exp": Exp} {
		a, b := Detach(x64).SetRequiresGrad(true), To(x64, Float32).SetRequiresGrad(true)
		ya, yb := f(a), f(b)
		ya.BackwardWith(Ones(Float64, len(xs)))
		yb.BackwardWith(Ones(Float32, len(xs)))
		// The AVX2 kernels are accurate to 1e-6 relative where the result
		// matters; the far negative tail (|y| < 1e-12, where PyTorch's own
		// float32 tanh form cancels to 0) is checked in absolute terms.
		assertClose(t, name, yb.Float64s(), ya.Float64s(), 1e-6, 1e-12)
		// Sigmoid's gradient s(1-s) comes from the float32 output, as in
		// PyTorch, so it is only absolutely accurate where s is near 1.
		assertClose(t, name+" grad", b.Grad().Float64s(), a.Grad().Float64s(), 1e-6, 1e-7)
	}
}

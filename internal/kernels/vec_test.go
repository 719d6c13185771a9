package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Accuracy tests: every kernel, on the assembly path (where the CPU has it)
// and on the pure-Go path, against float64 references over lengths 0..67
// and a few large ones (every main-loop/tail combination), with extreme
// values and NaN where they are meaningful. Each test logs the worst error
// it saw (go test -v -run Vec prints them).

var vecLens = func() []int {
	var l []int
	for n := 0; n <= 67; n++ {
		l = append(l, n)
	}
	return append(l, 128, 768, 1000, 3072+13)
}()

// forImpls runs f on the assembly kernels (when this build and CPU have
// them) and on the pure-Go kernels.
func forImpls(t *testing.T, f func(t *testing.T)) {
	saved := useVecAsm
	defer func() { useVecAsm = saved }()
	if haveVecAsm && saved {
		useVecAsm = true
		t.Run("asm", f)
	}
	useVecAsm = false
	t.Run("go", f)
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

func normal(r *rand.Rand, n int, mean, std float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(mean + std*r.NormFloat64())
	}
	return x
}

// errTracker records the worst scaled error; a NaN/non-NaN mismatch counts
// as infinite error.
type errTracker struct {
	t     *testing.T
	name  string
	worst float64
	at    float64
	// floor: below this scale the check is absolute, against absTol
	// (defaults: the float32 normal range and 1e-43).
	floor, absTol float64
}

const minNormal32 = 1.1754944e-38

// rel records |got-want|/scale, or when scale is below the float32 normal
// range an absolute check against 1e-43 (GELU multiplies a subnormal Φ by
// |u| up to 14.5, which scales its half-ulp rounding).
func (e *errTracker) rel(got float32, want, scale, x float64) {
	g := float64(got)
	if math.IsNaN(want) || math.IsNaN(g) {
		if math.IsNaN(want) != math.IsNaN(g) {
			e.t.Errorf("%s(%v) = %v, want %v", e.name, x, g, want)
		}
		return
	}
	if math.Abs(want) > math.MaxFloat32 && !math.IsInf(want, 0) {
		want = float64(float32(want)) // rounds to ±Inf or ±MaxFloat32
	}
	if math.IsInf(want, 0) || math.IsInf(g, 0) {
		if g != want {
			e.t.Errorf("%s(%v) = %v, want %v", e.name, x, g, want)
		}
		return
	}
	floor, absTol := e.floor, e.absTol
	if floor == 0 {
		floor, absTol = minNormal32, 1e-43
	}
	if scale < floor {
		if math.Abs(g-want) > absTol+1e-6*scale {
			e.t.Errorf("%s(%v) = %v, want %v (subnormal range)", e.name, x, g, want)
		}
		return
	}
	if err := math.Abs(g-want) / scale; err > e.worst {
		e.worst, e.at = err, x
	}
}

func (e *errTracker) check(tol float64) {
	e.t.Logf("%s: worst error %.3g (at %v)", e.name, e.worst, e.at)
	if e.worst > tol {
		e.t.Errorf("%s: worst error %.3g at %v > %.3g", e.name, e.worst, e.at, tol)
	}
}

func sweep(lo, hi, step float64) []float32 {
	var x []float32
	for v := lo; v < hi; v += step {
		x = append(x, float32(v))
	}
	return x
}

var nan32 = float32(math.NaN())
var inf32 = float32(math.Inf(1))

func TestVecExp(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		e := &errTracker{t: t, name: "ExpF32"}
		special := []float32{0, -0.0, 1e-30, -1e-30, 1, -1, 88.72, 88.7228, 88.73, 89, 90, 1000, inf32,
			-87.33, -87.4, -100, -103.2, -103.9, -104, -110, -1000, -inf32, nan32, -90, 90}
		inputs := [][]float32{special, sweep(-105, 90, 0.00731)}
		for _, n := range vecLens {
			inputs = append(inputs, uniform(r, n, -100, 90))
		}
		for _, src := range inputs {
			dst := make([]float32, len(src))
			ExpF32(dst, src)
			for i, x := range src {
				want := math.Exp(float64(x))
				e.rel(dst[i], want, want, float64(x))
			}
			ExpF32(src, src) // aliasing
			for i := range src {
				if math.Float32bits(src[i]) != math.Float32bits(dst[i]) {
					t.Fatalf("ExpF32 in place differs at %d", i)
				}
			}
		}
		e.check(2.4e-7) // 2 ulp
	})
}

func gelu64(u float64) float64 { return u * 0.5 * math.Erfc(-u/math.Sqrt2) }

func geluInputs(r *rand.Rand) (srcs, biases [][]float32) {
	special := []float32{0, -0.0, 1e-30, -1e-30, 1e-38, 90, -90, 14.4, -14.4, 14.6, -14.6, 13, -13, 1e30, -1e30, inf32, nan32, 0.75, -0.7518}
	srcs = append(srcs, special, sweep(-16, 16, 0.00173))
	biases = append(biases, nil, nil)
	for _, n := range vecLens {
		srcs = append(srcs, uniform(r, n, -15, 15))
		biases = append(biases, normal(r, n, 0, 0.5))
		srcs = append(srcs, normal(r, n, 0, 3))
		biases = append(biases, nil)
	}
	return srcs, biases
}

func uOf(src, bias []float32, i int) float64 {
	return float64(src[i] + biasAt(bias, i))
}

func TestVecGELU(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		srcs, biases := geluInputs(newRand())
		e := &errTracker{t: t, name: "GELUF32"}
		for k, src := range srcs {
			dst := make([]float32, len(src))
			GELUF32(dst, src, biases[k])
			for i := range src {
				u := uOf(src, biases[k], i)
				want := gelu64(u)
				if math.IsInf(u, -1) {
					want = math.NaN() // -Inf·0, as PyTorch
				}
				e.rel(dst[i], want, math.Abs(want), u)
			}
		}
		e.check(1e-6)
	})
}

func TestVecGELUBackward(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		srcs, biases := geluInputs(r)
		// φ(u) is subnormal below u = -13.2: absolute check there.
		e := &errTracker{t: t, name: "GELUBackwardF32", floor: 1e-36, absTol: 1e-43}
		for k, src := range srcs {
			g := normal(r, len(src), 0, 1)
			dx := make([]float32, len(src))
			GELUBackwardF32(dx, src, biases[k], g)
			for i := range src {
				u := uOf(src, biases[k], i)
				cdf := 0.5 * math.Erfc(-u/math.Sqrt2)
				pdf := math.Exp(-u*u/2) / math.Sqrt(2*math.Pi)
				gi := float64(g[i])
				want := gi * (cdf + u*pdf)
				scale := math.Abs(gi) * (cdf + math.Abs(u)*pdf)
				if math.IsInf(u, 1) {
					want, scale = gi, math.Abs(gi)
				} else if math.IsInf(u, -1) {
					want, scale = 0, 0
				}
				e.rel(dx[i], want, scale, u)
			}
		}
		e.check(1e-6)
	})
}

// gelu_tanh in float64 in the stable form u/(1+e^(-2y)).
func geluTanh64(u float64) (val, deriv, twoY float64) {
	c := math.Sqrt(2 / math.Pi)
	y := c * (u + 0.044715*u*u*u)
	e := math.Exp(-2 * y)
	s := 1 / (1 + e)
	oms := e / (1 + e)
	if math.IsInf(e, 1) {
		oms = 1
	}
	dy := c * (1 + 3*0.044715*u*u)
	return u * s, s + 2*u*s*oms*dy, 2 * y
}

func TestVecGELUTanh(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		srcs, biases := geluInputs(r)
		e := &errTracker{t: t, name: "GELUTanhF32 (error/(1+|2y|))"}
		// s = 1/(1+e^(2y)) is subnormal below u = -10.4 and the derivative
		// (about -280·s there) magnifies its rounding: absolute check.
		eb := &errTracker{t: t, name: "GELUTanhBackwardF32 (error/(1+|2y|))", absTol: 1e-42, floor: 1e-33}
		ec := &errTracker{t: t, name: "GELUTanhF32 |u|<=3 plain relative"}
		for k, src := range srcs {
			dst := make([]float32, len(src))
			dx := make([]float32, len(src))
			g := normal(r, len(src), 0, 1)
			GELUTanhF32(dst, src, biases[k])
			GELUTanhBackwardF32(dx, src, biases[k], g)
			for i := range src {
				u := uOf(src, biases[k], i)
				v, d, y2 := geluTanh64(u)
				switch {
				case math.IsInf(u, 1):
					v, d, y2 = u, 1, 0
				case math.IsInf(u, -1):
					v, d, y2 = math.NaN(), 0, 0
				}
				amp := 1 + math.Abs(y2)
				e.rel(dst[i], v, math.Abs(v)*amp, u)
				if math.Abs(u) <= 3 {
					ec.rel(dst[i], v, math.Abs(v), u)
				}
				c := math.Sqrt(2 / math.Pi)
				s := 1 / (1 + math.Exp(-y2))
				scale := s * (1 + math.Abs(2*u*(1-s)*c*(1+3*0.044715*u*u)))
				eb.rel(dx[i], float64(g[i])*d, math.Abs(float64(g[i]))*scale*amp, u)
			}
		}
		// The float32 argument -2|y| = -(C1 + C3·u²)·|u| carries a few
		// roundings (and those of C1, C3), which e^ turns into relative
		// error proportional to |2y|: bound the error per unit of |2y|.
		e.check(1e-6)
		ec.check(1e-6)
		eb.check(1e-6)
	})
}

func softmax64(x []float32) (p []float64, m, ls float64) {
	m = math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	p = make([]float64, len(x))
	for i, v := range x {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p, m, math.Log(s)
}

func softmaxRows(r *rand.Rand) [][]float32 {
	var rows [][]float32
	for _, n := range vecLens {
		if n == 0 {
			continue
		}
		rows = append(rows, normal(r, n, 0, 1), normal(r, n, 5, 10))
		masked := normal(r, n, 0, 3)
		for i := 1; i < n; i += 3 {
			masked[i] = float32(math.Inf(-1)) // attention masks
		}
		rows = append(rows, masked)
	}
	return rows
}

func TestVecSoftmax(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		e := &errTracker{t: t, name: "SoftmaxF32 (error/(1+|x-max|))"}
		el := &errTracker{t: t, name: "LogSoftmaxF32 (error/(1+|x-max|+log Σ))"}
		for _, x := range softmaxRows(r) {
			p, m, ls := softmax64(x)
			y := make([]float32, len(x))
			SoftmaxF32(y, x)
			lo := append([]float32(nil), x...)
			LogSoftmaxF32(lo, lo) // in place
			for i := range x {
				d := math.Abs(float64(x[i]) - m)
				if math.IsInf(d, 0) {
					if y[i] != 0 || !math.IsInf(float64(lo[i]), -1) {
						t.Fatalf("masked entry: softmax %v, log-softmax %v", y[i], lo[i])
					}
					continue
				}
				e.rel(y[i], p[i], p[i]*(1+d), float64(x[i]))
				el.rel(lo[i], float64(x[i])-m-ls, 1+d+math.Abs(ls), float64(x[i]))
			}
		}
		e.check(3e-7)
		el.check(2e-7)
		for _, bad := range [][]float32{{1, nan32, 2}, {float32(math.Inf(-1)), float32(math.Inf(-1))}, {inf32, 1}} {
			y := make([]float32, len(bad))
			SoftmaxF32(y, bad)
			for _, v := range y {
				if v == v {
					t.Fatalf("SoftmaxF32(%v) = %v, want all NaN", bad, y)
				}
			}
		}
	})
}

func TestVecSoftmaxBackward(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		e := &errTracker{t: t, name: "SoftmaxBackwardF32"}
		el := &errTracker{t: t, name: "LogSoftmaxBackwardF32"}
		for _, x := range softmaxRows(r) {
			n := len(x)
			y := make([]float32, n)
			SoftmaxF32(y, x)
			out := make([]float32, n)
			LogSoftmaxF32(out, x)
			g := normal(r, n, 0, 1)
			var s, sa, sg, sga float64
			for i := range y {
				s += float64(g[i]) * float64(y[i])
				sa += math.Abs(float64(g[i]) * float64(y[i]))
				sg += float64(g[i])
				sga += math.Abs(float64(g[i]))
			}
			dx := make([]float32, n)
			SoftmaxBackwardF32(dx, y, g)
			dl := append([]float32(nil), g...)
			LogSoftmaxBackwardF32(dl, out, dl) // dx aliases g
			for i := range y {
				yi, gi := float64(y[i]), float64(g[i])
				e.rel(dx[i], yi*(gi-s), yi*(math.Abs(gi)+sa)+1e-30, gi)
				eo := math.Exp(float64(out[i]))
				el.rel(dl[i], gi-eo*sg, math.Abs(gi)+eo*sga, gi)
			}
		}
		e.check(1e-6)
		el.check(1e-6)
	})
}

func TestVecLayerNorm(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		e := &errTracker{t: t, name: "LayerNormF32 dst"}
		es := &errTracker{t: t, name: "LayerNormF32 mean/rstd"}
		type rowCase struct{ mean, std float64 }
		for _, n := range vecLens {
			if n == 0 {
				continue
			}
			for _, c := range []rowCase{{0, 1}, {100, 1}, {-3, 1e-3}, {1e4, 10}} {
				x := normal(r, n, c.mean, c.std)
				w := normal(r, n, 1, 0.2)
				b := normal(r, n, 0, 1)
				for variant := 0; variant < 3; variant++ {
					wv, bv := w, b
					if variant == 1 {
						bv = nil
					} else if variant == 2 {
						wv, bv = nil, nil
					}
					const eps = 1e-5
					dst := make([]float32, n)
					mean, rstd := LayerNormF32(dst, x, wv, bv, eps)
					var m, v float64
					for _, xi := range x {
						m += float64(xi)
					}
					m /= float64(n)
					for _, xi := range x {
						v += (float64(xi) - m) * (float64(xi) - m)
					}
					rs := 1 / math.Sqrt(v/float64(n)+eps)
					es.rel(mean, m, math.Abs(m)+1e-30, m)
					es.rel(rstd, rs, rs, m)
					for i, xi := range x {
						xh := (float64(xi) - m) * rs
						wi, bi := 1.0, 0.0
						if wv != nil {
							wi = float64(wv[i])
						}
						if bv != nil {
							bi = float64(bv[i])
						}
						want := xh*wi + bi
						e.rel(dst[i], want, math.Abs(xh*wi)+math.Abs(bi)+1e-6, float64(xi))
					}
				}
			}
		}
		e.check(1e-6)
		es.check(1e-6)
		// constant row: variance 0, rstd = 1/sqrt(eps), output = bias
		x := []float32{3, 3, 3, 3, 3}
		dst := make([]float32, 5)
		if mean, rstd := LayerNormF32(dst, x, nil, nil, 1e-5); mean != 3 || math.Abs(float64(rstd)-1/math.Sqrt(1e-5)) > 1 || dst[0] != 0 {
			t.Fatalf("constant row: mean %v rstd %v dst %v", mean, rstd, dst)
		}
	})
}

func TestVecLayerNormBackward(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		e := &errTracker{t: t, name: "LayerNormBackwardF32 dx"}
		ea := &errTracker{t: t, name: "LayerNormBackwardF32 dweight/dbias"}
		for _, n := range vecLens {
			if n == 0 {
				continue
			}
			for variant := 0; variant < 3; variant++ {
				x := normal(r, n, 100*float64(variant), 1)
				w := normal(r, n, 1, 0.2)
				g := normal(r, n, 0, 1)
				dw0 := normal(r, n, 0, 1)
				db0 := normal(r, n, 0, 1)
				dw := append([]float32(nil), dw0...)
				db := append([]float32(nil), db0...)
				wv, dwv, dbv := w, dw, db
				if variant == 2 {
					wv, dwv, dbv = nil, nil, nil
				}
				y := make([]float32, n)
				mean, rstd := LayerNormF32(y, x, wv, nil, 1e-5)
				dx := append([]float32(nil), g...)
				LayerNormBackwardF32(dx, dwv, dbv, x, wv, dx, mean, rstd) // dx aliases g
				m, rs := float64(mean), float64(rstd)
				var a, b, aa, ba float64
				xh := make([]float64, n)
				dxh := make([]float64, n)
				for i := range x {
					xh[i] = (float64(x[i]) - m) * rs
					dxh[i] = float64(g[i])
					if wv != nil {
						dxh[i] *= float64(w[i])
					}
					a += dxh[i]
					b += dxh[i] * xh[i]
					aa += math.Abs(dxh[i])
					ba += math.Abs(dxh[i] * xh[i])
				}
				a, b, aa, ba = a/float64(n), b/float64(n), aa/float64(n), ba/float64(n)
				for i := range x {
					want := rs * (dxh[i] - a - xh[i]*b)
					e.rel(dx[i], want, rs*(math.Abs(dxh[i])+aa+math.Abs(xh[i])*ba), xh[i])
					if dwv != nil {
						gx := float64(g[i]) * xh[i]
						ea.rel(dw[i], float64(dw0[i])+gx, math.Abs(float64(dw0[i]))+math.Abs(gx), xh[i])
						ea.rel(db[i], float64(db0[i])+float64(g[i]), math.Abs(float64(db0[i]))+math.Abs(float64(g[i])), xh[i])
					}
				}
			}
		}
		e.check(1e-6)
		ea.check(2e-7)
	})
}

// adamWRef32 is the PyTorch operation sequence in float32 with a true FMA.
func adamWRef32(p, g, m, v []float32, s *adamScalars) {
	for i := range p {
		pi := p[i] * s.decay
		mi := float32(math.FMA(float64(g[i]), float64(s.omb1), float64(m[i]*s.b1)))
		vi := v[i]*s.b2 + (s.omb2*g[i])*g[i]
		d := float32(math.Sqrt(float64(vi)))/s.sqrtbc2 + s.eps
		p[i] = pi + (s.negStep*mi)/d
		m[i], v[i] = mi, vi
	}
}

func TestVecAdamW(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		const lr, b1, b2, eps, wd = 1e-3, 0.9, 0.999, 1e-8, 0.01
		worst := 0
		for _, n := range vecLens {
			p := normal(r, n, 0, 1)
			m := make([]float32, n)
			v := make([]float32, n)
			pr := append([]float32(nil), p...)
			mr := append([]float32(nil), m...)
			vr := append([]float32(nil), v...)
			for step := 1; step <= 3; step++ {
				g := normal(r, n, 0, 0.01)
				if n > 3 {
					g[3] = 0
				}
				bc1 := 1 - math.Pow(b1, float64(step))
				bc2 := 1 - math.Pow(b2, float64(step))
				AdamWF32(p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2)
				// The factors as PyTorch forms them from Python floats.
				s := adamScalars{decay: float32(1 - lr*wd), b1: b1, omb1: float32(1 - b1),
					b2: b2, omb2: float32(1 - b2), sqrtbc2: float32(math.Sqrt(bc2)), eps: eps,
					negStep: float32(-(lr / bc1))}
				adamWRef32(pr, g, mr, vr, &s)
				for i := range p {
					for _, pair := range [][2]float32{{p[i], pr[i]}, {m[i], mr[i]}, {v[i], vr[i]}} {
						d := int(math.Float32bits(pair[0])) - int(math.Float32bits(pair[1]))
						if d < 0 {
							d = -d
						}
						worst = max(worst, d)
					}
				}
			}
		}
		t.Logf("AdamWF32: worst difference from the float32 PyTorch sequence: %d ulp", worst)
		limit := 1 // the pure-Go FMA emulation may round a tie differently
		if useVecAsm {
			limit = 0
		}
		if worst > limit {
			t.Fatalf("AdamWF32 differs from the reference sequence by %d ulp", worst)
		}
	})
}

func TestVecBLAS1(t *testing.T) {
	forImpls(t, func(t *testing.T) {
		r := newRand()
		ed := &errTracker{t: t, name: "DotF32 (error/Σ|ab|)"}
		es := &errTracker{t: t, name: "SumF32 (error/Σ|x|)"}
		for _, n := range vecLens {
			a := normal(r, n, 0, 1)
			b := normal(r, n, 0, 1)
			c := float32(r.NormFloat64())
			// Axpy: one FMA per element.
			y := append([]float32(nil), b...)
			AxpyF32(y, a, c)
			for i := range y {
				want := float32(math.FMA(float64(c), float64(a[i]), float64(b[i])))
				if useVecAsm && y[i] != want || math.Abs(float64(y[i]-want)) > 1e-6*math.Abs(float64(want)) {
					t.Fatalf("AxpyF32 n=%d i=%d: %v want %v", n, i, y[i], want)
				}
			}
			x := append([]float32(nil), a...)
			ScaleF32(x, c)
			sum := make([]float32, n)
			AddF32(sum, a, b)
			prod := append([]float32(nil), a...)
			MulF32(prod, prod, b)
			for i := range x {
				if x[i] != a[i]*c || sum[i] != a[i]+b[i] || prod[i] != a[i]*b[i] {
					t.Fatalf("Scale/Add/Mul n=%d i=%d", n, i)
				}
			}
			var d, da, s, sa float64
			m := float32(math.Inf(-1))
			for i := range a {
				d += float64(a[i]) * float64(b[i])
				da += math.Abs(float64(a[i]) * float64(b[i]))
				s += float64(a[i])
				sa += math.Abs(float64(a[i]))
				m = max(m, a[i])
			}
			ed.rel(DotF32(a, b), d, da+1e-30, float64(n))
			es.rel(SumF32(a), s, sa+1e-30, float64(n))
			if got := MaxF32(a); got != m {
				t.Fatalf("MaxF32 n=%d = %v, want %v", n, got, m)
			}
			if n > 0 {
				a[n-1] = nan32
				if got := MaxF32(a); got == got {
					t.Fatalf("MaxF32 with NaN at %d = %v", n-1, got)
				}
				a[n/2] = float32(math.Inf(-1))
				a[n-1] = float32(math.Inf(-1))
				ninf := true
				for _, v := range a {
					ninf = ninf && math.IsInf(float64(v), -1)
				}
				if got := MaxF32(a); ninf && !math.IsInf(float64(got), -1) {
					t.Fatalf("MaxF32 of -Infs = %v", got)
				}
			}
		}
		ed.check(4e-7)
		es.check(4e-7)
	})
}

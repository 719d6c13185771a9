package tensor

import (
	"github.com/kiln-ml/kiln/internal/kernels"
	"math"
	"unsafe"
)

// Fast transcendental functions for float32 kernels. They compute in float64
// with a relative error below 1e-8, far under float32's rounding (6e-8), at a
// fraction of the cost of the math package's full-precision versions.
// Float64 tensors (gradient checks, references) keep the math package.

const (
	log2e = 1.4426950408889634
	ln2Hi = 6.93147180369123816490e-01 // ln 2 split so that k·ln2Hi is exact
	ln2Lo = 1.90821492927058770002e-10
)

// exp32 returns eˣ with a relative error below 1e-10; it returns 0 below
// -708 (where float32 flushed to 0 long before) and +Inf above 709.
func exp32(x float64) float64 {
	if !(x > -708) {
		if x != x {
			return x
		}
		return 0
	}
	if x > 709 {
		return math.Inf(1)
	}
	// x = (64k + j)·ln2/64 + r with |r| <= ln2/128, so
	// eˣ = 2ᵏ · 2^(j/64) · eʳ, eʳ by its Taylor series to r⁴ (error < 1e-13).
	// Adding 1.5·2⁵² rounds x·64/ln2 to an integer without a branch.
	const shifter = 0x1.8p52
	m := x*(64*log2e) + shifter
	mf := m - shifter
	n := int64(mf)
	r := x - mf*(ln2Hi/64) - mf*(ln2Lo/64)
	r2 := r * r
	p := 1 + r + r2*(0.5+r*(1.0/6)) + r2*r2*(1.0/24)
	k, j := n>>6, n&63
	return p * exp2Tab[j] * math.Float64frombits(uint64(k+1023)<<52)
}

// exp2Tab[j] = 2^(j/64).
var exp2Tab = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

// isF32 reports whether T is float32 (a constant per instantiation).
func isF32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// expT is exp32 for float32 kernels and math.Exp for float64 ones.
func expT[T Float](x float64) float64 {
	if isF32[T]() {
		return exp32(x)
	}
	return math.Exp(x)
}

// sigmoidT is 1/(1+e⁻ˣ) without overflow, with expT.
func sigmoidT[T Float](x float64) float64 {
	if x >= 0 {
		return 1 / (1 + expT[T](-x))
	}
	e := expT[T](x)
	return e / (1 + e)
}

// The normal CDF Φ for float32 GELU. With the Mills ratio
// M(t) = (1-Φ(t))/φ(t), smooth and about 1/t for t >= 0, the upper tail is
// 1-Φ(t) = φ(t)·M(t) and Φ(-t) = φ(t)·M(t): accurate to float32 in relative
// terms in both tails. M is tabulated on [0, millsMax] and interpolated with
// cubic Hermite polynomials (M' = t·M - 1 is exact), error below 1e-9;
// beyond, its asymptotic series is used.
const (
	millsStep = 1.0 / 64
	millsMax  = 16
)

// millsTab[i] holds the cubic c0 + c1·s + c2·s² + c3·s³ (s in [0, 1)) that
// Hermite-interpolates M on [i·millsStep, (i+1)·millsStep].
var millsTab = func() [][4]float64 {
	n := int(millsMax / millsStep)
	m := func(t float64) (v, d float64) {
		// erfc(t/√2)/2 / φ(t), with φ(t) = e^(-t²/2)/√(2π); M' = t·M - 1.
		v = 0.5 * math.Erfc(t*invSqrt2) * math.Exp(0.5*t*t) / invSqrt2Pi
		return v, (t*v - 1) * millsStep // the derivative in s
	}
	tab := make([][4]float64, n)
	for i := range tab {
		m0, d0 := m(float64(i) * millsStep)
		m1, d1 := m(float64(i+1) * millsStep)
		tab[i] = [4]float64{m0, d0, 3*(m1-m0) - 2*d0 - d1, 2*(m0-m1) + d0 + d1}
	}
	return tab
}()

// mills returns M(t) for t >= 0.
func mills(t float64) float64 {
	if !(t < millsMax) {
		u := 1 / (t * t)
		return (1 - u*(1-u*(3-u*(15-105*u)))) / t
	}
	f := t * (1 / millsStep)
	i := int(f)
	s := f - float64(i)
	c := &millsTab[i]
	return c[0] + s*(c[1]+s*(c[2]+s*c[3]))
}

// normCDFPDF returns Φ(x) and φ(x), via expT and the Mills ratio for
// float32 kernels, via math.Erfc for float64.
func normCDFPDF[T Float](x float64) (cdf, pdf float64) {
	if !isF32[T]() {
		// erfc keeps Φ's lower tail accurate, where 1+erf would cancel.
		return 0.5 * math.Erfc(-x*invSqrt2), invSqrt2Pi * math.Exp(-0.5*x*x)
	}
	if x != x {
		return x, x
	}
	t := math.Abs(x)
	pdf = invSqrt2Pi * exp32(-0.5*t*t)
	if math.IsInf(t, 0) {
		pdf = 0
		if x > 0 {
			return 1, 0
		}
		return 0, 0
	}
	tail := pdf * mills(t)
	if x >= 0 {
		return 1 - tail, pdf
	}
	return tail, pdf
}

// f32s returns a float32 kernel's view of a []T that is known (isF32) to be
// []float32; the conversion is free.
func f32s[T Float](s []T) []float32 { return any(s).([]float32) }

// geluRow32 runs the AVX2 GELU kernels on one row: dst = gelu(src + bias)
// when g is nil, else dst = g * gelu'(src + bias); bias may be nil.
func geluRow32(dst, src, bias, g []float32, tanh bool) {
	switch {
	case g == nil && tanh:
		kernels.GELUTanhF32(dst, src, bias)
	case g == nil:
		kernels.GELUF32(dst, src, bias)
	case tanh:
		kernels.GELUTanhBackwardF32(dst, src, bias, g)
	default:
		kernels.GELUBackwardF32(dst, src, bias, g)
	}
}

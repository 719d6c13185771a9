package kernels

import (
	"math"
	"testing"
)

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -103.0; x < 88.7; x += 0.0137 {
		got := float64(Exp32(float32(x)))
		want := math.Exp(float64(float32(x)))
		if want < 1e-37 { // subnormal range: absolute check
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("Exp32(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 4e-7 {
		t.Fatalf("Exp32 worst relative error %.3g", worst)
	}
	if !math.IsInf(float64(Exp32(89)), 1) || Exp32(-200) != 0 || !math.IsNaN(float64(Exp32(float32(math.NaN())))) {
		t.Fatal("Exp32 special values")
	}
}

func TestNormCDF32(t *testing.T) {
	// exp(-x²/2) of a float32 argument carries the argument's rounding,
	// x²/2 * 6e-8 relative, as any float32 implementation (PyTorch's too)
	// does: the bound below scales with it.
	worstC, worstP := 0.0, 0.0
	for x := -12.0; x < 12; x += 0.00731 {
		c, p := NormCDF32(float32(x))
		xf := float64(float32(x))
		wantC := 0.5 * math.Erfc(-xf/math.Sqrt2)
		wantP := math.Exp(-0.5*xf*xf) / math.Sqrt(2*math.Pi)
		scale := 1 + xf*xf/2
		if wantC > 1e-30 {
			worstC = math.Max(worstC, math.Abs(float64(c)-wantC)/wantC/scale)
		}
		if wantP > 1e-30 {
			worstP = math.Max(worstP, math.Abs(float64(p)-wantP)/wantP/scale)
		}
	}
	if worstC > 4e-7 || worstP > 4e-7 {
		t.Fatalf("NormCDF32 worst relative error: cdf %.3g, pdf %.3g", worstC, worstP)
	}
}

func BenchmarkExp32(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i%200) * 0.05
	}
	b.SetBytes(int64(len(xs) * 4))
	var s float32
	for i := 0; i < b.N; i++ {
		for _, x := range xs {
			s += Exp32(-x)
		}
	}
	_ = s
}

func BenchmarkExp64(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i%200) * 0.05
	}
	b.SetBytes(int64(len(xs) * 4))
	var s float32
	for i := 0; i < b.N; i++ {
		for _, x := range xs {
			s += float32(math.Exp(float64(-x)))
		}
	}
	_ = s
}

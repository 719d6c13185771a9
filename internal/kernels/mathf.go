package kernels

import "math"

// Fast float32 elementary functions for the memory-bound kernels. They are
// accurate to a few float32 ulps (relative error below 1e-6, checked against
// package math in tests), which is what PyTorch's vectorised float32
// functions give, and several times faster than going through float64 math.

// Exp32 returns e^x: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of
// ln2 in two parts so r is exact), e^r by a degree-6 Taylor/minimax
// polynomial, and 2^k put straight into the exponent bits.
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375 // ln2 rounded to 9 bits: k*ln2hi is exact for |k| < 2^15
		ln2lo = -2.12194440e-4
	)
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -103.97208 {
		return 0
	}
	if x != x {
		return x
	}
	// Round x·log2e to the nearest integer with the 1.5·2^23 trick: adding
	// it pushes the fraction bits out of a float32's mantissa.
	const round = 12582912
	kf := (x*log2e + round) - round
	r := x - kf*ln2hi - kf*ln2lo
	// e^r for |r| <= 0.3466: Horner form of Σ r^i/i!, i <= 7 (error < 2e-9).
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	k := int32(kf)
	if k < -126 {
		// Subnormal result: scale in two steps.
		return p * math.Float32frombits(uint32(k+126+127)<<23) * math.Float32frombits(uint32(-126+127)<<23)
	}
	if k > 127 {
		return p * 2 * math.Float32frombits(uint32(k-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// NormCDF32 returns Φ(x), the standard normal CDF, and φ(x), its density,
// with small relative error in both tails (GELU needs Φ for negative x, where
// it is tiny, to full relative precision). It uses erfc(z) = t·exp(-z² +
// P(t)), t = 1/(1 + z/2), whose fractional error is below 1.2e-7 for all z
// (the Chebyshev fit from Numerical Recipes, re-derived coefficients as
// published there), evaluated in float64 for the polynomial.
func NormCDF32(x float32) (cdf, pdf float32) {
	const invSqrt2 = 0.70710678118654752
	const invSqrt2Pi = 0.39894228040143268
	z := float64(x) * invSqrt2
	az := math.Abs(z)
	t := 1 / (1 + 0.5*az)
	poly := -1.26551223 + t*(1.00002368+t*(0.37409196+t*(0.09678418+t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+t*(-0.82215223+t*0.17087277))))))))
	e := float64(Exp32(float32(-az * az)))
	erfc := t * e * float64(Exp32(float32(poly)))
	half := 0.5 * erfc // Φ(-|x|)
	if x >= 0 {
		cdf = float32(1 - half)
	} else {
		cdf = float32(half)
	}
	return cdf, float32(e * invSqrt2Pi)
}

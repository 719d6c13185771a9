package kernels

import "math"

// Pure-Go implementations of the vec kernels. They compute the same
// formulas as the assembly in vec_amd64.s, step for step where accuracy
// depends on it (the GELU exponent split, the float64 reductions); fma32
// stands in for the FMA instruction. Lengths are checked by the callers.

func sqrt64(x float64) float64 { return math.Sqrt(x) }
func negInf64() float64        { return math.Inf(-1) }

// fma32 returns a·b+c rounded to float32: the float64 product of two
// float32s is exact, so only the sum is rounded (twice, which differs from
// a true FMA only on rare ties).
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }

// Constants shared with the assembly (see vecConsts in vec_amd64.s).
const (
	vLog2e    = 1.44269504088896341
	vLn2hi    = 0.693359375 // 9 significant bits: kf·vLn2hi is exact
	vLn2lo    = -2.12194440e-4
	vMagic    = 12582912 // 1.5·2^23: adding it rounds to an integer
	vExpHi    = 89       // e^89 overflows float32
	vExpLo    = -104     // e^-104 rounds to 0
	vGeluClip = 14.5     // Φ(-14.5) rounds to 0 in float32
	vInvSqrt2 = 0.70710678118654752
	vTQuarter = 0.35355339059327376 // 1/(2√2): t = 1/(1 + |u|·vTQuarter)
	vInvSq2Pi = 0.39894228040143268 // 1/√(2π)
	vTanhC1   = 1.5957691216057308  // 2·√(2/π)
	vTanhC3   = 0.07135481627260025 // 2·√(2/π)·0.044715
	vTanhD3   = 0.21406444881780076 // 3·vTanhC3
)

// expPolyScale returns e^r·2^k for |r| <= ~0.35 (Exp32's polynomial) with
// 2^k applied in two halves, so that subnormal results are rounded once and
// k up to 128 overflows cleanly to +Inf.
func expPolyScale(r float32, k int32) float32 {
	p := float32(1.0 / 5040)
	p = fma32(p, r, 1.0/720)
	p = fma32(p, r, 1.0/120)
	p = fma32(p, r, 1.0/24)
	p = fma32(p, r, 1.0/6)
	p = fma32(p, r, 0.5)
	p = fma32(p, r, 1)
	p = fma32(p, r, 1)
	k1 := k >> 1
	k2 := k - k1
	p *= math.Float32frombits(uint32(k1+127) << 23)
	return p * math.Float32frombits(uint32(k2+127)<<23)
}

// exp32v is e^x by the vector algorithm: clamp, Cody-Waite reduction,
// expPolyScale. NaN propagates through r.
func exp32v(x float32) float32 {
	if x > vExpHi {
		x = vExpHi
	} else if x < vExpLo {
		x = vExpLo
	}
	kf := fma32(x, vLog2e, vMagic) - vMagic
	r := fma32(-kf, vLn2hi, x)
	r = fma32(-kf, vLn2lo, r)
	return expPolyScale(r, int32(kf))
}

// erfcPoly is the Numerical Recipes fit: erfc(z) ≈ t·e^(-z² + P(t)).
func erfcPoly(t float32) float32 {
	p := float32(0.17087277)
	p = fma32(p, t, -0.82215223)
	p = fma32(p, t, 1.48851587)
	p = fma32(p, t, -1.13520398)
	p = fma32(p, t, 0.27886807)
	p = fma32(p, t, -0.18628806)
	p = fma32(p, t, 0.09678418)
	p = fma32(p, t, 0.37409196)
	p = fma32(p, t, 1.00002368)
	p = fma32(p, t, -1.26551223)
	return p
}

// phiTail returns the tail q = Φ(-a) = t·e^(-a²/2 + P(t))/2 for
// a = min(|u|, 14.5) (Φ(-14.5) rounds to 0 in float32) and, when pdf is
// set, e2 = e^(-a²/2) (for φ). a² is split into hi + lo exactly so the exponent
// argument -a²/2 + P(t) keeps full precision: the reduction
// r = (-hi/2 - kf·ln2hi) is exact and the small parts are added to r.
func phiTail(u float32, pdf bool) (q, e2 float32) {
	a := float32(math.Abs(float64(u)))
	if a > vGeluClip {
		a = vGeluClip
	}
	t := 1 / fma32(a, vTQuarter, 1)
	p := erfcPoly(t)
	hi := a * a
	lo := float32(float64(a)*float64(a) - float64(hi))
	mh := -0.5 * hi // exact
	arg := fma32(hi, -0.5, p)
	kf := fma32(arg, vLog2e, vMagic) - vMagic
	r := fma32(-kf, vLn2hi, mh) // exact
	r += fma32(lo, -0.5, p)
	r = fma32(-kf, vLn2lo, r)
	e := expPolyScale(r, int32(kf))
	q = 0.5 * t * e
	if pdf {
		kf = fma32(mh, vLog2e, vMagic) - vMagic
		r = fma32(-kf, vLn2hi, mh)
		r = fma32(lo, -0.5, r)
		r = fma32(-kf, vLn2lo, r)
		e2 = expPolyScale(r, int32(kf))
	}
	return q, e2
}

func biasAt(bias []float32, i int) float32 {
	if bias == nil {
		return 0
	}
	return bias[i]
}

func expGeneric(dst, src []float32) {
	for i := range dst {
		dst[i] = exp32v(src[i])
	}
}

func geluGeneric(dst, src, bias []float32) {
	for i := range dst {
		u := src[i] + biasAt(bias, i)
		q, _ := phiTail(u, false)
		if u < 0 {
			dst[i] = u * q
		} else {
			dst[i] = u * (1 - q)
		}
	}
}

func geluBackwardGeneric(dx, src, bias, g []float32) {
	for i := range dx {
		u := src[i] + biasAt(bias, i)
		q, e2 := phiTail(u, true)
		cdf := q
		if !(u < 0) {
			cdf = 1 - q
		}
		uc := u // clamped like a so that u = ±Inf gives 1 or 0, not Inf·0
		if uc > vGeluClip {
			uc = vGeluClip
		} else if uc < -vGeluClip {
			uc = -vGeluClip
		}
		dx[i] = g[i] * fma32(uc, e2*vInvSq2Pi, cdf)
	}
}

// tanhParts returns E = e^(-2|y|) <= 1 (it cannot overflow) and
// r = 1/(1+E) for the tanh-form GELU: s = (1+tanh y)/2 is E·r for u < 0
// and r otherwise, 1-s the other one.
func tanhParts(u float32) (e, r float32) {
	u2 := u * u
	w := fma32(u2, vTanhC3, vTanhC1)
	e = exp32v(-(w * float32(math.Abs(float64(u)))))
	return e, 1 / (1 + e)
}

func geluTanhGeneric(dst, src, bias []float32) {
	for i := range dst {
		u := src[i] + biasAt(bias, i)
		e, _ := tanhParts(u)
		n := float32(1)
		if math.Signbit(float64(u)) {
			n = e
		}
		dst[i] = u * (n / (1 + e))
	}
}

func geluTanhBackwardGeneric(dx, src, bias, g []float32) {
	for i := range dx {
		u := src[i] + biasAt(bias, i)
		// Beyond ±20 the derivative is exactly 1 or 0 in float32: clamp
		// so that huge |u| cannot make Inf·0.
		if u > 20 {
			u = 20
		} else if u < -20 {
			u = -20
		}
		e, r := tanhParts(u)
		s, oms := r, e*r
		if math.Signbit(float64(u)) {
			s, oms = e*r, r
		}
		k := u * fma32(u*u, vTanhD3, vTanhC1) // u·2y'
		dx[i] = g[i] * (s * fma32(k, oms, 1))
	}
}

func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	nan := false
	for _, v := range x {
		if v > m {
			m = v
		}
		nan = nan || v != v
	}
	if nan {
		return float32(math.NaN())
	}
	return m
}

// expSubSumGeneric sets dst[i] = e^(src[i]-m) (dst nil: not stored) and
// returns the float64 sum of those values.
func expSubSumGeneric(dst, src []float32, m float32) float64 {
	var s float64
	for i, x := range src {
		e := exp32v(x - m)
		if dst != nil {
			dst[i] = e
		}
		s += float64(e)
	}
	return s
}

func softmaxGeneric(dst, src []float32) {
	m := maxGeneric(src)
	s := expSubSumGeneric(dst, src, m)
	scaleGeneric(dst, float32(1/s))
}

func softmaxBackwardGeneric(dx, y, g []float32) {
	s := dotGeneric(g, y)
	for i := range dx {
		dx[i] = y[i] * (g[i] - s)
	}
}

func logSoftmaxGeneric(dst, src []float32) {
	m := maxGeneric(src)
	ls := float32(math.Log(expSubSumGeneric(nil, src, m)))
	for i := range dst {
		dst[i] = (src[i] - m) - ls
	}
}

func logSoftmaxBackwardGeneric(dx, out, g []float32) {
	s := sumGeneric(g)
	for i := range dx {
		dx[i] = fma32(-exp32v(out[i]), s, g[i])
	}
}

// meanSplit returns the float64 mean of x as a float32 pair hi + lo.
func meanSplit(m float64) (hi, lo float32) {
	hi = float32(m)
	lo = float32(m - float64(hi))
	return hi, lo
}

func layerNormGeneric(dst, src, weight, bias []float32, eps float32) (float32, float32) {
	n := len(src)
	var s float64
	for _, x := range src {
		s += float64(x)
	}
	hi, lo := meanSplit(s / float64(n))
	var v float64
	for _, x := range src {
		d := float64((x - hi) - lo)
		v += d * d
	}
	rstd := float32(1 / math.Sqrt(v/float64(n)+float64(eps)))
	for i, x := range src {
		y := ((x - hi) - lo) * rstd
		if weight != nil {
			y *= weight[i]
		}
		if bias != nil {
			y += bias[i]
		}
		dst[i] = y
	}
	return hi, rstd
}

func layerNormBackwardGeneric(dx, dw, db, src, weight, g []float32, mean, rstd float32) {
	n := len(src)
	var s1, s2 float64
	for i, x := range src {
		xh := (x - mean) * rstd
		dxh := g[i]
		if weight != nil {
			dxh *= weight[i]
		}
		s1 += float64(dxh)
		s2 += float64(dxh) * float64(xh)
		if dw != nil {
			dw[i] = fma32(g[i], xh, dw[i])
		}
		if db != nil {
			db[i] += g[i]
		}
	}
	a := float32(s1 / float64(n))
	b := float32(s2 / float64(n))
	for i, x := range src {
		xh := (x - mean) * rstd
		dxh := g[i]
		if weight != nil {
			dxh *= weight[i]
		}
		dx[i] = rstd * fma32(-xh, b, dxh-a)
	}
}

func adamWGeneric(p, g, m, v []float32, s *adamScalars) {
	for i := range p {
		pi := p[i] * s.decay
		gi := g[i]
		mi := fma32(gi, s.omb1, m[i]*s.b1)
		vi := v[i]*s.b2 + (s.omb2*gi)*gi
		m[i], v[i] = mi, vi
		d := float32(math.Sqrt(float64(vi)))/s.sqrtbc2 + s.eps
		p[i] = pi + (s.negStep*mi)/d
	}
}

func axpyGeneric(y, x []float32, a float32) {
	for i := range y {
		y[i] = fma32(a, x[i], y[i])
	}
}

func scaleGeneric(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

func addGeneric(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func mulGeneric(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// lanes32 reduces 32 float32 lanes in the order of the assembly: the four
// 8-wide accumulators pairwise, then 8 → 4 → 2 → 1.
func lanes32(l *[32]float32) float32 {
	var v [8]float32
	for k := range v {
		v[k] = (l[k] + l[8+k]) + (l[16+k] + l[24+k])
	}
	w0, w1, w2, w3 := v[0]+v[4], v[1]+v[5], v[2]+v[6], v[3]+v[7]
	return (w0 + w2) + (w1 + w3)
}

func dotGeneric(a, b []float32) float32 {
	var l [32]float32
	n := len(a)
	i := 0
	for ; i+32 <= n; i += 32 {
		for k := 0; k < 32; k++ {
			l[k] += a[i+k] * b[i+k]
		}
	}
	for k := 0; i < n; i, k = i+1, k+1 {
		l[k%8] += a[i] * b[i]
	}
	return lanes32(&l)
}

func sumGeneric(x []float32) float32 {
	var l [32]float32
	n := len(x)
	i := 0
	for ; i+32 <= n; i += 32 {
		for k := 0; k < 32; k++ {
			l[k] += x[i+k]
		}
	}
	for k := 0; i < n; i, k = i+1, k+1 {
		l[k%8] += x[i]
	}
	return lanes32(&l)
}

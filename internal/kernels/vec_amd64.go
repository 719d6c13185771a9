//go:build amd64 && !purego

package kernels

import (
	"math"
	"unsafe"
)

// The AVX2+FMA kernels of vec_amd64.s take raw pointers and an element
// count; the wrappers below check the CPU once and fall back to the pure-Go
// kernels otherwise. A nil optional operand is passed as a nil pointer.

const haveVecAsm = true

// useVecAsm is true when the CPU and OS support AVX2 and FMA (tests flip it
// to exercise the pure-Go kernels too).
var useVecAsm = hasAVX2FMA() // the CPU check of kernel_amd64.go

func ptr(s []float32) *float32 {
	if s == nil {
		return nil
	}
	return unsafe.SliceData(s)
}

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func geluAVX2(dst, src, bias *float32, n int)

//go:noescape
func geluBackwardAVX2(dx, src, bias, gr *float32, n int)

//go:noescape
func geluTanhAVX2(dst, src, bias *float32, n int)

//go:noescape
func geluTanhBackwardAVX2(dx, src, bias, gr *float32, n int)

//go:noescape
func maxAVX2(x *float32, n int) float32

// expSubSumAVX2 sets dst[i] = e^(src[i]-m) (not stored when dst is nil)
// and returns the float64 sum.
//
//go:noescape
func expSubSumAVX2(dst, src *float32, n int, m float32) float64

//go:noescape
func scaleAVX2(x *float32, n int, a float32)

// subMulAVX2 sets dx[i] = y[i]·(g[i] - s).
//
//go:noescape
func subMulAVX2(dx, y, gr *float32, n int, s float32)

// subSubAVX2 sets dst[i] = (src[i] - a) - b.
//
//go:noescape
func subSubAVX2(dst, src *float32, n int, a, b float32)

// lsmBackAVX2 sets dx[i] = g[i] - e^out[i]·s.
//
//go:noescape
func lsmBackAVX2(dx, out, gr *float32, n int, s float32)

// lnStatsAVX2 returns the float64 sum of x (mode 0) or of
// ((x-hi)-lo)² (mode 1).
//
//go:noescape
func lnSumAVX2(x *float32, n int, hi, lo float32, mode int) float64

//go:noescape
func lnFwdAVX2(dst, src, w, b *float32, n int, hi, lo, rstd float32)

// lnBwdSumsAVX2 returns Σ dxhat and Σ dxhat·xhat (float64) and accumulates
// dw += g·xhat, db += g (skipped when nil).
//
//go:noescape
func lnBwdSumsAVX2(dw, db, src, w, gr *float32, n int, mean, rstd float32) (s1, s2 float64)

//go:noescape
func lnBwdDxAVX2(dx, src, w, gr *float32, n int, mean, rstd, a, b float32)

//go:noescape
func adamWAVX2(p, gr, m, v *float32, n int, s *adamScalars)

//go:noescape
func axpyAVX2(y, x *float32, n int, a float32)

//go:noescape
func addAVX2(dst, a, b *float32, n int)

//go:noescape
func mulAVX2(dst, a, b *float32, n int)

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func sumAVX2(x *float32, n int) float32

func vecExp(dst, src []float32) {
	if useVecAsm {
		expAVX2(ptr(dst), ptr(src), len(dst))
		return
	}
	expGeneric(dst, src)
}

func vecGELU(dst, src, bias []float32) {
	if useVecAsm {
		geluAVX2(ptr(dst), ptr(src), ptr(bias), len(dst))
		return
	}
	geluGeneric(dst, src, bias)
}

func vecGELUBackward(dx, src, bias, g []float32) {
	if useVecAsm {
		geluBackwardAVX2(ptr(dx), ptr(src), ptr(bias), ptr(g), len(dx))
		return
	}
	geluBackwardGeneric(dx, src, bias, g)
}

func vecGELUTanh(dst, src, bias []float32) {
	if useVecAsm {
		geluTanhAVX2(ptr(dst), ptr(src), ptr(bias), len(dst))
		return
	}
	geluTanhGeneric(dst, src, bias)
}

func vecGELUTanhBackward(dx, src, bias, g []float32) {
	if useVecAsm {
		geluTanhBackwardAVX2(ptr(dx), ptr(src), ptr(bias), ptr(g), len(dx))
		return
	}
	geluTanhBackwardGeneric(dx, src, bias, g)
}

func vecSoftmax(dst, src []float32) {
	if useVecAsm {
		n := len(dst)
		m := maxAVX2(ptr(src), n)
		s := expSubSumAVX2(ptr(dst), ptr(src), n, m)
		scaleAVX2(ptr(dst), n, float32(1/s))
		return
	}
	softmaxGeneric(dst, src)
}

func vecSoftmaxBackward(dx, y, g []float32) {
	if useVecAsm {
		n := len(dx)
		s := dotAVX2(ptr(g), ptr(y), n)
		subMulAVX2(ptr(dx), ptr(y), ptr(g), n, s)
		return
	}
	softmaxBackwardGeneric(dx, y, g)
}

func vecLogSoftmax(dst, src []float32) {
	if useVecAsm {
		n := len(dst)
		m := maxAVX2(ptr(src), n)
		s := expSubSumAVX2(nil, ptr(src), n, m)
		subSubAVX2(ptr(dst), ptr(src), n, m, float32(math.Log(s)))
		return
	}
	logSoftmaxGeneric(dst, src)
}

func vecLogSoftmaxBackward(dx, out, g []float32) {
	if useVecAsm {
		n := len(dx)
		s := sumAVX2(ptr(g), n)
		lsmBackAVX2(ptr(dx), ptr(out), ptr(g), n, s)
		return
	}
	logSoftmaxBackwardGeneric(dx, out, g)
}

func vecLayerNorm(dst, src, weight, bias []float32, eps float32) (float32, float32) {
	if useVecAsm {
		n := len(dst)
		hi, lo := meanSplit(lnSumAVX2(ptr(src), n, 0, 0, 0) / float64(n))
		v := lnSumAVX2(ptr(src), n, hi, lo, 1)
		rstd := float32(1 / math.Sqrt(v/float64(n)+float64(eps)))
		lnFwdAVX2(ptr(dst), ptr(src), ptr(weight), ptr(bias), n, hi, lo, rstd)
		return hi, rstd
	}
	return layerNormGeneric(dst, src, weight, bias, eps)
}

func vecLayerNormBackward(dx, dw, db, src, weight, g []float32, mean, rstd float32) {
	if useVecAsm {
		n := len(dx)
		s1, s2 := lnBwdSumsAVX2(ptr(dw), ptr(db), ptr(src), ptr(weight), ptr(g), n, mean, rstd)
		a := float32(s1 / float64(n))
		b := float32(s2 / float64(n))
		lnBwdDxAVX2(ptr(dx), ptr(src), ptr(weight), ptr(g), n, mean, rstd, a, b)
		return
	}
	layerNormBackwardGeneric(dx, dw, db, src, weight, g, mean, rstd)
}

func vecAdamW(p, g, m, v []float32, s *adamScalars) {
	if useVecAsm {
		adamWAVX2(ptr(p), ptr(g), ptr(m), ptr(v), len(p), s)
		return
	}
	adamWGeneric(p, g, m, v, s)
}

func vecAxpy(y, x []float32, a float32) {
	if useVecAsm {
		axpyAVX2(ptr(y), ptr(x), len(y), a)
		return
	}
	axpyGeneric(y, x, a)
}

func vecScale(x []float32, a float32) {
	if useVecAsm {
		scaleAVX2(ptr(x), len(x), a)
		return
	}
	scaleGeneric(x, a)
}

func vecAdd(dst, a, b []float32) {
	if useVecAsm {
		addAVX2(ptr(dst), ptr(a), ptr(b), len(dst))
		return
	}
	addGeneric(dst, a, b)
}

func vecMul(dst, a, b []float32) {
	if useVecAsm {
		mulAVX2(ptr(dst), ptr(a), ptr(b), len(dst))
		return
	}
	mulGeneric(dst, a, b)
}

func vecDot(a, b []float32) float32 {
	if useVecAsm {
		return dotAVX2(ptr(a), ptr(b), len(a))
	}
	return dotGeneric(a, b)
}

func vecSum(x []float32) float32 {
	if useVecAsm {
		return sumAVX2(ptr(x), len(x))
	}
	return sumGeneric(x)
}

func vecMax(x []float32) float32 {
	if useVecAsm {
		return maxAVX2(ptr(x), len(x))
	}
	return maxGeneric(x)
}

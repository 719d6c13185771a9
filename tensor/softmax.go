package tensor

import (
	"github.com/kiln-ml/kiln/internal/kernels"
	"math"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Softmax and log-softmax. x is viewed as [k0, n, k1] around the axis. The
// hot case is the last axis (k1 == 1: attention scores [B, H, T, T], logits
// [N, C]), where each row is processed while it sits in cache: one pass for
// the max, one that writes exp(x-max) and sums it, one that scales. Other
// axes walk blocks of up to colBlock columns with the same passes, so no
// transpose is needed. Exponentials and sums are computed in float64.
//
// A row whose inputs are all -Inf (a fully masked attention row) gives NaN,
// exactly as PyTorch: max = -Inf and -Inf - (-Inf) is NaN. Callers that want
// zeros there must mask the output themselves.

// Softmax returns exp(x)/Σexp(x) along axis (negative counts from the end),
// computed stably by subtracting the max. Its backward is y·(g - Σg·y).
// x: [..., n, ...] -> same shape.
func Softmax(x *Tensor, axis int) *Tensor { return softmaxOp("Softmax", x, axis, false) }

// LogSoftmax returns x - log Σexp(x) along axis (negative counts from the
// end), computed stably. Its backward is g - softmax(x)·Σg.
// x: [..., n, ...] -> same shape.
func LogSoftmax(x *Tensor, axis int) *Tensor { return softmaxOp("LogSoftmax", x, axis, true) }

func softmaxOp(op string, x *Tensor, axis int, log bool) *Tensor {
	mustFloat(op, x)
	axis = normAxis(op, axis, x.Rank())
	k0, n, k1 := splitAxis(x.shape, axis)
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		softmaxFwd(floats[float32](out), floats[float32](x), k0, n, k1, log)
	default:
		softmaxFwd(floats[float64](out), floats[float64](x), k0, n, k1, log)
	}
	record(out, op, func(g *Tensor) []*Tensor {
		dx := empty(g.dtype, g.shape...)
		switch g.dtype {
		case Float32:
			softmaxBwd(floats[float32](dx), floats[float32](g), floats[float32](out), k0, n, k1, log)
		default:
			softmaxBwd(floats[float64](dx), floats[float64](g), floats[float64](out), k0, n, k1, log)
		}
		return []*Tensor{dx}
	}, x)
	return out
}

// softmaxFwd writes the (log-)softmax of src [k0, n, k1] over n into dst.
func softmaxFwd[T Float](dst, src []T, k0, n, k1 int, log bool) {
	if n == 0 || k0*k1 == 0 {
		return
	}
	if k1 == 1 {
		parallel.For(k0, rowGrain(n), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				softmaxRow(dst[r*n:(r+1)*n], src[r*n:(r+1)*n], log)
			}
		})
		return
	}
	blocks := (k1 + colBlock - 1) / colBlock
	parallel.For(k0*blocks, rowGrain(n*min(k1, colBlock)), func(lo, hi int) {
		var mx, sum [colBlock]float64
		for t := lo; t < hi; t++ {
			i, c0 := t/blocks, (t%blocks)*colBlock
			w := min(c0+colBlock, k1) - c0
			base := i*n*k1 + c0
			m, s := mx[:w], sum[:w]
			for c := range m {
				m[c] = float64(src[base+c])
			}
			for j := 1; j < n; j++ {
				row := src[base+j*k1 : base+j*k1+w]
				for c, v := range row {
					if float64(v) > m[c] {
						m[c] = float64(v)
					}
				}
			}
			clear(s)
			for j := 0; j < n; j++ {
				off := base + j*k1
				row, d := src[off:off+w], dst[off:off+w]
				for c, v := range row {
					e := expT[T](float64(v) - m[c])
					s[c] += e
					if !log {
						d[c] = T(e)
					}
				}
			}
			for c := range s {
				if log {
					s[c] = m[c] + math.Log(s[c]) // log Σexp
				} else {
					s[c] = 1 / s[c]
				}
			}
			for j := 0; j < n; j++ {
				off := base + j*k1
				row, d := src[off:off+w], dst[off:off+w]
				if log {
					for c, v := range row {
						d[c] = T(float64(v) - s[c])
					}
				} else {
					for c := range d {
						d[c] = T(float64(d[c]) * s[c])
					}
				}
			}
		}
	})
}

// softmaxRow computes one contiguous row.
func softmaxRow[T Float](d, s []T, log bool) {
	if isF32[T]() {
		if log {
			kernels.LogSoftmaxF32(f32s(d), f32s(s))
		} else {
			kernels.SoftmaxF32(f32s(d), f32s(s))
		}
		return
	}
	d = d[:len(s)]
	m := s[0]
	for _, v := range s[1:] {
		if v > m {
			m = v
		}
	}
	mf := float64(m)
	var sum float64
	if log {
		for _, v := range s {
			sum += expT[T](float64(v) - mf)
		}
		lse := mf + math.Log(sum)
		for i, v := range s {
			d[i] = T(float64(v) - lse)
		}
		return
	}
	for i, v := range s {
		e := expT[T](float64(v) - mf)
		sum += e
		d[i] = T(e)
	}
	inv := T(1 / sum)
	for i := range d {
		d[i] *= inv
	}
}

// softmaxBwd writes the input gradient for upstream g and output y, both
// [k0, n, k1]: y·(g - Σg·y) for softmax, g - exp(y)·Σg for log-softmax.
func softmaxBwd[T Float](dx, g, y []T, k0, n, k1 int, log bool) {
	if n == 0 || k0*k1 == 0 {
		return
	}
	if k1 == 1 {
		parallel.For(k0, rowGrain(n), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				softmaxBwdRow(dx[r*n:(r+1)*n], g[r*n:(r+1)*n], y[r*n:(r+1)*n], log)
			}
		})
		return
	}
	blocks := (k1 + colBlock - 1) / colBlock
	parallel.For(k0*blocks, rowGrain(n*min(k1, colBlock)), func(lo, hi int) {
		var acc [colBlock]float64
		for t := lo; t < hi; t++ {
			i, c0 := t/blocks, (t%blocks)*colBlock
			w := min(c0+colBlock, k1) - c0
			base := i*n*k1 + c0
			a := acc[:w]
			clear(a)
			for j := 0; j < n; j++ {
				off := base + j*k1
				gr, yr := g[off:off+w], y[off:off+w]
				if log {
					for c, v := range gr {
						a[c] += float64(v)
					}
				} else {
					for c, v := range gr {
						a[c] += float64(v) * float64(yr[c])
					}
				}
			}
			for j := 0; j < n; j++ {
				off := base + j*k1
				gr, yr, d := g[off:off+w], y[off:off+w], dx[off:off+w]
				if log {
					for c, v := range gr {
						d[c] = T(float64(v) - expT[T](float64(yr[c]))*a[c])
					}
				} else {
					for c, v := range gr {
						d[c] = T(float64(yr[c]) * (float64(v) - a[c]))
					}
				}
			}
		}
	})
}

func softmaxBwdRow[T Float](d, g, y []T, log bool) {
	if isF32[T]() {
		if log {
			kernels.LogSoftmaxBackwardF32(f32s(d), f32s(y), f32s(g))
		} else {
			kernels.SoftmaxBackwardF32(f32s(d), f32s(y), f32s(g))
		}
		return
	}
	g, y = g[:len(d)], y[:len(d)]
	var s float64
	if log {
		s = sumRow(g)
		for i, v := range g {
			d[i] = T(float64(v) - expT[T](float64(y[i]))*s)
		}
		return
	}
	for i, v := range g {
		s += float64(v) * float64(y[i])
	}
	for i, v := range g {
		d[i] = T(float64(y[i]) * (float64(v) - s))
	}
}

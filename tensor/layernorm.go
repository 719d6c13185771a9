package tensor

import (
	"fmt"
	"github.com/kiln-ml/kiln/internal/kernels"
	"math"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// LayerNorm normalises each row of the last dim to zero mean and unit
// variance (biased, as PyTorch) and applies the affine map:
// out = (x - mean) / sqrt(var + eps) * weight + bias, as
// torch.nn.functional.layer_norm(x, [D], weight, bias, eps).
// x: [..., D], weight: [D] or nil, bias: [D] or nil -> [..., D].
//
// The forward pass saves only each row's mean and 1/std (float64); backward
// recomputes the normalised x from x in the same fused row pass that
// accumulates the weight and bias gradients.
func LayerNorm(x, weight, bias *Tensor, eps float64) *Tensor {
	mustFloat("LayerNorm", x)
	if len(x.shape) == 0 {
		panic("tensor.LayerNorm: needs a tensor of rank >= 1, got a 0-d tensor")
	}
	d := x.shape[len(x.shape)-1]
	for _, p := range []struct {
		name string
		t    *Tensor
	}{{"weight", weight}, {"bias", bias}} {
		if p.t == nil {
			continue
		}
		mustFloat("LayerNorm", x, p.t)
		if len(p.t.shape) != 1 || p.t.shape[0] != d {
			panic(fmt.Sprintf("tensor.LayerNorm: %s shape %v does not match the last dim of input shape %v", p.name, p.t.shape, x.shape))
		}
	}
	if !(eps >= 0) {
		panic(fmt.Sprintf("tensor.LayerNorm: eps %g must be >= 0", eps))
	}
	rows := 0
	if d > 0 {
		rows = x.NumElems() / d
	}
	out := empty(x.dtype, x.shape...)
	mean := make([]float64, rows)
	rstd := make([]float64, rows)
	switch x.dtype {
	case Float32:
		layerNormFwd(floats[float32](out), floats[float32](x), optFloats[float32](weight), optFloats[float32](bias), mean, rstd, d, eps)
	default:
		layerNormFwd(floats[float64](out), floats[float64](x), optFloats[float64](weight), optFloats[float64](bias), mean, rstd, d, eps)
	}
	record(out, "LayerNorm", func(g *Tensor) []*Tensor {
		var gx, gw, gb *Tensor
		if x.requiresGrad {
			gx = empty(x.dtype, x.shape...)
		}
		if weight != nil && weight.requiresGrad {
			gw = empty(x.dtype, d)
		}
		if bias != nil && bias.requiresGrad {
			gb = empty(x.dtype, d)
		}
		switch x.dtype {
		case Float32:
			layerNormBwd(optFloats[float32](gx), optFloats[float32](gw), optFloats[float32](gb),
				floats[float32](g), floats[float32](x), optFloats[float32](weight), mean, rstd, d)
		default:
			layerNormBwd(optFloats[float64](gx), optFloats[float64](gw), optFloats[float64](gb),
				floats[float64](g), floats[float64](x), optFloats[float64](weight), mean, rstd, d)
		}
		return []*Tensor{gx, gw, gb}
	}, x, weight, bias)
	return out
}

// optFloats is floats for a tensor that may be nil (then nil).
func optFloats[T Float](t *Tensor) []T {
	if t == nil {
		return nil
	}
	return floats[T](t)
}

// lnRowGrain splits rows of width d into about two chunks per worker, but
// never fewer than copyGrain elements per chunk.
func lnRowGrain(rows, d int) int {
	return max(1, (rows+2*parallel.Workers()-1)/(2*parallel.Workers()), copyGrain/max(d, 1))
}

// sqDevRow returns Σ (x[i] - mu)² in float64.
func sqDevRow[T Float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	for ; len(x) >= 4; x = x[4:] {
		c0, c1, c2, c3 := float64(x[0])-mu, float64(x[1])-mu, float64(x[2])-mu, float64(x[3])-mu
		s0 += c0 * c0
		s1 += c1 * c1
		s2 += c2 * c2
		s3 += c3 * c3
	}
	for _, v := range x {
		c := float64(v) - mu
		s0 += c * c
	}
	return (s0 + s1) + (s2 + s3)
}

// layerNormFwd normalises rows of width d: two float64 passes over a row
// (mean, then squared deviations: exact even for rows with a large mean)
// while it sits in cache, then one write pass.
func layerNormFwd[T Float](out, x, w, b []T, mean, rstd []float64, d int, eps float64) {
	rows := len(mean)
	parallel.For(rows, lnRowGrain(rows, d), func(lo, hi int) {
		if isF32[T]() {
			// The AVX2 row kernel: same two-pass float64 statistics.
			for r := lo; r < hi; r++ {
				m, rs := kernels.LayerNormF32(f32s(out[r*d:(r+1)*d]), f32s(x[r*d:(r+1)*d]), f32s(w), f32s(b), float32(eps))
				mean[r], rstd[r] = float64(m), float64(rs)
			}
			return
		}
		for r := lo; r < hi; r++ {
			xr := x[r*d : (r+1)*d]
			or := out[r*d:][:len(xr)] // same length as xr: no bounds checks below
			mu := sumRow(xr) / float64(d)
			rs := 1 / math.Sqrt(sqDevRow(xr, mu)/float64(d)+eps)
			mean[r], rstd[r] = mu, rs
			// Centre with mean = m + mlo split into two T values: v - m is
			// exact for v near m (Sterbenz), so rounding the mean to float32
			// costs nothing even for rows with a large mean.
			m := T(mu)
			mlo, s := T(mu-float64(m)), T(rs)
			switch {
			case w != nil && b != nil:
				w, b := w[:len(xr)], b[:len(xr)]
				for i, v := range xr {
					or[i] = (v-m-mlo)*s*w[i] + b[i]
				}
			case w != nil:
				w := w[:len(xr)]
				for i, v := range xr {
					or[i] = (v - m - mlo) * s * w[i]
				}
			case b != nil:
				b := b[:len(xr)]
				for i, v := range xr {
					or[i] = (v-m-mlo)*s + b[i]
				}
			default:
				for i, v := range xr {
					or[i] = (v - m - mlo) * s
				}
			}
		}
	})
}

// layerNormBwd computes, per row with xh = (x-mean)*rstd and gh = g*w,
//
//	dx = rstd * (gh - mean(gh) - xh * mean(gh*xh)),
//	dw = Σ_rows g*xh,  db = Σ_rows g.
//
// One pass over the row gathers both means and the row's share of dw and db
// (into per-chunk float64 partials, summed at the end); a second writes dx.
// gx, gw, gb may each be nil when that gradient is not needed.
func layerNormBwd[T Float](gx, gw, gb, g, x, w []T, mean, rstd []float64, d int) {
	rows := len(mean)
	grain := lnRowGrain(rows, d)
	chunks := 0
	if rows > 0 {
		chunks = (rows + grain - 1) / grain
	}
	var dwp, dbp []float64
	if gw != nil {
		dwp = make([]float64, chunks*d)
	}
	if gb != nil {
		dbp = make([]float64, chunks*d)
	}
	if isF32[T]() {
		layerNormBwd32(f32s(gx), f32s(gw), f32s(gb), f32s(g), f32s(x), f32s(w), mean, rstd, d, grain, chunks)
		return
	}
	parallel.For(rows, grain, func(lo, hi int) {
		c := lo / grain
		var dw, db []float64
		if dwp != nil {
			dw = dwp[c*d : (c+1)*d]
		}
		if dbp != nil {
			db = dbp[c*d : (c+1)*d]
		}
		for r := lo; r < hi; r++ {
			xr, gr := x[r*d:(r+1)*d], g[r*d:(r+1)*d]
			mu, rs := mean[r], rstd[r]
			gr = gr[:len(xr)]
			var sg, sgx float64 // Σ gh, Σ gh*xh
			if w != nil && dw != nil && db != nil {
				// The training case, without branches; two accumulators
				// each so that the sums are not bound by the add latency.
				w, dw, db := w[:len(xr)], dw[:len(xr)], db[:len(xr)]
				var sg1, sgx1 float64
				i := 0
				for ; i+2 <= len(xr); i += 2 {
					xh0 := (float64(xr[i]) - mu) * rs
					xh1 := (float64(xr[i+1]) - mu) * rs
					g0, g1 := float64(gr[i]), float64(gr[i+1])
					gh0, gh1 := g0*float64(w[i]), g1*float64(w[i+1])
					sg += gh0
					sg1 += gh1
					sgx += gh0 * xh0
					sgx1 += gh1 * xh1
					dw[i] += g0 * xh0
					dw[i+1] += g1 * xh1
					db[i] += g0
					db[i+1] += g1
				}
				for ; i < len(xr); i++ {
					xh := (float64(xr[i]) - mu) * rs
					gv := float64(gr[i])
					sg += gv * float64(w[i])
					sgx += gv * float64(w[i]) * xh
					dw[i] += gv * xh
					db[i] += gv
				}
				sg, sgx = sg+sg1, sgx+sgx1
			} else {
				for i, v := range xr {
					xh := (float64(v) - mu) * rs
					gv := float64(gr[i])
					gh := gv
					if w != nil {
						gh *= float64(w[i])
					}
					sg += gh
					sgx += gh * xh
					if dw != nil {
						dw[i] += gv * xh
					}
					if db != nil {
						db[i] += gv
					}
				}
			}
			if gx == nil {
				continue
			}
			a, bb := sg/float64(d), sgx/float64(d)
			dr := gx[r*d : (r+1)*d]
			dr = dr[:len(xr)]
			if w != nil {
				w := w[:len(xr)]
				for i, v := range xr {
					xh := (float64(v) - mu) * rs
					dr[i] = T(rs * (float64(gr[i])*float64(w[i]) - a - xh*bb))
				}
			} else {
				for i, v := range xr {
					xh := (float64(v) - mu) * rs
					dr[i] = T(rs * (float64(gr[i]) - a - xh*bb))
				}
			}
		}
	})
	for _, p := range []struct {
		dst  []T
		part []float64
	}{{gw, dwp}, {gb, dbp}} {
		if p.dst == nil {
			continue
		}
		for i := range p.dst {
			var s float64
			for c := 0; c < chunks; c++ {
				s += p.part[c*d+i]
			}
			p.dst[i] = T(s)
		}
	}
}

// layerNormBwd32 is layerNormBwd on the AVX2 row kernel. Each chunk of rows
// accumulates its dweight/dbias share in float32 (at most a few hundred rows
// per chunk), and the chunks are summed in float64.
func layerNormBwd32(gx, gw, gb, g, x, w []float32, mean, rstd []float64, d, grain, chunks int) {
	rows := len(mean)
	var dwp, dbp []float32
	if gw != nil {
		dwp = make([]float32, chunks*d)
	}
	if gb != nil {
		dbp = make([]float32, chunks*d)
	}
	parallel.For(rows, grain, func(lo, hi int) {
		c := lo / grain
		var dw, db, scratch []float32
		if dwp != nil {
			dw = dwp[c*d : (c+1)*d]
		}
		if dbp != nil {
			db = dbp[c*d : (c+1)*d]
		}
		if gx == nil {
			scratch = make([]float32, d)
		}
		for r := lo; r < hi; r++ {
			dx := scratch
			if gx != nil {
				dx = gx[r*d : (r+1)*d]
			}
			kernels.LayerNormBackwardF32(dx, dw, db, x[r*d:(r+1)*d], w, g[r*d:(r+1)*d], float32(mean[r]), float32(rstd[r]))
		}
	})
	for _, p := range []struct{ dst, part []float32 }{{gw, dwp}, {gb, dbp}} {
		if p.dst == nil {
			continue
		}
		for i := range p.dst {
			var s float64
			for c := 0; c < chunks; c++ {
				s += float64(p.part[c*d+i])
			}
			p.dst[i] = float32(s)
		}
	}
}

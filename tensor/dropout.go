package tensor

import (
	"fmt"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Dropout returns inverted dropout of x: each element is zeroed with
// probability p and the kept ones are scaled by 1/(1-p), so the expected
// value is unchanged. Element i is dropped when rng's uniform value for
// counter base+i is below p, where base is the rng position (the call takes
// NumElems counters), so the mask depends only on the seed and the number of
// values drawn before, never on the thread count. When !training or p == 0
// it returns x itself and draws nothing; p == 1 gives zeros (and a zero
// gradient). Backward multiplies by the same mask, kept as a bitset (one bit
// per element). x: any shape -> same shape.
func Dropout(x *Tensor, p float64, rng *RNG, training bool) *Tensor {
	mustFloat("Dropout", x)
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("tensor.Dropout: p = %v, want 0 <= p <= 1", p))
	}
	if !training || p == 0 {
		return x
	}
	n := x.NumElems()
	if p == 1 {
		out := Zeros(x.dtype, x.shape...)
		record(out, "Dropout", func(g *Tensor) []*Tensor { return []*Tensor{Zeros(g.dtype, g.shape...)} }, x)
		return out
	}
	if rng == nil {
		panic("tensor.Dropout: nil RNG in training mode")
	}
	base := rng.take(n)
	keep := make([]uint64, (n+63)/64) // bit i set: element i kept
	scale := 1 / (1 - p)
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		dropoutFwd(floats[float32](out), floats[float32](x), keep, rng, base, p, float32(scale))
	default:
		dropoutFwd(floats[float64](out), floats[float64](x), keep, rng, base, p, scale)
	}
	record(out, "Dropout", func(g *Tensor) []*Tensor {
		dx := empty(g.dtype, g.shape...)
		switch g.dtype {
		case Float32:
			dropoutApply(floats[float32](dx), floats[float32](g), keep, float32(scale))
		default:
			dropoutApply(floats[float64](dx), floats[float64](g), keep, scale)
		}
		return []*Tensor{dx}
	}, x)
	return out
}

// dropoutGrain is the chunk size in elements: a multiple of 64 so that each
// chunk owns whole words of the bitset.
const dropoutGrain = 1 << 14

// dropoutFwd draws the mask into keep and writes dst = src·mask·scale.
func dropoutFwd[T Float](dst, src []T, keep []uint64, rng *RNG, base uint64, p float64, scale T) {
	dr := rng.dropper(p)
	parallel.For(len(dst), dropoutGrain, func(lo, hi int) {
		for w := lo / 64; w*64 < hi; w++ {
			i0 := w * 64
			i1 := min(i0+64, hi)
			var bits uint64
			d, s := dst[i0:i1], src[i0:i1]
			for j, v := range s {
				if dr.dropped(base + uint64(i0+j)) {
					d[j] = 0
				} else {
					d[j] = v * scale
					bits |= 1 << uint(j)
				}
			}
			keep[w] = bits
		}
	})
}

// dropoutApply writes dst = src·mask·scale for a mask drawn by dropoutFwd.
func dropoutApply[T Float](dst, src []T, keep []uint64, scale T) {
	parallel.For(len(dst), dropoutGrain, func(lo, hi int) {
		for w := lo / 64; w*64 < hi; w++ {
			i0 := w * 64
			i1 := min(i0+64, hi)
			bits := keep[w]
			d, s := dst[i0:i1], src[i0:i1]
			for j, v := range s {
				if bits&(1<<uint(j)) != 0 {
					d[j] = v * scale
				} else {
					d[j] = 0
				}
			}
		}
	})
}

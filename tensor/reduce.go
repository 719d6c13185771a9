package tensor

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Reductions over axes. A reduction over a run of adjacent axes views x as
// [k0, n, k1] (k0: the dims before, n: the reduced dims, k1: the dims after)
// and runs one of two loops: row sums when k1 == 1 (the hot case, a sum over
// the last dims) and column sums over blocks of k1 otherwise. Sums accumulate
// in float64 for both dtypes, so long float32 reductions round only once.

// colBlock is the number of columns a column reduction accumulates at once
// (its float64 accumulator lives on the stack).
const colBlock = 256

// SumAxes returns the sum of x over the given axes (negative counts from the
// end; none means all axes, as torch.sum(x, dim=[])). The reduced dims are
// kept with size 1 when keepDim, dropped otherwise.
// x: [..., d_i, ...] -> same rank with d_i = 1 for reduced axes when keepDim.
func SumAxes(x *Tensor, keepDim bool, axes ...int) *Tensor {
	return reduceSum("SumAxes", x, keepDim, axes, false)
}

// MeanAxes returns the mean of x over the given axes, like SumAxes (a mean
// over zero elements is NaN, as in PyTorch).
func MeanAxes(x *Tensor, keepDim bool, axes ...int) *Tensor {
	return reduceSum("MeanAxes", x, keepDim, axes, true)
}

// reducePlan resolves axes into a per-dim mask and the output shapes with
// and without the reduced dims.
func reducePlan(op string, shape []int, axes []int) (reduced []bool, keepShape, dropShape []int, count int) {
	reduced = make([]bool, len(shape))
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	for _, a := range axes {
		ax := normAxis(op, a, len(shape))
		if reduced[ax] {
			panic(fmt.Sprintf("tensor.%s: axis %d repeated in %v for shape %v", op, a, axes, shape))
		}
		reduced[ax] = true
	}
	count = 1
	for i, d := range shape {
		if reduced[i] {
			keepShape = append(keepShape, 1)
			count *= d
		} else {
			keepShape = append(keepShape, d)
			dropShape = append(dropShape, d)
		}
	}
	if keepShape == nil {
		keepShape = []int{}
	}
	if dropShape == nil {
		dropShape = []int{}
	}
	return reduced, keepShape, dropShape, count
}

func reduceSum(op string, x *Tensor, keepDim bool, axes []int, mean bool) *Tensor {
	mustFloat(op, x)
	reduced, keepShape, dropShape, count := reducePlan(op, x.shape, axes)
	scale := 1.0
	if mean {
		scale = 1 / float64(count)
	}
	outShape := dropShape
	if keepDim {
		outShape = keepShape
	}
	out := empty(x.dtype, outShape...)
	switch x.dtype {
	case Float32:
		sumReduce(floats[float32](out), floats[float32](x), x.shape, reduced, scale)
	default:
		sumReduce(floats[float64](out), floats[float64](x), x.shape, reduced, scale)
	}
	record(out, op, func(g *Tensor) []*Tensor {
		return []*Tensor{expandTo(alias(g, keepShape), x.shape, scale)}
	}, x)
	return out
}

// runs merges the dims of shape into alternating runs of kept and reduced
// dims (dims of size 1 vanish): sizes[i] is a run's element count.
func runs(shape []int, reduced []bool) (sizes []int, red []bool) {
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if n := len(sizes); n > 0 && red[n-1] == reduced[i] {
			sizes[n-1] *= d
			continue
		}
		sizes = append(sizes, d)
		red = append(red, reduced[i])
	}
	return sizes, red
}

// sumReduce writes into dst the sums of src over the reduced dims, times
// scale. One run of reduced dims takes one pass; several runs (say axes 0
// and 2 of a 3-d tensor) reduce one run at a time through float64 buffers.
func sumReduce[D, S Float](dst []D, src []S, shape []int, reduced []bool, scale float64) {
	if shapeSize(shape) == 0 {
		// Empty input: sums are 0, means NaN (0 · 1/0).
		v := D(0 * scale)
		for i := range dst {
			dst[i] = v
		}
		return
	}
	sizes, red := runs(shape, reduced)
	var first = -1
	nred := 0
	for i, r := range red {
		if r {
			nred++
			if first < 0 {
				first = i
			}
		}
	}
	if nred == 0 {
		// Nothing of size > 1 is reduced: a copy (times scale).
		for i, v := range src {
			dst[i] = D(float64(v) * scale)
		}
		return
	}
	if nred == 1 {
		sumKNK(dst, src, shapeSize(sizes[:first]), sizes[first], shapeSize(sizes[first+1:]), scale)
		return
	}
	// Reduce the first run into a float64 buffer, then recurse on it.
	k0, n, k1 := shapeSize(sizes[:first]), sizes[first], shapeSize(sizes[first+1:])
	buf := make([]float64, k0*k1)
	sumKNK(buf, src, k0, n, k1, 1)
	rest := append(append([]int(nil), sizes[:first]...), sizes[first+1:]...)
	restRed := append(append([]bool(nil), red[:first]...), red[first+1:]...)
	sumReduce(dst, buf, rest, restRed, scale)
}

// sumKNK sums src viewed as [k0, n, k1] over n into dst [k0, k1], times
// scale, accumulating in float64.
func sumKNK[D, S Float](dst []D, src []S, k0, n, k1 int, scale float64) {
	if k1 == 1 {
		parallel.For(k0, rowGrain(n), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] = D(sumRow(src[i*n:(i+1)*n]) * scale)
			}
		})
		return
	}
	blocks := (k1 + colBlock - 1) / colBlock
	parallel.For(k0*blocks, rowGrain(n*min(k1, colBlock)), func(lo, hi int) {
		var acc [colBlock]float64
		for t := lo; t < hi; t++ {
			i, c0 := t/blocks, (t%blocks)*colBlock
			c1 := min(c0+colBlock, k1)
			a := acc[:c1-c0]
			clear(a)
			base := i * n * k1
			for j := 0; j < n; j++ {
				row := src[base+j*k1+c0 : base+j*k1+c1]
				for c, v := range row {
					a[c] += float64(v)
				}
			}
			d := dst[i*k1+c0 : i*k1+c1]
			for c, v := range a {
				d[c] = D(v * scale)
			}
		}
	})
}

// sumRow returns the float64 sum of s with four independent accumulators.
func sumRow[S Float](s []S) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// MaxAxis returns the maximum of x along axis and the int64 index where it
// occurs (the first one on ties; NaN counts as the maximum, as torch.max(x,
// dim)). The gradient goes to that index only. The reduced dim is kept with
// size 1 when keepDim. x: [..., n, ...] -> values and indices [..., (1), ...].
func MaxAxis(x *Tensor, axis int, keepDim bool) (values, indices *Tensor) {
	return extremeAxis("MaxAxis", x, axis, keepDim, true)
}

// MinAxis is MaxAxis for the minimum.
func MinAxis(x *Tensor, axis int, keepDim bool) (values, indices *Tensor) {
	return extremeAxis("MinAxis", x, axis, keepDim, false)
}

// ArgMax returns the int64 index of the maximum of x along axis (the first
// on ties; NaN counts as the maximum), without gradient.
// x: [..., n, ...] -> [..., ...] (axis dropped).
func ArgMax(x *Tensor, axis int) *Tensor {
	var idx *Tensor
	NoGrad(func() { _, idx = extremeAxis("ArgMax", x, axis, false, true) })
	return idx
}

func extremeAxis(op string, x *Tensor, axis int, keepDim, isMax bool) (values, indices *Tensor) {
	mustFloat(op, x)
	axis = normAxis(op, axis, x.Rank())
	k0, n, k1 := splitAxis(x.shape, axis)
	if n == 0 {
		panic(fmt.Sprintf("tensor.%s: axis %d of shape %v is empty", op, axis, x.shape))
	}
	shape := append([]int(nil), x.shape...)
	if keepDim {
		shape[axis] = 1
	} else {
		shape = append(shape[:axis], shape[axis+1:]...)
	}
	values = empty(x.dtype, shape...)
	indices = empty(Int64, shape...)
	switch x.dtype {
	case Float32:
		extremeKNK(floats[float32](values), indices.I64(), floats[float32](x), k0, n, k1, isMax)
	default:
		extremeKNK(floats[float64](values), indices.I64(), floats[float64](x), k0, n, k1, isMax)
	}
	idx := indices.I64()
	record(values, op, func(g *Tensor) []*Tensor {
		dx := Zeros(g.dtype, x.shape...)
		switch g.dtype {
		case Float32:
			scatterKNK(floats[float32](dx), floats[float32](g), idx, n, k1)
		default:
			scatterKNK(floats[float64](dx), floats[float64](g), idx, n, k1)
		}
		return []*Tensor{dx}
	}, x)
	return values, indices
}

// better reports whether v beats the current best: larger (smaller for
// min), or the first NaN.
func better[T Float](v, best T, isMax bool) bool {
	if v != v {
		return best == best
	}
	if isMax {
		return v > best
	}
	return v < best
}

// extremeKNK finds the max (or min) of src viewed as [k0, n, k1] over n.
func extremeKNK[T Float](val []T, idx []int64, src []T, k0, n, k1 int, isMax bool) {
	if k1 == 1 {
		parallel.For(k0, rowGrain(n), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := src[i*n : (i+1)*n]
				best, at := row[0], 0
				for j, v := range row {
					if better(v, best, isMax) {
						best, at = v, j
					}
				}
				val[i], idx[i] = best, int64(at)
			}
		})
		return
	}
	parallel.For(k0, rowGrain(n*k1), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			bv, bi := val[i*k1:(i+1)*k1], idx[i*k1:(i+1)*k1]
			copy(bv, src[i*n*k1:])
			clear(bi)
			for j := 1; j < n; j++ {
				row := src[(i*n+j)*k1 : (i*n+j+1)*k1]
				for c, v := range row {
					if better(v, bv[c], isMax) {
						bv[c], bi[c] = v, int64(j)
					}
				}
			}
		}
	})
}

// scatterKNK adds g [k0, k1] into dx [k0, n, k1] at the indices along n.
func scatterKNK[T Float](dx, g []T, idx []int64, n, k1 int) {
	for t, v := range g {
		i, c := t/k1, t%k1
		dx[(i*n+int(idx[t]))*k1+c] += v
	}
}

// Max returns the largest element of x as a 0-d tensor (NaN if any element
// is NaN). As in PyTorch, the gradient is split evenly between all elements
// equal to the maximum.
func Max(x *Tensor) *Tensor { return extremeAll("Max", x, true) }

// Min returns the smallest element of x as a 0-d tensor, like Max.
func Min(x *Tensor) *Tensor { return extremeAll("Min", x, false) }

func extremeAll(op string, x *Tensor, isMax bool) *Tensor {
	mustFloat(op, x)
	if x.NumElems() == 0 {
		panic(fmt.Sprintf("tensor.%s: empty tensor of shape %v", op, x.shape))
	}
	var m float64
	switch x.dtype {
	case Float32:
		m = float64(extremeFlat(floats[float32](x), isMax))
	default:
		m = extremeFlat(floats[float64](x), isMax)
	}
	out := Scalar(x.dtype, m)
	record(out, op, func(g *Tensor) []*Tensor {
		gv := g.Item()
		xs := x.Float64s()
		hit := func(v float64) bool { return v == m || math.IsNaN(m) && math.IsNaN(v) }
		count := 0
		for _, v := range xs {
			if hit(v) {
				count++
			}
		}
		share := gv / float64(count)
		d := make([]float64, len(xs))
		for i, v := range xs {
			if hit(v) {
				d[i] = share
			}
		}
		return []*Tensor{To(FromFloat64(d, x.shape...), x.dtype)}
	}, x)
	return out
}

func extremeFlat[T Float](s []T, isMax bool) T {
	best := s[0]
	for _, v := range s {
		if better(v, best, isMax) {
			best = v
		}
	}
	return best
}

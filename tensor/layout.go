package tensor

import "github.com/kiln-ml/kiln/internal/parallel"

// Index helpers shared by the reductions, Where, MaskedFill and the
// comparisons. They turn an n-d broadcast or a reduction over some axes into
// loops over contiguous rows, so kernels never decompose a flat index per
// element.

// bcastLayout reads several operands as one broadcast output shape. Dims of
// size 1 are dropped and adjacent dims that every operand walks contiguously
// (or broadcasts) are merged, so the last merged dim is
// as long as possible; a kernel then loops over rows of that last dim, each
// operand advancing by its stride (0 or 1) within a row.
type bcastLayout struct {
	shape   []int   // merged output shape, rank >= 1
	strides [][]int // per operand, element strides over shape (0 = broadcast)
	inner   int     // shape[last], the row length
	rows    int     // number of rows
}

// newBcastLayout builds the layout of operands of shapes ins, each
// broadcastable to out (the caller has checked that).
func newBcastLayout(out []int, ins ...[]int) *bcastLayout {
	var shape []int
	strides := make([][]int, len(ins))
	full := make([][]int, len(ins))
	for k, in := range ins {
		full[k] = broadcastStrides(in, out)
	}
	for d, n := range out {
		if n == 1 {
			continue
		}
		merge := len(shape) > 0
		if merge {
			last := len(shape) - 1
			for k := range ins {
				if strides[k][last] != full[k][d]*n {
					merge = false
					break
				}
			}
		}
		if merge {
			last := len(shape) - 1
			shape[last] *= n
			for k := range ins {
				strides[k][last] = full[k][d]
			}
			continue
		}
		shape = append(shape, n)
		for k := range ins {
			strides[k] = append(strides[k], full[k][d])
		}
	}
	if len(shape) == 0 || shapeSize(out) == 0 {
		// A scalar-like broadcast, or an empty output (zero rows).
		shape = []int{shapeSize(out)}
		for k := range ins {
			strides[k] = []int{0}
			if shapeSize(ins[k]) > 1 {
				strides[k][0] = 1
			}
		}
	}
	l := &bcastLayout{shape: shape, strides: strides, inner: shape[len(shape)-1]}
	if l.inner > 0 {
		l.rows = shapeSize(out) / l.inner
	}
	return l
}

// offsets writes into offs the offset of each operand's first element of
// row r.
func (l *bcastLayout) offsets(r int, offs []int) {
	clear(offs)
	for d := len(l.shape) - 2; d >= 0; d-- {
		i := r % l.shape[d]
		r /= l.shape[d]
		for k, st := range l.strides {
			offs[k] += i * st[d]
		}
	}
}

// parallelRows calls fn for every row with the operands' offsets, splitting
// the rows over the worker pool in chunks of about 16K elements.
func parallelRows(l *bcastLayout, fn func(r int, offs []int)) {
	parallel.For(l.rows, rowGrain(l.inner), func(lo, hi int) {
		offs := make([]int, len(l.strides))
		for r := lo; r < hi; r++ {
			l.offsets(r, offs)
			fn(r, offs)
		}
	})
}

// rowStride returns operand k's stride within a row (0 or 1).
func (l *bcastLayout) rowStride(k int) int { return l.strides[k][len(l.shape)-1] }

// rowGrain returns a parallel.For grain (in rows) of about 16K elements.
func rowGrain(inner int) int { return max(1, (1<<14)/max(inner, 1)) }

// splitAxis views shape as [k0, n, k1] around axis: k0 is the product of the
// dims before it, k1 of the dims after.
func splitAxis(shape []int, axis int) (k0, n, k1 int) {
	return shapeSize(shape[:axis]), shape[axis], shapeSize(shape[axis+1:])
}

// expandTo broadcasts g (a shape broadcastable to shape) to shape, times
// scale: the backward of a reduction.
func expandTo(g *Tensor, shape []int, scale float64) *Tensor {
	out := empty(g.dtype, shape...)
	switch g.dtype {
	case Float32:
		expandKernel(floats[float32](out), floats[float32](g), g.shape, shape, float32(scale))
	default:
		expandKernel(floats[float64](out), floats[float64](g), g.shape, shape, scale)
	}
	return out
}

func expandKernel[T Float](dst, src []T, sshape, shape []int, scale T) {
	l := newBcastLayout(shape, shape, sshape)
	inner := l.inner
	is := l.rowStride(1)
	parallelRows(l, func(r int, offs []int) {
		d := dst[r*inner : (r+1)*inner]
		if is == 1 {
			s := src[offs[1] : offs[1]+inner]
			if scale == 1 {
				copy(d, s)
				return
			}
			for i, v := range s {
				d[i] = v * scale
			}
			return
		}
		v := src[offs[1]] * scale
		for i := range d {
			d[i] = v
		}
	})
}

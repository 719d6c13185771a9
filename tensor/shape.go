package tensor

import (
	"fmt"
	"slices"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Layout ops: Reshape, Squeeze, Unsqueeze and Flatten return views that share
// the input's storage (the data is contiguous row-major either way); Permute,
// Transpose and Expand copy into a new contiguous tensor. All of them work for
// every dtype; only float tensors carry gradients.

// anyElem is the set of storage element types.
type anyElem interface {
	float32 | float64 | int64 | bool
}

// copyGrain is the smallest chunk of elements worth handing to a worker.
const copyGrain = 1 << 14

// Reshape returns a view of x with the given shape, which must have as many
// elements as x; one dim may be -1 and is then inferred. x: any shape ->
// shape. The view shares x's storage; the gradient is reshaped back.
func Reshape(x *Tensor, shape ...int) *Tensor {
	x.live()
	s := inferShape("Reshape", x.shape, shape)
	out := alias(x, s)
	record(out, "Reshape", func(g *Tensor) []*Tensor { return []*Tensor{alias(g, x.shape)} }, x)
	return out
}

// inferShape resolves a single -1 in shape against the element count of from.
func inferShape(op string, from, shape []int) []int {
	n := shapeSize(from)
	s := slices.Clone(shape)
	if s == nil {
		s = []int{}
	}
	infer, known := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == -1:
			panic(fmt.Sprintf("tensor.%s: shape %v has more than one -1", op, shape))
		case d < 0:
			panic(fmt.Sprintf("tensor.%s: negative dimension %d in shape %v", op, d, shape))
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor.%s: cannot reshape %v (%d elements) into %v", op, from, n, shape))
		}
		s[infer] = n / known
		known = n
	}
	if known != n {
		panic(fmt.Sprintf("tensor.%s: cannot reshape %v (%d elements) into %v", op, from, n, shape))
	}
	return s
}

// Squeeze removes dim axis (negative counts from the end) when its size is 1
// and otherwise returns a view of the same shape, as torch.squeeze(x, dim).
// x: [..., 1, ...] -> [..., ...]; a view.
func Squeeze(x *Tensor, axis int) *Tensor {
	a := normAxis("Squeeze", axis, len(x.shape))
	s := slices.Clone(x.shape)
	if s[a] == 1 {
		s = slices.Delete(s, a, a+1)
	}
	return Reshape(x, s...)
}

// Unsqueeze inserts a dim of size 1 at position axis in [-(rank+1), rank]
// (negative counts from the end of the result, as torch.unsqueeze). A view.
func Unsqueeze(x *Tensor, axis int) *Tensor {
	a := normAxis("Unsqueeze", axis, len(x.shape)+1)
	s := slices.Insert(slices.Clone(x.shape), a, 1)
	return Reshape(x, s...)
}

// Flatten merges dims startAxis..endAxis (inclusive; negative counts from the
// end) into one, as torch.flatten. x: [a, b, c, d], Flatten(x, 1, 2) ->
// [a, b*c, d]. A view. A 0-d tensor becomes [1].
func Flatten(x *Tensor, startAxis, endAxis int) *Tensor {
	if len(x.shape) == 0 {
		return Reshape(x, 1)
	}
	s := normAxis("Flatten", startAxis, len(x.shape))
	e := normAxis("Flatten", endAxis, len(x.shape))
	if s > e {
		panic(fmt.Sprintf("tensor.Flatten: start axis %d comes after end axis %d for shape %v", startAxis, endAxis, x.shape))
	}
	shape := slices.Concat(x.shape[:s], []int{shapeSize(x.shape[s : e+1])}, x.shape[e+1:])
	return Reshape(x, shape...)
}

// Transpose swaps dims a0 and a1 (negative counts from the end) and returns a
// contiguous copy. x: [..., m, ..., n, ...] -> [..., n, ..., m, ...].
// Note that MatMulT reads transposed operands without any copy.
func Transpose(x *Tensor, a0, a1 int) *Tensor {
	r := len(x.shape)
	a0, a1 = normAxis("Transpose", a0, r), normAxis("Transpose", a1, r)
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[a0], perm[a1] = a1, a0
	return Permute(x, perm...)
}

// Permute returns a contiguous copy of x with its dims reordered: dim i of
// the result is dim perm[i] of x (negative entries count from the end), as
// torch.permute. x: [B, T, H, D], Permute(x, 0, 2, 1, 3) -> [B, H, T, D].
func Permute(x *Tensor, perm ...int) *Tensor {
	x.live()
	r := len(x.shape)
	if len(perm) != r {
		panic(fmt.Sprintf("tensor.Permute: permutation %v has %d entries for shape %v of rank %d", perm, len(perm), x.shape, r))
	}
	p := make([]int, r)
	seen := make([]bool, r)
	for i, a := range perm {
		if a < -r || a >= r {
			panic(fmt.Sprintf("tensor.Permute: axis %d out of range in permutation %v for shape %v", a, perm, x.shape))
		}
		a = normAxis("Permute", a, r)
		if seen[a] {
			panic(fmt.Sprintf("tensor.Permute: %v is not a permutation (axis %d repeats) for shape %v", perm, a, x.shape))
		}
		seen[a] = true
		p[i] = a
	}
	in := contiguousStrides(x.shape)
	shape := make([]int, r)
	st := make([]int, r)
	for i, a := range p {
		shape[i] = x.shape[a]
		st[i] = in[a]
	}
	out := empty(x.dtype, shape...)
	stridedCopy(out, x, 0, shape, st)
	record(out, "Permute", func(g *Tensor) []*Tensor {
		inv := make([]int, r)
		for i, a := range p {
			inv[a] = i
		}
		return []*Tensor{Permute(g, inv...)}
	}, x)
	return out
}

// Expand returns x broadcast to shape, copied into a new contiguous tensor, as
// torch.Tensor.expand: dims of size 1 stretch, new dims may be added on the
// left, and -1 keeps x's size. x: [1, T, D], Expand(x, B, -1, -1) -> [B, T, D].
// The gradient sums over the stretched dims.
func Expand(x *Tensor, shape ...int) *Tensor {
	x.live()
	r := len(shape)
	if r < len(x.shape) {
		panic(fmt.Sprintf("tensor.Expand: cannot expand shape %v to fewer dims %v", x.shape, shape))
	}
	s := slices.Clone(shape)
	for i := range s {
		j := i - (r - len(x.shape))
		switch {
		case s[i] == -1 && j >= 0:
			s[i] = x.shape[j]
		case s[i] < 0:
			panic(fmt.Sprintf("tensor.Expand: invalid size %d at dim %d of %v for input shape %v", s[i], i, shape, x.shape))
		case j >= 0 && x.shape[j] != 1 && x.shape[j] != s[i]:
			panic(fmt.Sprintf("tensor.Expand: shape %v cannot expand to %v (dim %d: %d vs %d)", x.shape, shape, i, x.shape[j], s[i]))
		}
	}
	out := empty(x.dtype, s...)
	stridedCopy(out, x, 0, s, broadcastStrides(x.shape, s))
	record(out, "Expand", func(g *Tensor) []*Tensor { return []*Tensor{sumTo(g, x.shape)} }, x)
	return out
}

// BroadcastTo is Expand under NumPy's name.
func BroadcastTo(x *Tensor, shape ...int) *Tensor { return Expand(x, shape...) }

// contiguousStrides returns the row-major element strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// stridedCopy fills out (contiguous, shape) from src read at element offset
// base + Σ idx[i]*st[i]. Strides may be 0 (broadcast) or any permutation of
// src's strides.
func stridedCopy(out, src *Tensor, base int, shape, st []int) {
	shape, st = simplifyStrided(shape, st)
	switch d := out.data.(type) {
	case []float32:
		stridedKernel(d, src.data.([]float32), base, shape, st)
	case []float64:
		stridedKernel(d, src.data.([]float64), base, shape, st)
	case []int64:
		stridedKernel(d, src.data.([]int64), base, shape, st)
	case []bool:
		stridedKernel(d, src.data.([]bool), base, shape, st)
	}
}

// simplifyStrided drops dims of size 1 and merges neighbouring dims that the
// strides walk as one (st[i] == st[i+1]*shape[i+1]), so that a permutation
// such as [B,T,H,D] -> [B,H,T,D] becomes a few long contiguous rows, and an
// identity permutation a single row.
func simplifyStrided(shape, st []int) ([]int, []int) {
	var s2, t2 []int
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if n := len(s2); n > 0 && t2[n-1] == st[i]*d {
			s2[n-1] *= d
			t2[n-1] = st[i]
			continue
		}
		s2 = append(s2, d)
		t2 = append(t2, st[i])
	}
	return s2, t2
}

// odometer walks the leading dims of an output shape in row-major order,
// tracking the matching source offset, so that row loops never decompose an
// index per element (only once per chunk, in newOdometer).
type odometer struct {
	dims, st, idx []int
	off           int
}

func newOdometer(dims, st []int, base, start int) *odometer {
	o := &odometer{dims: dims, st: st, idx: make([]int, len(dims)), off: base}
	for d := len(dims) - 1; d >= 0; d-- {
		o.idx[d] = start % dims[d]
		start /= dims[d]
		o.off += o.idx[d] * st[d]
	}
	return o
}

// offsetOf returns the source offset of position k of dims without
// allocating.
func offsetOf(dims, st []int, base, k int) int {
	for d := len(dims) - 1; d >= 0; d-- {
		base += (k % dims[d]) * st[d]
		k /= dims[d]
	}
	return base
}

// next advances to the following position.
func (o *odometer) next() {
	for d := len(o.dims) - 1; d >= 0; d-- {
		o.idx[d]++
		o.off += o.st[d]
		if o.idx[d] < o.dims[d] {
			return
		}
		o.off -= o.idx[d] * o.st[d]
		o.idx[d] = 0
	}
}

// transposeBlock is the tile edge of the blocked 2-D transpose.
const transposeBlock = 32

// stridedKernel is stridedCopy on simplified shape and strides.
func stridedKernel[E anyElem](dst, src []E, base int, shape, st []int) {
	n := len(dst)
	r := len(shape)
	if n == 0 {
		return
	}
	if r == 0 { // one element, or all dims of size 1
		dst[0] = src[base]
		return
	}
	inner, is := shape[r-1], st[r-1]
	switch {
	case is == 1 || is == 0:
		// Rows that are contiguous (or one broadcast value) in src: a copy or
		// a fill per row. This is the attention-layout path.
		rows := n / inner
		outer, ost := shape[:r-1], st[:r-1]
		parallel.For(rows, max(1, copyGrain/inner), func(lo, hi int) {
			o := newOdometer(outer, ost, base, lo)
			for row := lo; row < hi; row++ {
				d := dst[row*inner : (row+1)*inner]
				if is == 1 {
					copy(d, src[o.off:o.off+inner])
				} else {
					v := src[o.off]
					for i := range d {
						d[i] = v
					}
				}
				o.next()
			}
		})
	case r >= 2 && st[r-2] == 1:
		// The two last output dims are a transposed matrix of src (its
		// contiguous dim became the output's second last): blocked copy so
		// that both sides stay in cache. Work items are row blocks of slabs.
		m := shape[r-2]
		slabs := n / (m * inner)
		blocks := (m + transposeBlock - 1) / transposeBlock
		outer, ost := shape[:r-2], st[:r-2]
		grain := max(1, copyGrain/(transposeBlock*inner))
		parallel.For(slabs*blocks, grain, func(lo, hi int) {
			for w := lo; w < hi; w++ {
				slab, blk := w/blocks, w%blocks
				off := offsetOf(outer, ost, base, slab)
				i0, i1 := blk*transposeBlock, min((blk+1)*transposeBlock, m)
				d := dst[slab*m*inner:]
				for j0 := 0; j0 < inner; j0 += transposeBlock {
					j1 := min(j0+transposeBlock, inner)
					i := i0
					// Four output rows at a time: each strided step reads
					// four neighbouring source elements (one cache line).
					for ; i+4 <= i1; i += 4 {
						r0 := d[i*inner+j0 : i*inner+j1]
						r1 := d[(i+1)*inner+j0:][:len(r0)]
						r2 := d[(i+2)*inner+j0:][:len(r0)]
						r3 := d[(i+3)*inner+j0:][:len(r0)]
						s := off + i + j0*is
						for j := range r0 {
							p := src[s : s+4]
							r0[j], r1[j], r2[j], r3[j] = p[0], p[1], p[2], p[3]
							s += is
						}
					}
					for ; i < i1; i++ {
						row := d[i*inner+j0 : i*inner+j1]
						s := off + i + j0*is
						for j := range row {
							row[j] = src[s]
							s += is
						}
					}
				}
			}
		})
	default:
		// General permutation: contiguous writes, strided reads.
		rows := n / inner
		outer, ost := shape[:r-1], st[:r-1]
		parallel.For(rows, max(1, copyGrain/inner), func(lo, hi int) {
			o := newOdometer(outer, ost, base, lo)
			for row := lo; row < hi; row++ {
				d := dst[row*inner : (row+1)*inner]
				s := o.off
				for i := range d {
					d[i] = src[s]
					s += is
				}
				o.next()
			}
		})
	}
}

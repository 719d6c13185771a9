package tensor

import (
	"fmt"
	"slices"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Slicing and indexing: Slice, Concat, Stack, Split, Gather, IndexSelect and
// Embedding. Slice and Concat work for every dtype; the indexing ops take
// int64 indices. Everything moves whole contiguous rows (the dims after the
// indexed axis) with copy where the layout allows.

// Slice returns x[..., start:end, ...] along axis, a copy. Negative axis,
// start and end count from the end and out-of-range bounds clamp, as in
// Python (end <= start gives an empty dim). x: [..., n, ...] ->
// [..., end-start, ...]. The gradient is scattered into zeros.
func Slice(x *Tensor, axis, start, end int) *Tensor {
	x.live()
	a := normAxis("Slice", axis, len(x.shape))
	dim := x.shape[a]
	start, end = clampIndex(start, dim), clampIndex(end, dim)
	end = max(end, start)
	shape := slices.Clone(x.shape)
	shape[a] = end - start
	outer, inner := shapeSize(x.shape[:a]), shapeSize(x.shape[a+1:])
	out := empty(x.dtype, shape...)
	k := (end - start) * inner
	chunkCopy(out, x, outer, k, k, 0, dim*inner, start*inner)
	record(out, "Slice", func(g *Tensor) []*Tensor {
		gx := Zeros(g.dtype, x.shape...)
		chunkCopy(gx, g, outer, k, dim*inner, start*inner, k, 0)
		return []*Tensor{gx}
	}, x)
	return out
}

// clampIndex maps a Python slice bound into [0, n].
func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// chunkCopy copies count chunks of length elements: chunk i goes from
// src[srcOff+i*srcStride:] to dst[dstOff+i*dstStride:] (same dtype).
func chunkCopy(dst, src *Tensor, count, length, dstStride, dstOff, srcStride, srcOff int) {
	if count == 0 || length == 0 {
		return
	}
	switch d := dst.data.(type) {
	case []float32:
		chunkKernel(d, src.data.([]float32), count, length, dstStride, dstOff, srcStride, srcOff)
	case []float64:
		chunkKernel(d, src.data.([]float64), count, length, dstStride, dstOff, srcStride, srcOff)
	case []int64:
		chunkKernel(d, src.data.([]int64), count, length, dstStride, dstOff, srcStride, srcOff)
	case []bool:
		chunkKernel(d, src.data.([]bool), count, length, dstStride, dstOff, srcStride, srcOff)
	}
}

func chunkKernel[E anyElem](dst, src []E, count, length, dstStride, dstOff, srcStride, srcOff int) {
	parallel.For(count, max(1, copyGrain/length), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d, s := dstOff+i*dstStride, srcOff+i*srcStride
			copy(dst[d:d+length], src[s:s+length])
		}
	})
}

// Concat joins tensors of one dtype along axis (negative counts from the
// end); their other dims must match. [..., n1, ...], [..., n2, ...] ->
// [..., n1+n2, ...]. The gradient is split back.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor.Concat: no tensors")
	}
	t0 := ts[0].live()
	r := len(t0.shape)
	if r == 0 {
		panic("tensor.Concat: cannot concatenate 0-d tensors (use Stack)")
	}
	a := normAxis("Concat", axis, r)
	total := 0
	for _, t := range ts {
		t.live()
		if t.dtype != t0.dtype {
			panic(fmt.Sprintf("tensor.Concat: mixed dtypes %v and %v", t0.dtype, t.dtype))
		}
		if len(t.shape) != r {
			panic(fmt.Sprintf("tensor.Concat: shapes %v and %v differ in rank", t0.shape, t.shape))
		}
		for d := range t.shape {
			if d != a && t.shape[d] != t0.shape[d] {
				panic(fmt.Sprintf("tensor.Concat: shapes %v and %v differ in dim %d", t0.shape, t.shape, d))
			}
		}
		total += t.shape[a]
	}
	shape := slices.Clone(t0.shape)
	shape[a] = total
	outer, inner := shapeSize(shape[:a]), shapeSize(shape[a+1:])
	out := empty(t0.dtype, shape...)
	offs := make([]int, len(ts))
	off := 0
	for i, t := range ts {
		offs[i] = off
		k := t.shape[a] * inner
		chunkCopy(out, t, outer, k, total*inner, off*inner, k, 0)
		off += t.shape[a]
	}
	record(out, "Concat", func(g *Tensor) []*Tensor {
		grads := make([]*Tensor, len(ts))
		for i, t := range ts {
			if !t.requiresGrad {
				continue
			}
			gi := empty(g.dtype, t.shape...)
			k := t.shape[a] * inner
			chunkCopy(gi, g, outer, k, k, 0, total*inner, offs[i]*inner)
			grads[i] = gi
		}
		return grads
	}, ts...)
	return out
}

// Stack joins tensors of one shape along a new dim at axis in
// [-(rank+1), rank], as torch.stack. n tensors [A, B] with axis 1 -> [A, n, B].
func Stack(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor.Stack: no tensors")
	}
	a := normAxis("Stack", axis, len(ts[0].shape)+1)
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		if !sameShape(t.shape, ts[0].shape) {
			panic(fmt.Sprintf("tensor.Stack: shapes %v and %v differ", ts[0].shape, t.shape))
		}
		us[i] = Unsqueeze(t, a)
	}
	return Concat(a, us...)
}

// Split cuts x along axis into consecutive pieces of the given sizes, which
// must add up to the dim, as torch.split(x, sizes, dim). Each piece is a
// copy (a Slice), so its gradient flows back independently.
func Split(x *Tensor, axis int, sizes ...int) []*Tensor {
	a := normAxis("Split", axis, len(x.shape))
	sum := 0
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("tensor.Split: negative size in %v", sizes))
		}
		sum += s
	}
	if sum != x.shape[a] {
		panic(fmt.Sprintf("tensor.Split: sizes %v add up to %d, but dim %d of shape %v is %d", sizes, sum, a, x.shape, x.shape[a]))
	}
	out := make([]*Tensor, len(sizes))
	off := 0
	for i, s := range sizes {
		out[i] = Slice(x, a, off, off+s)
		off += s
	}
	return out
}

// mustIndex panics unless t is an int64 tensor.
func mustIndex(op string, t *Tensor) []int64 {
	t.live()
	if t.dtype != Int64 {
		panic(fmt.Sprintf("tensor.%s: index must be int64, got %v of shape %v", op, t.dtype, t.shape))
	}
	return t.data.([]int64)
}

// checkIndices panics unless every index lies in [0, n).
func checkIndices(op, what string, idx []int64, n int) {
	for p, v := range idx {
		if v < 0 || v >= int64(n) {
			panic(fmt.Sprintf("tensor.%s: %s %d (at position %d) out of range for size %d", op, what, v, p, n))
		}
	}
}

// Gather picks values along axis: out[i][j][k] = x[i][index[i][j][k]][k] for
// axis 1, and so on, as torch.gather. index: int64 of x's rank, each dim other
// than axis no larger than x's. x: [..., n, ...], index: [..., m, ...] ->
// index's shape. The gradient scatter-adds into zeros.
func Gather(x *Tensor, axis int, index *Tensor) *Tensor {
	x.live()
	idx := mustIndex("Gather", index)
	r := len(x.shape)
	if r == 0 {
		panic("tensor.Gather: needs a tensor of rank >= 1")
	}
	a := normAxis("Gather", axis, r)
	if len(index.shape) != r {
		panic(fmt.Sprintf("tensor.Gather: index shape %v and input shape %v differ in rank", index.shape, x.shape))
	}
	for d := range x.shape {
		if d != a && index.shape[d] > x.shape[d] {
			panic(fmt.Sprintf("tensor.Gather: index shape %v exceeds input shape %v in dim %d", index.shape, x.shape, d))
		}
	}
	checkIndices("Gather", "index", idx, x.shape[a])
	gp := newGatherPlan(x.shape, index.shape, a)
	out := empty(x.dtype, index.shape...)
	switch d := out.data.(type) {
	case []float32:
		gatherKernel(d, x.data.([]float32), idx, gp)
	case []float64:
		gatherKernel(d, x.data.([]float64), idx, gp)
	case []int64:
		gatherKernel(d, x.data.([]int64), idx, gp)
	case []bool:
		gatherKernel(d, x.data.([]bool), idx, gp)
	}
	record(out, "Gather", func(g *Tensor) []*Tensor {
		gx := Zeros(g.dtype, x.shape...)
		switch g.dtype {
		case Float32:
			scatterAddKernel(floats[float32](gx), floats[float32](g), idx, gp)
		default:
			scatterAddKernel(floats[float64](gx), floats[float64](g), idx, gp)
		}
		return []*Tensor{gx, nil}
	}, x, index)
	return out
}

// gatherPlan walks index (and the output) row by row; the source offset of
// position j in a row is off + j*inStride + index*axisStride.
type gatherPlan struct {
	outer, ost []int // index's leading dims and x's strides for them (0 at axis)
	inner      int   // index's last dim
	inStride   int   // x's stride along the last dim unless it is the axis (then 0)
	axisStride int
}

func newGatherPlan(xshape, ishape []int, a int) gatherPlan {
	r := len(xshape)
	xs := contiguousStrides(xshape)
	ost := slices.Clone(xs[:r-1])
	if a < r-1 {
		ost[a] = 0
	}
	gp := gatherPlan{outer: ishape[:r-1], ost: ost, inner: ishape[r-1], inStride: 1, axisStride: xs[a]}
	if a == r-1 {
		gp.inStride = 0
	}
	return gp
}

func gatherKernel[E anyElem](dst, src []E, idx []int64, gp gatherPlan) {
	if len(dst) == 0 {
		return
	}
	inner := gp.inner
	parallel.For(len(dst)/inner, max(1, copyGrain/inner), func(lo, hi int) {
		o := newOdometer(gp.outer, gp.ost, 0, lo)
		for row := lo; row < hi; row++ {
			d, ix := dst[row*inner:(row+1)*inner], idx[row*inner:(row+1)*inner]
			for j, v := range ix {
				d[j] = src[o.off+j*gp.inStride+int(v)*gp.axisStride]
			}
			o.next()
		}
	})
}

// scatterAddKernel is Gather's adjoint: dst[source offset] += src. It runs
// serially because different positions may hit one destination.
func scatterAddKernel[T Float](dst, src []T, idx []int64, gp gatherPlan) {
	if len(src) == 0 {
		return
	}
	inner := gp.inner
	o := newOdometer(gp.outer, gp.ost, 0, 0)
	for row := 0; row < len(src)/inner; row++ {
		s, ix := src[row*inner:(row+1)*inner], idx[row*inner:(row+1)*inner]
		for j, v := range ix {
			dst[o.off+j*gp.inStride+int(v)*gp.axisStride] += s[j]
		}
		o.next()
	}
}

// IndexSelect picks entries of x along axis by a 1-D int64 index (repeats
// allowed), as torch.index_select. x: [..., n, ...], index: [m] ->
// [..., m, ...]. The gradient index-adds, so repeated indices accumulate.
func IndexSelect(x *Tensor, axis int, index *Tensor) *Tensor {
	x.live()
	idx := mustIndex("IndexSelect", index)
	if len(index.shape) > 1 {
		panic(fmt.Sprintf("tensor.IndexSelect: index must be 1-D, got shape %v", index.shape))
	}
	a := normAxis("IndexSelect", axis, len(x.shape))
	n := x.shape[a]
	checkIndices("IndexSelect", "index", idx, n)
	shape := slices.Clone(x.shape)
	shape[a] = len(idx)
	outer, inner := shapeSize(x.shape[:a]), shapeSize(x.shape[a+1:])
	out := empty(x.dtype, shape...)
	selectRows(out, x, idx, outer, n, inner)
	record(out, "IndexSelect", func(g *Tensor) []*Tensor {
		gx := Zeros(g.dtype, x.shape...)
		indexAdd(gx, g, idx, outer, n, inner, -1)
		return []*Tensor{gx, nil}
	}, x, index)
	return out
}

// Embedding looks up rows of weight: out[..., :] = weight[ids[...], :].
// weight: [V, D] float, ids: int64 [...] -> [..., D]. An id outside [0, V)
// panics (models validate user input first and return errors). The gradient
// is a dense [V, D] tensor in which only the rows of ids used are written
// (scatter-add); the others stay zero.
func Embedding(weight, ids *Tensor) *Tensor { return embedding("Embedding", weight, ids, -1) }

// EmbeddingPadded is Embedding whose row paddingIdx (negative counts from
// the end) receives no gradient, as torch.nn.functional.embedding with
// padding_idx (HF BERT's word embeddings use pad_token_id). The forward
// still returns that row's values.
func EmbeddingPadded(weight, ids *Tensor, paddingIdx int) *Tensor {
	if len(weight.shape) != 2 {
		panic(fmt.Sprintf("tensor.EmbeddingPadded: weight must be [V, D], got shape %v", weight.shape))
	}
	v := weight.shape[0]
	if paddingIdx < -v || paddingIdx >= v {
		panic(fmt.Sprintf("tensor.EmbeddingPadded: padding index %d out of range for vocabulary size %d", paddingIdx, v))
	}
	if paddingIdx < 0 {
		paddingIdx += v
	}
	return embedding("EmbeddingPadded", weight, ids, int64(paddingIdx))
}

// embedding implements Embedding; pad < 0 means no padding row.
func embedding(op string, weight, ids *Tensor, pad int64) *Tensor {
	mustFloat(op, weight)
	idx := mustIndex(op, ids)
	if len(weight.shape) != 2 {
		panic(fmt.Sprintf("tensor.%s: weight must be [V, D], got shape %v", op, weight.shape))
	}
	v, d := weight.shape[0], weight.shape[1]
	for p, id := range idx {
		if id < 0 || id >= int64(v) {
			panic(fmt.Sprintf("tensor.%s: id %d (at position %d) out of range for vocabulary size %d", op, id, p, v))
		}
	}
	out := empty(weight.dtype, append(slices.Clone(ids.shape), d)...)
	selectRows(out, weight, idx, 1, v, d)
	record(out, op, func(g *Tensor) []*Tensor {
		// A dense gradient that is zero except for the used rows. A sparse
		// (row-indexed) gradient would also spare the optimizer and the
		// leaf accumulation their pass over all V rows; that is a later
		// optimisation that needs support in autograd and the optimizers.
		gw := Zeros(g.dtype, v, d)
		indexAdd(gw, g, idx, 1, v, d, pad)
		return []*Tensor{gw, nil}
	}, weight, ids)
	return out
}

// selectRows sets out's rows (o, k) = src's rows (o, idx[k]), where a row is
// inner contiguous elements and src has n rows per outer step.
func selectRows(out, src *Tensor, idx []int64, outer, n, inner int) {
	switch d := out.data.(type) {
	case []float32:
		selectKernel(d, src.data.([]float32), idx, outer, n, inner)
	case []float64:
		selectKernel(d, src.data.([]float64), idx, outer, n, inner)
	case []int64:
		selectKernel(d, src.data.([]int64), idx, outer, n, inner)
	case []bool:
		selectKernel(d, src.data.([]bool), idx, outer, n, inner)
	}
}

func selectKernel[E anyElem](dst, src []E, idx []int64, outer, n, inner int) {
	m := len(idx)
	if inner == 0 || len(dst) == 0 {
		return
	}
	parallel.For(outer*m, max(1, copyGrain/inner), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			o, k := row/m, row%m
			s := (o*n + int(idx[k])) * inner
			copy(dst[row*inner:(row+1)*inner], src[s:s+inner])
		}
	})
}

// indexAdd adds g's rows (o, k) into gx's rows (o, idx[k]), skipping index
// skip (a padding row; -1 for none). gx has n rows per outer step.
func indexAdd(gx, g *Tensor, idx []int64, outer, n, inner int, skip int64) {
	switch g.dtype {
	case Float32:
		indexAddKernel(floats[float32](gx), floats[float32](g), idx, outer, n, inner, skip)
	default:
		indexAddKernel(floats[float64](gx), floats[float64](g), idx, outer, n, inner, skip)
	}
}

// indexAddKernel runs race-free in parallel: over outer steps when there are
// enough of them (each owns its own destination slab), otherwise by giving
// each worker a range of destination rows; every worker then scans all the
// indices and adds only the rows it owns. Either way only the used rows are
// touched.
func indexAddKernel[T Float](dst, src []T, idx []int64, outer, n, inner int, skip int64) {
	m := len(idx)
	if inner == 0 || m == 0 || outer == 0 {
		return
	}
	addRows := func(o int, lo, hi int64) {
		for k, v := range idx {
			if v < lo || v >= hi || v == skip {
				continue
			}
			d := dst[(o*n+int(v))*inner:][:inner]
			s := src[(o*m+k)*inner:][:len(d)]
			for i := range d {
				d[i] += s[i]
			}
		}
	}
	work := outer * m * inner
	w := parallel.Workers()
	switch {
	case work < 2*copyGrain || w == 1:
		for o := 0; o < outer; o++ {
			addRows(o, 0, int64(n))
		}
	case outer >= 2*w:
		parallel.For(outer, max(1, copyGrain/(m*inner)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				addRows(o, 0, int64(n))
			}
		})
	default:
		parallel.For(n, (n+w-1)/w, func(lo, hi int) {
			for o := 0; o < outer; o++ {
				addRows(o, int64(lo), int64(hi))
			}
		})
	}
}

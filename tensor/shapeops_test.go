package tensor

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// PyTorch references and finite-difference checks for the layout, slicing
// and indexing ops and LayerNorm (testdata/ref_shape.json, made by
// tools/torchref/ops_shape.py), plus tests of the parallel and blocked paths
// at sizes too big for the JSON.

func init() {
	refOps["reshape"] = func(in []*Tensor, a attrs) *Tensor { return Reshape(in[0], a.ints("shape")...) }
	refOps["squeeze"] = func(in []*Tensor, a attrs) *Tensor { return Squeeze(in[0], a.int("axis")) }
	refOps["unsqueeze"] = func(in []*Tensor, a attrs) *Tensor { return Unsqueeze(in[0], a.int("axis")) }
	refOps["flatten"] = func(in []*Tensor, a attrs) *Tensor { return Flatten(in[0], a.int("start"), a.int("end")) }
	refOps["permute"] = func(in []*Tensor, a attrs) *Tensor { return Permute(in[0], a.ints("perm")...) }
	refOps["transpose"] = func(in []*Tensor, a attrs) *Tensor { return Transpose(in[0], a.int("a0"), a.int("a1")) }
	refOps["expand"] = func(in []*Tensor, a attrs) *Tensor { return Expand(in[0], a.ints("shape")...) }
	refOps["slice"] = func(in []*Tensor, a attrs) *Tensor {
		return Slice(in[0], a.int("axis"), a.int("start"), a.int("end"))
	}
	refOps["concat"] = func(in []*Tensor, a attrs) *Tensor { return Concat(a.int("axis"), in...) }
	refOps["stack"] = func(in []*Tensor, a attrs) *Tensor { return Stack(a.int("axis"), in...) }
	refOps["split"] = func(in []*Tensor, a attrs) *Tensor {
		return Split(in[0], a.int("axis"), a.ints("sizes")...)[a.int("piece")]
	}
	refOps["gather"] = func(in []*Tensor, a attrs) *Tensor { return Gather(in[0], a.int("axis"), in[1]) }
	refOps["index_select"] = func(in []*Tensor, a attrs) *Tensor { return IndexSelect(in[0], a.int("axis"), in[1]) }
	refOps["embedding"] = func(in []*Tensor, a attrs) *Tensor {
		if a.has("padding_idx") {
			return EmbeddingPadded(in[0], in[1], a.int("padding_idx"))
		}
		return Embedding(in[0], in[1])
	}
	refOps["layer_norm"] = func(in []*Tensor, a attrs) *Tensor {
		if a.bool("affine") {
			return LayerNorm(in[0], in[1], in[2], a.float("eps"))
		}
		return LayerNorm(in[0], nil, nil, a.float("eps"))
	}

	// one builds a case of a single float64 input of the given shape.
	one := func(fn func(x *Tensor) *Tensor, shape ...int) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, shape...)}, fn: func(in []*Tensor) *Tensor { return fn(in[0]) }}
		}
	}
	type cases = []func(r *rand.Rand) gradCase
	gradChecks["reshape"] = cases{
		one(func(x *Tensor) *Tensor { return Reshape(x, 4, -1) }, 2, 3, 2),
		// A view feeding an op that reads it: the gradient must reach x.
		one(func(x *Tensor) *Tensor { return Mul(Reshape(x, 6), Reshape(x, 6)) }, 2, 3),
	}
	gradChecks["squeeze"] = cases{one(func(x *Tensor) *Tensor { return Squeeze(x, -2) }, 3, 1, 2)}
	gradChecks["unsqueeze"] = cases{one(func(x *Tensor) *Tensor { return Unsqueeze(x, 0) }, 3, 2)}
	gradChecks["flatten"] = cases{one(func(x *Tensor) *Tensor { return Flatten(x, 1, -1) }, 2, 3, 2)}
	gradChecks["permute"] = cases{
		one(func(x *Tensor) *Tensor { return Permute(x, 0, 2, 1, 3) }, 2, 3, 2, 2),
		one(func(x *Tensor) *Tensor { return Permute(x, 2, 0, 1) }, 3, 2, 4),
		one(func(x *Tensor) *Tensor { return Permute(x, 1, 2, 0) }, 3, 2, 4),
	}
	gradChecks["transpose"] = cases{
		one(func(x *Tensor) *Tensor { return Transpose(x, -1, -2) }, 2, 3, 4),
		one(func(x *Tensor) *Tensor { return Transpose(x, 0, 2) }, 2, 3, 4),
	}
	gradChecks["expand"] = cases{
		one(func(x *Tensor) *Tensor { return Expand(x, 2, 3, 4) }, 3, 1),
		one(func(x *Tensor) *Tensor { return Expand(x, 3, -1, 2) }, 1, 2, 1),
		one(func(x *Tensor) *Tensor { return BroadcastTo(x, 2, 2) }),
	}
	gradChecks["slice"] = cases{
		one(func(x *Tensor) *Tensor { return Slice(x, 1, 1, 3) }, 2, 4, 3),
		one(func(x *Tensor) *Tensor { return Slice(x, -1, -2, 10) }, 2, 4, 3),
		one(func(x *Tensor) *Tensor { return Slice(x, 0, 1, 2) }, 3, 2),
	}
	multi := func(fn func(in []*Tensor) *Tensor, shapes ...[]int) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			var in []*Tensor
			for _, s := range shapes {
				in = append(in, randT64(r, s...))
			}
			return gradCase{inputs: in, fn: fn}
		}
	}
	gradChecks["concat"] = cases{
		multi(func(in []*Tensor) *Tensor { return Concat(1, in...) }, []int{2, 1, 3}, []int{2, 3, 3}, []int{2, 2, 3}),
		multi(func(in []*Tensor) *Tensor { return Concat(-1, in...) }, []int{3, 2}, []int{3, 1}),
		// The same tensor twice: both gradients must accumulate.
		multi(func(in []*Tensor) *Tensor { return Concat(0, in[0], in[0]) }, []int{2, 2}),
	}
	gradChecks["stack"] = cases{
		multi(func(in []*Tensor) *Tensor { return Stack(1, in...) }, []int{2, 3}, []int{2, 3}),
		multi(func(in []*Tensor) *Tensor { return Stack(-1, in...) }, []int{2, 3}, []int{2, 3}, []int{2, 3}),
	}
	gradChecks["split"] = cases{
		// Every piece, weighted differently, so each one's gradient counts.
		one(func(x *Tensor) *Tensor {
			p := Split(x, 1, 1, 3, 2)
			return Concat(1, p[0], MulScalar(p[1], 2), MulScalar(p[2], -3))
		}, 2, 6, 2),
	}
	gradChecks["gather"] = []func(r *rand.Rand) gradCase{
		gatherCase([]int{3, 4, 5}, 1, []int{3, 6, 5}),
		gatherCase([]int{3, 4, 5}, -1, []int{2, 3, 7}),
		gatherCase([]int{3, 4}, 0, []int{5, 4}),
	}
	gradChecks["index_select"] = []func(r *rand.Rand) gradCase{
		indexCase(func(x, i *Tensor) *Tensor { return IndexSelect(x, 1, i) }, []int{2, 4, 3}, 4, []int64{3, 0, 3, 3, 1}),
		indexCase(func(x, i *Tensor) *Tensor { return IndexSelect(x, 0, i) }, []int{3, 2}, 3, []int64{2, 2}),
	}
	gradChecks["embedding"] = []func(r *rand.Rand) gradCase{
		indexCase(Embedding, []int{6, 3}, 6, []int64{1, 4, 1, 0, 5, 1}),
		// The padding row gets no gradient although the output depends on
		// it; masking the outputs that read it makes the numeric gradient
		// agree (zero for that row), so the check covers the other rows and
		// the zero.
		indexCase(func(w, i *Tensor) *Tensor {
			mask := FromFloat64([]float64{0, 1, 0, 1, 1, 0}, 6, 1)
			return Mul(EmbeddingPadded(w, i, 1), mask)
		}, []int{6, 3}, 6, []int64{1, 4, 1, 0, 5, 1}),
	}
	lnCase := func(shape []int, affine bool, eps float64, scale float64) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			d := shape[len(shape)-1]
			x := MulScalar(randT64(r, shape...), scale)
			if !affine {
				return gradCase{inputs: []*Tensor{x}, fn: func(in []*Tensor) *Tensor { return LayerNorm(in[0], nil, nil, eps) }}
			}
			return gradCase{inputs: []*Tensor{x, posT64(r, 0.5, d), randT64(r, d)},
				fn: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], eps) }}
		}
	}
	gradChecks["layer_norm"] = cases{
		lnCase([]int{3, 5}, true, 1e-5, 1),
		lnCase([]int{2, 2, 8}, true, 1e-12, 2),
		lnCase([]int{4, 6}, false, 1e-5, 1),
		lnCase([]int{7}, true, 1e-5, 0.5),
		// Gradient only for weight and bias.
		func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, 5, 4), randT64(r, 4), randT64(r, 4)}, noGrad: map[int]bool{0: true},
				fn: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) }}
		},
		// Only weight (no bias).
		func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, 3, 4), randT64(r, 4)},
				fn: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], nil, 1e-5) }}
		},
	}
}

// gatherCase builds a Gather check with random in-range indices.
func gatherCase(xshape []int, axis int, ishape []int) func(r *rand.Rand) gradCase {
	return func(r *rand.Rand) gradCase {
		n := xshape[normAxis("gatherCase", axis, len(xshape))]
		idx := make([]int64, shapeSize(ishape))
		for i := range idx {
			idx[i] = int64(r.IntN(n))
		}
		return gradCase{inputs: []*Tensor{randT64(r, xshape...), FromInt64(idx, ishape...)}, noGrad: map[int]bool{1: true},
			fn: func(in []*Tensor) *Tensor { return Gather(in[0], axis, in[1]) }}
	}
}

// indexCase builds a check of op(x, index) with a fixed 1-D index.
func indexCase(op func(x, i *Tensor) *Tensor, xshape []int, _ int, idx []int64) func(r *rand.Rand) gradCase {
	return func(r *rand.Rand) gradCase {
		return gradCase{inputs: []*Tensor{randT64(r, xshape...), FromInt64(idx)}, noGrad: map[int]bool{1: true},
			fn: func(in []*Tensor) *Tensor { return op(in[0], in[1]) }}
	}
}

// naivePermute is the per-element reference for Permute.
func naivePermute(x []float32, shape, perm []int) []float32 {
	r := len(shape)
	in := contiguousStrides(shape)
	oshape := make([]int, r)
	for i, p := range perm {
		oshape[i] = shape[p]
	}
	out := make([]float32, len(x))
	idx := make([]int, r)
	for k := range out {
		rem, off := k, 0
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % oshape[d]
			rem /= oshape[d]
			off += idx[d] * in[perm[d]]
		}
		out[k] = x[off]
	}
	return out
}

func seqF32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

// TestPermuteLargeMatchesNaive covers every kernel path (row copies, blocked
// transpose with partial tiles, general strided) at sizes that split work
// across workers.
func TestPermuteLargeMatchesNaive(t *testing.T) {
	for _, c := range []struct {
		shape, perm []int
	}{
		{[]int{4, 37, 3, 20}, []int{0, 2, 1, 3}}, // attention layout
		{[]int{4, 3, 37, 20}, []int{0, 2, 1, 3}}, // and back
		{[]int{3, 67, 45}, []int{0, 2, 1}},       // blocked transpose
		{[]int{300, 170}, []int{1, 0}},           // single big matrix
		{[]int{5, 40, 33, 3}, []int{3, 1, 2, 0}}, // general
		{[]int{6, 1, 50, 70}, []int{3, 1, 0, 2}}, // size-1 dim
		{[]int{2, 3, 4, 5, 6}, []int{4, 0, 3, 1, 2}},
	} {
		n := shapeSize(c.shape)
		x := FromFloat32(seqF32(n), c.shape...)
		got := Permute(x, c.perm...).Float32s()
		want := naivePermute(seqF32(n), c.shape, c.perm)
		if !slices.Equal(got, want) {
			t.Errorf("Permute %v by %v differs from the naive copy", c.shape, c.perm)
		}
	}
	// Int64 and bool go through the same kernels.
	xi := FromInt64([]int64{1, 2, 3, 4, 5, 6}, 2, 3)
	if got := Transpose(xi, 0, 1).Int64s(); !slices.Equal(got, []int64{1, 4, 2, 5, 3, 6}) {
		t.Errorf("int64 transpose %v", got)
	}
	xb := FromBool([]bool{true, false, false, true, true, false}, 3, 2)
	if got := Transpose(xb, 0, 1).Bools(); !slices.Equal(got, []bool{true, false, true, false, true, false}) {
		t.Errorf("bool transpose %v", got)
	}
}

func TestExpandLarge(t *testing.T) {
	x := FromFloat32(seqF32(64*30), 1, 64, 30).SetRequiresGrad(true)
	y := Expand(x, 40, -1, -1)
	got := y.Float32s()
	for b := 0; b < 40; b++ {
		if !slices.Equal(got[b*1920:(b+1)*1920], seqF32(1920)) {
			t.Fatalf("batch %d differs", b)
		}
	}
	Sum(y).Backward()
	for _, v := range x.Grad().Float32s() {
		if v != 40 {
			t.Fatalf("grad %v, want 40", v)
		}
	}
}

func TestReshapeIsAViewAndChecks(t *testing.T) {
	x := FromFloat32(seqF32(6), 2, 3)
	y := Reshape(x, 3, -1)
	x.F32()[0] = 42
	if y.F32()[0] != 42 {
		t.Error("Reshape did not share storage")
	}
	if s := Squeeze(Unsqueeze(x, -1), 2).Shape(); !sameShape(s, []int{2, 3}) {
		t.Errorf("squeeze(unsqueeze) shape %v", s)
	}
	if s := Squeeze(x, 0).Shape(); !sameShape(s, []int{2, 3}) {
		t.Errorf("squeeze of a non-1 dim changed the shape to %v", s)
	}
	if s := Flatten(Scalar(Float32, 1), 0, -1).Shape(); !sameShape(s, []int{1}) {
		t.Errorf("flatten of a scalar %v", s)
	}
	if s := Reshape(Zeros(Bool, 4, 0), 0, 7).Shape(); !sameShape(s, []int{0, 7}) {
		t.Errorf("empty reshape %v", s)
	}
	for _, c := range []struct {
		fn   func()
		want string
	}{
		{func() { Reshape(x, 4, -1) }, "cannot reshape [2 3]"},
		{func() { Reshape(x, -1, -1) }, "more than one -1"},
		{func() { Permute(x, 0, 0) }, "not a permutation"},
		{func() { Permute(x, 0) }, "has 1 entries"},
		{func() { Expand(x, 4, 3) }, "cannot expand"},
		{func() { Concat(0, x, Zeros(Float32, 2, 4)) }, "shapes [2 3] and [2 4] differ in dim 1"},
		{func() { Concat(0, x, Zeros(Float64, 2, 3)) }, "mixed dtypes"},
		{func() { Split(x, 1, 1, 1) }, "add up to 2"},
		{func() { IndexSelect(x, 1, FromInt64([]int64{3})) }, "index 3 (at position 0) out of range for size 3"},
		{func() { Gather(x, 0, FromInt64([]int64{0, 2}, 1, 2)) }, "index 2"},
		{func() { Embedding(x, FromInt64([]int64{0, 5})) }, "id 5 (at position 1) out of range for vocabulary size 2"},
		{func() { Embedding(x, FromInt64([]int64{-1})) }, "id -1"},
		{func() { Embedding(x, FromFloat32([]float32{0})) }, "index must be int64"},
		{func() { LayerNorm(x, Ones(Float32, 2), nil, 1e-5) }, "weight shape [2] does not match"},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, c.want) {
					t.Errorf("panic %v, want it to contain %q", r, c.want)
				}
			}()
			c.fn()
		}()
	}
}

// TestEmbeddingBackwardLarge checks the parallel row-partitioned scatter-add
// against a serial sum, with repeats and a padding row.
func TestEmbeddingBackwardLarge(t *testing.T) {
	const v, d = 1000, 64
	rng := NewRNG(1)
	w := RandN(rng, Float32, 1, v, d).SetRequiresGrad(true)
	ids := make([]int64, 4*300)
	for i := range ids {
		ids[i] = int64(rng.Uint64() % 50) // many repeats
	}
	ids[7] = 999
	out := EmbeddingPadded(w, FromInt64(ids, 4, 300), 3)
	g := RandN(rng, Float32, 1, out.Shape()...)
	out.BackwardWith(g)
	want := make([]float64, v*d)
	gd := g.Float32s()
	for k, id := range ids {
		if id == 3 {
			continue
		}
		for j := 0; j < d; j++ {
			want[int(id)*d+j] += float64(gd[k*d+j])
		}
	}
	assertClose(t, "embedding grad", w.Grad().Float64s(), want, 1e-5, 1e-5)
	// IndexSelect with several outer steps (parallel over them).
	x := RandN(rng, Float64, 1, 8, 50, 40).SetRequiresGrad(true)
	idx := []int64{3, 3, 49, 0, 3}
	y := IndexSelect(x, 1, FromInt64(idx))
	gy := RandN(rng, Float64, 1, y.Shape()...)
	y.BackwardWith(gy)
	want = make([]float64, 8*50*40)
	gv := gy.Float64s()
	for o := 0; o < 8; o++ {
		for k, id := range idx {
			for j := 0; j < 40; j++ {
				want[(o*50+int(id))*40+j] += gv[(o*5+k)*40+j]
			}
		}
	}
	assertClose(t, "index_select grad", x.Grad().Float64s(), want, 1e-12, 1e-12)
}

// TestLayerNormLargeFloat32 compares the float32 kernels at BERT width, over
// many rows (parallel chunks, per-chunk partial sums), with the float64 ones.
func TestLayerNormLargeFloat32(t *testing.T) {
	rng := NewRNG(2)
	const rows, d = 200, 768
	x := AddScalar(RandN(rng, Float32, 1, rows, d), 0.3)
	w := AddScalar(RandN(rng, Float32, 0.1, d), 1)
	b := RandN(rng, Float32, 0.1, d)
	g := RandN(rng, Float32, 1, rows, d)
	run := func(dt DType) (out, gx, gw, gb []float64) {
		xs, ws, bs := Detach(To(x, dt)).SetRequiresGrad(true), Detach(To(w, dt)).SetRequiresGrad(true), Detach(To(b, dt)).SetRequiresGrad(true)
		y := LayerNorm(xs, ws, bs, 1e-12)
		y.BackwardWith(To(g, dt))
		return y.Float64s(), xs.Grad().Float64s(), ws.Grad().Float64s(), bs.Grad().Float64s()
	}
	o32, gx32, gw32, gb32 := run(Float32)
	o64, gx64, gw64, gb64 := run(Float64)
	assertClose(t, "out", o32, o64, 1e-5, 1e-5)
	assertClose(t, "grad x", gx32, gx64, 1e-5, 1e-5)
	assertClose(t, "grad weight", gw32, gw64, 1e-5, 1e-5)
	assertClose(t, "grad bias", gb32, gb64, 1e-5, 1e-5)
}

func TestSliceConcatIntBoolNoGrad(t *testing.T) {
	xi := FromInt64([]int64{1, 2, 3, 4, 5, 6}, 2, 3)
	c := Concat(0, Slice(xi, 1, -1, 3), Slice(xi, 1, 0, 1))
	if got := c.Int64s(); !sameShape(c.Shape(), []int{4, 1}) || !slices.Equal(got, []int64{3, 6, 1, 4}) {
		t.Errorf("int64 slice/concat %v %v", c.Shape(), got)
	}
	if c.RequiresGrad() {
		t.Error("int64 result requires grad")
	}
	e := Expand(FromBool([]bool{true, false}, 2, 1), 2, 3)
	if got := e.Bools(); !slices.Equal(got, []bool{true, true, true, false, false, false}) {
		t.Errorf("bool expand %v", got)
	}
	// An empty slice keeps the other dims.
	if s := Slice(xi, 1, 2, 1).Shape(); !sameShape(s, []int{2, 0}) {
		t.Errorf("empty slice shape %v", s)
	}
}

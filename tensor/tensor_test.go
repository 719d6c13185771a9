package tensor

import (
	"strings"
	"testing"
)

func TestConstructorsAndAccessors(t *testing.T) {
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if got := x.Shape(); !sameShape(got, []int{2, 3}) || x.NumElems() != 6 || x.Rank() != 2 || x.Dim(-1) != 3 {
		t.Fatalf("shape %v rank %d", got, x.Rank())
	}
	if got := x.Int64s(); got[5] != 6 {
		t.Fatalf("Int64s %v", got)
	}
	s := Scalar(Float64, 2.5)
	if len(s.Shape()) != 0 || s.Item() != 2.5 {
		t.Fatalf("scalar %v", s)
	}
	if z := FromFloat64([]float64{7}, s.Shape()...); z.Rank() != 0 {
		t.Fatalf("empty shape should give 0-d, got %v", z.Shape())
	}
	b := FromBool([]bool{true, false}, 2)
	if f := b.Float32s(); f[0] != 1 || f[1] != 0 {
		t.Fatalf("bool to float %v", f)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "cannot have shape") {
			t.Fatalf("want a shape panic, got %v", r)
		}
	}()
	FromFloat32([]float32{1, 2, 3}, 2, 2)
}

func TestString(t *testing.T) {
	x := FromInt64([]int64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 9)
	got := x.String()
	if !strings.Contains(got, "[1, 2, 3, ..., 7, 8, 9]") || !strings.Contains(got, "dtype=int64") {
		t.Fatalf("String() = %s", got)
	}
	w := Zeros(Float32, 2, 2).SetRequiresGrad(true)
	if !strings.Contains(Add(w, w).String(), "grad_fn=Add") {
		t.Fatalf("missing grad_fn in %s", Add(w, w))
	}
}

func TestBackwardAccumulatesAndReleases(t *testing.T) {
	w := FromFloat32([]float32{1, 2}, 2).SetRequiresGrad(true)
	for i := 0; i < 2; i++ {
		y := Sum(Mul(w, w)) // d/dw = 2w
		y.Backward()
		if y.node != nil {
			t.Fatal("graph not released after Backward")
		}
	}
	if g := w.Grad().Float32s(); g[0] != 4 || g[1] != 8 {
		t.Fatalf("accumulated grad %v, want [4 8]", g)
	}
	w.ZeroGrad()
	if w.Grad() != nil {
		t.Fatal("ZeroGrad kept the gradient")
	}
	// The same tensor used twice along different paths (fan-in).
	x := FromFloat64([]float64{3}, 1).SetRequiresGrad(true)
	y := Add(Mul(x, x), Mul(AddScalar(x, 0), x)) // 2x² -> 4x
	Sum(y).Backward()
	if g := x.Grad().Item(); g != 12 {
		t.Fatalf("fan-in grad %v, want 12", g)
	}
}

func TestNoGrad(t *testing.T) {
	w := Ones(Float32, 3).SetRequiresGrad(true)
	var y *Tensor
	NoGrad(func() { y = MulScalar(w, 2) })
	if y.RequiresGrad() || y.node != nil {
		t.Fatal("op recorded inside NoGrad")
	}
	if !GradEnabled() {
		t.Fatal("NoGrad did not restore recording")
	}
}

func TestArenaReusesBuffersAndCatchesUseAfterRelease(t *testing.T) {
	w := Ones(Float32, 64, 64).SetRequiresGrad(true)
	step := func() (*Tensor, float64) {
		a := BeginArena()
		defer a.Release()
		h := MatMul(w, w)
		loss := Sum(Mul(h, h))
		loss.Backward()
		return h, loss.Item()
	}
	h, l1 := step()
	_, l2 := step()
	if l1 != l2 {
		t.Fatalf("steps differ: %v vs %v", l1, l2)
	}
	if w.Grad() == nil || w.Grad().data == nil {
		t.Fatal("leaf gradient was released with the arena")
	}
	allocs := testing.AllocsPerRun(5, func() { step() })
	if allocs > 200 {
		t.Errorf("steady step made %v allocations", allocs)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("reading a released tensor did not panic")
		}
	}()
	h.Float32s()
}

func TestKeepSurvivesRelease(t *testing.T) {
	a := BeginArena()
	x := Full(Float32, 3, 4)
	v := Detach(x)
	Keep(v)
	a.Release()
	if got := v.Float32s(); got[0] != 3 {
		t.Fatalf("kept view %v", got)
	}
}

func TestRNGDeterministicAndDistributed(t *testing.T) {
	a := RandN(NewRNG(7), Float64, 2, 100000).Float64s()
	b := RandN(NewRNG(7), Float64, 2, 100000).Float64s()
	var mean, sq float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed gave different values")
		}
		mean += a[i]
		sq += a[i] * a[i]
	}
	mean /= float64(len(a))
	std := sq/float64(len(a)) - mean*mean
	if mean > 0.03 || mean < -0.03 || std < 3.9 || std > 4.1 {
		t.Fatalf("mean %v variance %v, want 0 and 4", mean, std)
	}
	r := NewRNG(1)
	u := Uniform(r, Float32, -1, 1, 1000).Float32s()
	for _, v := range u {
		if v < -1 || v >= 1 {
			t.Fatalf("uniform value %v out of range", v)
		}
	}
	if _, c := r.State(); c != 1000 {
		t.Fatalf("counter %d after 1000 draws", c)
	}
}

func TestZeroGradReusesBuffer(t *testing.T) {
	w := Ones(Float32, 1000).SetRequiresGrad(true)
	Sum(MulScalar(w, 2)).Backward()
	first := w.Grad()
	w.ZeroGrad()
	if w.Grad() != nil {
		t.Fatal("Grad after ZeroGrad")
	}
	Sum(MulScalar(w, 3)).Backward()
	if w.Grad() != first || w.Grad().Float32s()[7] != 3 {
		t.Fatalf("second gradient %v (same buffer: %v)", w.Grad().Float32s()[7], w.Grad() == first)
	}
}

func TestSetGrad(t *testing.T) {
	w := Zeros(Float32, 3).SetRequiresGrad(true)
	g := FromFloat32([]float32{1, 2, 3})
	w.SetGrad(g)
	g.F32()[0] = 9 // the gradient is a copy
	if got := w.Grad().Float32s(); got[0] != 1 || got[2] != 3 {
		t.Fatalf("SetGrad kept %v", got)
	}
	Sum(MulScalar(w, 2)).Backward() // accumulates onto the set gradient
	if got := w.Grad().Float32s(); got[1] != 4 {
		t.Fatalf("after Backward %v, want [3 4 5]", got)
	}
	w.SetGrad(nil)
	if w.Grad() != nil {
		t.Fatal("SetGrad(nil) kept the gradient")
	}
}

package tensor

import "testing"

// poolState reads the arena accounting under its lock.
func poolState() (pooledN, inUseN, peakN int) {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	return pooled, inUse, peak
}

func TestSizeClass(t *testing.T) {
	for n := 0; n < 1<<16; n++ {
		c := sizeClass(n)
		if c < n || (n > 1024 && float64(c) > 1.125*float64(n)) || (n <= 1024 && c-n >= 64) {
			t.Fatalf("sizeClass(%d) = %d", n, c)
		}
		if floorClass(c) != c {
			t.Fatalf("floorClass(sizeClass(%d) = %d) = %d: not a class", n, c, floorClass(c))
		}
		if f := floorClass(n); f > n || sizeClass(f) != f {
			t.Fatalf("floorClass(%d) = %d", n, f)
		}
	}
}

// A step whose shapes change every time (masked LM's count of masked
// tokens) must not grow the pool without bound: before size classes and
// the cap, every new length added its buffers to the pool for good.
func TestArenaPoolBoundedUnderChangingShapes(t *testing.T) {
	step := func(n int) {
		a := BeginArena()
		x := Full(Float32, 1, n, 64)
		y := Add(x, x)
		_ = Mul(y, y)
		a.Release()
	}
	step(600)
	p0, _, _ := poolState()
	for i := range 300 {
		step(560 + i%97*3) // 97 different lengths
	}
	p, use, peakN := poolState()
	if use != 0 {
		t.Fatalf("%d float32s still counted in use after every arena was released", use)
	}
	if p > peakN {
		t.Fatalf("pool holds %d float32s, more than the peak in use %d", p, peakN)
	}
	// Three buffers of at most 851x64 (+12.5%) per step; the old pool kept
	// three per length: 97 lengths x 3 x ~45 000.
	if limit := 2 * 3 * sizeClass(851*64); p > limit+p0 {
		t.Fatalf("pool grew to %d float32s (limit %d)", p, limit+p0)
	}
}

// The same shape step after step reuses the same buffers.
func TestArenaReusesBuffers(t *testing.T) {
	a := BeginArena()
	x := Full(Float32, 2, 1000, 3)
	p := &x.F32()[0]
	a.Release()
	b := BeginArena()
	defer b.Release()
	y := Full(Float32, 3, 1000, 3)
	if &y.F32()[0] != p {
		t.Fatal("a buffer of the same length was not reused")
	}
	if len(y.F32()) != 3000 || y.F32()[2999] != 3 {
		t.Fatalf("reused buffer: len %d, last %v", len(y.F32()), y.F32()[2999])
	}
}

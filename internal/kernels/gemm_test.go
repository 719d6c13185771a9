package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"testing"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// TestMain starts the worker pool at the process's full GOMAXPROCS before
// go test -cpu lowers it, so -cpu 1,2 runs both the serial and the parallel
// paths (the pool is sized once per process; Sgemm caps its parallelism at
// the current GOMAXPROCS). The parallel task grid is also exercised directly
// through sgemmParallel.
func TestMain(m *testing.M) {
	parallel.Workers()
	os.Exit(m.Run())
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func absSlice(s []float32) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = float32(math.Abs(float64(v)))
	}
	return o
}

// gemmCase is one Sgemm problem with its stored operand shapes.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra leading-dimension padding
	nanC           bool
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// operands builds A, B, C with leading dimensions padded by tc.pad.
func (tc gemmCase) operands(r *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc = ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	a = randSlice(r, max(ar*lda-tc.pad, 1))
	b = randSlice(r, max(br*ldb-tc.pad, 1))
	c = randSlice(r, tc.m*ldc)
	if tc.nanC {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	return
}

// check runs fn on tc and compares it with sgemmRef. The error bound is
// relative to |alpha|*|A|*|B| + |beta*C| per element and grows with k.
func check(t *testing.T, r *rand.Rand, tc gemmCase, fn func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	t.Helper()
	a, lda, b, ldb, c, ldc := tc.operands(r)
	want := append([]float32(nil), c...)
	sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	bound := make([]float32, len(c))
	sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, float32(math.Abs(float64(tc.alpha))), absSlice(a), lda, absSlice(b), ldb, 0, bound, ldc)
	got := append([]float32(nil), c...)
	fn(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
	tol := 2e-7 * float64(tc.k+8)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			idx := i*ldc + j
			g, w := float64(got[idx]), float64(want[idx])
			if j >= tc.n {
				// Padding between rows must be left untouched.
				if math.Float32bits(got[idx]) != math.Float32bits(c[idx]) {
					t.Fatalf("%v: padding C[%d,%d] changed", tc, i, j)
				}
				continue
			}
			if math.IsNaN(g) || math.IsInf(g, 0) {
				t.Fatalf("%v: C[%d,%d] = %v, want %v", tc, i, j, g, w)
			}
			scale := float64(bound[idx]) + math.Abs(float64(tc.beta)*float64(c[idx])) + 1e-6
			if tc.beta == 0 {
				scale = float64(bound[idx]) + 1e-6
			}
			if math.Abs(g-w) > tol*scale {
				t.Fatalf("%v: C[%d,%d] = %v, want %v (rel err %.3g > %.3g)", tc, i, j, g, w, math.Abs(g-w)/scale, tol)
			}
		}
	}
}

// sgemmParallel runs the multi-task path even on one worker, so the task
// grid is tested whatever GOMAXPROCS is.
func sgemmParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemmPool.Get().(*gemm)
	g.set(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	g.run(true)
	g.release()
	gemmPool.Put(g)
}

var scalars = []struct {
	alpha, beta float32
	nanC        bool
}{
	{1, 0, false},
	{1, 1, false},
	{-1.5, 0.5, false},
	{0.75, 0, true}, // beta == 0 must ignore NaNs in C
	{2, -1, false},
}

var transCombos = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

func TestSgemmSmallShapes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	dims := []int{1, 2, 3, 5, 6, 7, 11, 13, 16, 17, 23, 31, 32, 33, 47, 64, 70}
	ks := []int{1, 2, 4, 5, 17, 64, 70}
	i := 0
	for _, tr := range transCombos {
		for _, m := range dims {
			for _, n := range dims {
				for _, k := range ks {
					s := scalars[i%len(scalars)]
					tc := gemmCase{tr[0], tr[1], m, n, k, s.alpha, s.beta, (i % 3) * 3, s.nanC}
					check(t, r, tc, Sgemm)
					i++
				}
			}
		}
	}
}

func TestSgemmLargeShapes(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	shapes := [][3]int{
		{257, 131, 513},
		{300, 200, 1000}, // several k blocks, ragged last one
		{1000, 17, 300},  // narrow C
		{5, 2000, 300},   // few rows: the columns get split
		{13, 2100, 2048}, // more than one packed B chunk
		{150, 290, 256},  // exactly one k block, ragged A blocks
	}
	for i, sh := range shapes {
		for j, tr := range transCombos {
			s := scalars[(i+j)%len(scalars)]
			tc := gemmCase{tr[0], tr[1], sh[0], sh[1], sh[2], s.alpha, s.beta, (i + j) % 2 * 5, s.nanC}
			check(t, r, tc, Sgemm)
			check(t, r, tc, sgemmParallel)
		}
	}
}

func TestSgemmParallelGrid(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	dims := []int{1, 6, 7, 16, 17, 40, 97}
	i := 0
	for _, tr := range transCombos {
		for _, m := range dims {
			for _, n := range dims {
				s := scalars[i%len(scalars)]
				tc := gemmCase{tr[0], tr[1], m, n, 33, s.alpha, s.beta, i % 2, s.nanC}
				check(t, r, tc, sgemmParallel)
				i++
			}
		}
	}
}

func TestSgemmZeroK(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	if c[0] != 0.5 || c[3] != 2 {
		t.Fatalf("k=0 beta=0.5: got %v", c)
	}
	nan := float32(math.NaN())
	c = []float32{nan, nan, nan, nan}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0 beta=0: got %v", c)
		}
	}
}

func TestSgemmBatched(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	type bcase struct {
		batch, m, n, k int
	}
	cases := []bcase{{7, 5, 9, 3}, {12, 33, 20, 17}, {5, 128, 64, 64}, {3, 300, 260, 200}}
	for ci, bc := range cases {
		for ti, tr := range transCombos {
			for bcast := 0; bcast < 3; bcast++ {
				s := scalars[(ci+ti+bcast)%len(scalars)]
				tc := gemmCase{tr[0], tr[1], bc.m, bc.n, bc.k, s.alpha, s.beta, ti % 2 * 2, s.nanC}
				a, lda, b, ldb, c, ldc := tc.operands(r)
				sa, sb, sc := len(a), len(b), len(c)
				// bcast 1 broadcasts A, bcast 2 broadcasts B.
				nA, nB := bc.batch, bc.batch
				if bcast == 1 {
					sa, nA = 0, 1
				}
				if bcast == 2 {
					sb, nB = 0, 1
				}
				as := make([]float32, 0, sa*bc.batch+len(a))
				for i := 0; i < nA; i++ {
					as = append(as, randSlice(r, len(a))...)
				}
				bs := make([]float32, 0, sb*bc.batch+len(b))
				for i := 0; i < nB; i++ {
					bs = append(bs, randSlice(r, len(b))...)
				}
				cs := make([]float32, 0, sc*bc.batch)
				for i := 0; i < bc.batch; i++ {
					cs = append(cs, c...)
				}
				want := append([]float32(nil), cs...)
				for i := 0; i < bc.batch; i++ {
					sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, as[i*sa:], lda, bs[i*sb:], ldb, tc.beta, want[i*sc:], ldc)
				}
				SgemmBatched(bc.batch, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, as, lda, sa, bs, ldb, sb, tc.beta, cs, ldc, sc)
				tol := 2e-7 * float64(tc.k+8)
				for i := range cs {
					w, g := float64(want[i]), float64(cs[i])
					if math.IsNaN(w) && math.IsNaN(g) {
						continue // NaN padding between rows, left alone
					}
					if math.IsNaN(g) || math.Abs(g-w) > tol*float64(tc.k)*4 {
						t.Fatalf("batched %+v %v bcast=%d: index %d got %v want %v", bc, tc, bcast, i, g, w)
					}
				}
			}
		}
	}
}

func TestSgemmAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const m, n, k = 256, 256, 256
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	allocs := testing.AllocsPerRun(10, func() {
		Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	})
	// parallel.For allocates its task descriptor on multi-worker runs.
	limit := 0.0
	if workers() > 1 {
		limit = 4
	}
	if allocs > limit {
		t.Fatalf("Sgemm allocates %v times per call, want <= %v", allocs, limit)
	}
}

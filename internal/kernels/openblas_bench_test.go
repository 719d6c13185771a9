//go:build openblas && cgo

package kernels

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/kiln-ml/kiln/internal/kernels/internal/openblas"
)

// These benchmarks run the shapes of gemm_bench_test.go through OpenBLAS
// for a side-by-side comparison:
//
//	go test -tags openblas -run XXX -bench . -cpu 1,2 ./internal/kernels/
//
// OpenBLAS gets as many threads as GOMAXPROCS.

// setOpenBLASThreads matches the OpenBLAS thread count to GOMAXPROCS.
func setOpenBLASThreads() { openblas.SetThreads(runtime.GOMAXPROCS(0)) }

func BenchmarkOpenBLASSgemm(b *testing.B) { benchGemm(b, openblas.Sgemm, setOpenBLASThreads) }

func BenchmarkOpenBLASSgemmBatched(b *testing.B) {
	benchBatchedGemm(b, openblas.SgemmBatched, setOpenBLASThreads)
}

// TestOpenBLASAgrees checks the comparison is fair: OpenBLAS computes what
// Sgemm computes.
func TestOpenBLASAgrees(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, tr := range transCombos {
		tc := gemmCase{tr[0], tr[1], 67, 45, 300, 1.5, 0.5, 3, false}
		a, lda, bm, ldb, c, ldc := tc.operands(r)
		want := append([]float32(nil), c...)
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, bm, ldb, tc.beta, want, ldc)
		openblas.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, bm, ldb, tc.beta, c, ldc)
		for i := range c {
			if math.Abs(float64(c[i]-want[i])) > 1e-3 {
				t.Fatalf("%v: index %d: OpenBLAS %v, Sgemm %v", tc, i, c[i], want[i])
			}
		}
	}
}

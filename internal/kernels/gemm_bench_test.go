package kernels

import (
	"fmt"
	"math/rand"
	"testing"
)

// benchShapes are the M x K x N products benchmarked (C[M,N] = A[M,K] B[K,N]):
// the linear layers of a 768-wide transformer over 2048 tokens.
var benchShapes = [][3]int{
	{2048, 256, 256},
	{2048, 256, 1024},
	{2048, 768, 768},
	{2048, 768, 3072},
	{2048, 3072, 768},
}

// benchBatched are the attention products: batch x (M x K @ K x N).
var benchBatched = [][4]int{
	{192, 128, 64, 128}, // Q @ K^T per head
	{192, 128, 128, 64}, // P @ V per head
}

// benchTrans are the operand layouts: NN, NT (B stored [N,K], as linear
// layers and Q@K^T call it) and TN (A stored [K,M], as weight gradients call
// it).
var benchTrans = []struct {
	name           string
	transA, transB bool
}{{"NN", false, false}, {"NT", false, true}, {"TN", true, false}}

// sgemmFunc is the Sgemm signature, so the OpenBLAS benchmarks can reuse
// the same drivers.
type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// benchGemm benchmarks fn on every shape and layout; setup, if not nil,
// runs at the start of every sub-benchmark (go test -cpu switches
// GOMAXPROCS per sub-benchmark, not per top-level benchmark).
func benchGemm(b *testing.B, fn sgemmFunc, setup func()) {
	for _, sh := range benchShapes {
		m, k, n := sh[0], sh[1], sh[2]
		for _, tr := range benchTrans {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, k, n, tr.name), func(b *testing.B) {
				if setup != nil {
					setup()
				}
				r := rand.New(rand.NewSource(1))
				a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				lda, ldb := k, n
				if tr.transA {
					lda = m
				}
				if tr.transB {
					ldb = k
				}
				fn(tr.transA, tr.transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					fn(tr.transA, tr.transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// batchedFunc is the SgemmBatched signature.
type batchedFunc func(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int)

// benchBatchedGemm benchmarks fn on the attention shapes; setup as in
// benchGemm.
func benchBatchedGemm(b *testing.B, fn batchedFunc, setup func()) {
	for _, sh := range benchBatched {
		batch, m, k, n := sh[0], sh[1], sh[2], sh[3]
		for _, tr := range benchTrans {
			b.Run(fmt.Sprintf("%dx%dx%dx%d/%s", batch, m, k, n, tr.name), func(b *testing.B) {
				if setup != nil {
					setup()
				}
				r := rand.New(rand.NewSource(1))
				a, bm, c := randSlice(r, batch*m*k), randSlice(r, batch*k*n), make([]float32, batch*m*n)
				lda, ldb := k, n
				if tr.transA {
					lda = m
				}
				if tr.transB {
					ldb = k
				}
				run := func() {
					fn(batch, tr.transA, tr.transB, m, n, k, 1, a, lda, m*k, bm, ldb, k*n, 0, c, n, m*n)
				}
				run()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.ReportMetric(2*float64(batch)*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkSgemm(b *testing.B) { benchGemm(b, Sgemm, nil) }

func BenchmarkSgemmBatched(b *testing.B) { benchBatchedGemm(b, SgemmBatched, nil) }

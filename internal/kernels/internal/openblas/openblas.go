//go:build openblas && cgo

// Package openblas wraps OpenBLAS's cblas_sgemm for the opt-in comparison
// benchmarks of package kernels (openblas_bench_test.go). It is a separate
// package because test files cannot use cgo and a cgo package cannot hold Go
// assembly. Build with -tags openblas after apt-get install libopenblas-dev.
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
*/
import "C"

import "unsafe"

// SetThreads sets the OpenBLAS thread count.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Threads returns the OpenBLAS thread count.
func Threads() int { return int(C.openblas_get_num_threads()) }

// Sgemm is kernels.Sgemm computed by OpenBLAS's cblas_sgemm.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// SgemmBatched loops cblas_sgemm over the batch, as callers of a
// BLAS without a batched entry point do.
func SgemmBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	for i := 0; i < batch; i++ {
		Sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
	}
}
